package mail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// FileSender writes each message as one RFC 5322 file, ID.eml, mode 0600,
// in a folder: the zero-setup outbox, and SMTP_URL=file:PATH. A message is
// written to a temporary file and renamed into place, so a reader never
// sees half of one.
type FileSender struct {
	dir string
}

// NewFileSender creates dir (mode 0700: the files hold sign-in links) if
// need be.
func NewFileSender(dir string) (*FileSender, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("mail outbox %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("mail outbox: %w", err)
	}
	return &FileSender{dir: abs}, nil
}

// Dir is the absolute folder the files go to, for the start-up log.
func (f *FileSender) Dir() string { return f.dir }

// Send writes m to Dir()/ID.eml.
func (f *FileSender) Send(_ context.Context, m Message) error {
	if m.ID == "" || strings.ContainsAny(m.ID, `/\`) || strings.HasPrefix(m.ID, ".") {
		return fmt.Errorf("%w: unusable message id %q", ErrRejected, m.ID)
	}
	g, err := m.msg()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(f.dir, ".writing-*")
	if err != nil {
		return fmt.Errorf("write mail %s: %w", m.ID, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write mail %s: %w", m.ID, err)
	}
	if _, err := g.WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write mail %s: %w", m.ID, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write mail %s: %w", m.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write mail %s: %w", m.ID, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(f.dir, m.ID+".eml")); err != nil {
		return fmt.Errorf("write mail %s: %w", m.ID, err)
	}
	return nil
}
