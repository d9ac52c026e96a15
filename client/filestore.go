package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileStore keeps tokens in a JSON file, for command-line tools that
// stay signed in between runs. The file is written whole to a temporary
// file and renamed over the old one, so a reader never sees half a pair,
// and it has mode 0600: the refresh token is a credential.
//
// Its lock is an flock on a neighbouring file (the token file's path with
// ".lock" appended) on Linux, macOS and the BSDs, so two processes of a
// CLI do not both spend one refresh token or overwrite each other's newer
// pair. Elsewhere the lock only serialises the Clients of one process.
type FileStore struct {
	path string
	mu   lockChan
}

var (
	_ Store  = (*FileStore)(nil)
	_ Locker = (*FileStore)(nil)
)

// NewFileStore returns a FileStore that keeps its tokens at path. The
// directory must exist; the file is created at the first Save.
func NewFileStore(path string) *FileStore {
	return &FileStore{path: path}
}

// Path returns the token file's path.
func (f *FileStore) Path() string { return f.path }

// Load reads the file; a missing file means no tokens.
func (f *FileStore) Load(context.Context) (Tokens, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return Tokens{}, nil
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("client: read token file: %w", err)
	}
	var t Tokens
	if err := json.Unmarshal(b, &t); err != nil {
		return Tokens{}, fmt.Errorf("client: token file %s: %w", f.path, err)
	}
	return t, nil
}

// Save writes t to the file, atomically, with mode 0600.
func (f *FileStore) Save(_ context.Context, t Tokens) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(f.path)
	if dir == "" {
		dir = "."
	}
	// CreateTemp makes the file 0600 before a byte is written.
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("client: write token file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("client: write token file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("client: write token file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("client: write token file: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("client: write token file: %w", err)
	}
	return nil
}

// Clear removes the file.
func (f *FileStore) Clear(context.Context) error {
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("client: remove token file: %w", err)
	}
	return nil
}

// Lock takes the store's lock: first among this FileStore's own callers,
// then the file lock shared with other processes.
func (f *FileStore) Lock(ctx context.Context) (func(), error) {
	unlockMu, err := f.mu.lock(ctx)
	if err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(f.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		unlockMu()
		return nil, fmt.Errorf("client: open lock file: %w", err)
	}
	// lockFile owns lf when it fails.
	if err := lockFile(ctx, lf); err != nil {
		unlockMu()
		return nil, fmt.Errorf("client: lock token file: %w", err)
	}
	return func() {
		unlockFile(lf)
		lf.Close()
		unlockMu()
	}, nil
}
