package config

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

const redacted = "[redacted]"

// Secret is key material. However it is printed (String, GoString, any fmt
// verb), logged (slog) or marshalled (JSON, text), it shows as [redacted],
// so a stray log line cannot leak it. Convert it to []byte to use it.
type Secret []byte

// String returns [redacted], or (unset) for an empty secret.
func (s Secret) String() string {
	if len(s) == 0 {
		return "(unset)"
	}
	return redacted
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// Format writes String for every verb, %x and %s included.
func (s Secret) Format(f fmt.State, verb rune) { io.WriteString(f, s.String()) }

// LogValue is String, for slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText is String, for encoding/json and other text encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Equal compares two secrets in constant time.
func (s Secret) Equal(t Secret) bool { return subtle.ConstantTimeCompare(s, t) == 1 }

// SecretsFileName is the file, beside the SQLite database, that keeps the
// generated secrets.
const SecretsFileName = "tokengate.secrets"

// maxSecretsFile bounds what is read of the secrets file.
const maxSecretsFile = 64 << 10

// RandomSecrets returns two new, different secrets from crypto/rand: 48
// random bytes each, base64url-encoded, so that they can be copied into
// ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET as they are.
func RandomSecrets() (access, refresh Secret, err error) {
	gen := func() (Secret, error) {
		b := make([]byte, 48)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("generate secret: %w", err)
		}
		return Secret(base64.RawURLEncoding.EncodeToString(b)), nil
	}
	if access, err = gen(); err != nil {
		return nil, nil, err
	}
	if refresh, err = gen(); err != nil {
		return nil, nil, err
	}
	if access.Equal(refresh) {
		return nil, nil, errors.New("generate secrets: crypto/rand returned the same bytes twice")
	}
	return access, refresh, nil
}

// LoadOrCreateSecrets returns the secrets kept in SecretsFileName in dir,
// creating dir and the file (mode 0600, written to a temporary file and then
// published atomically) with RandomSecrets when there is none; created
// reports that. An existing file that group or others may read or write is
// refused rather than used: its secrets may already be known.
func LoadOrCreateSecrets(dir string) (access, refresh Secret, created bool, err error) {
	path := filepath.Join(dir, SecretsFileName)
	access, refresh, err = readSecretsFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return access, refresh, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, false, fmt.Errorf("create secrets directory: %w", err)
	}
	if access, refresh, err = RandomSecrets(); err != nil {
		return nil, nil, false, err
	}
	content := "# tokengate token secrets, generated because ACCESS_TOKEN_SECRET and\n" +
		"# REFRESH_TOKEN_SECRET were not set. Keep this file private (mode 0600).\n" +
		"# Deleting it signs everyone out.\n" +
		"ACCESS_TOKEN_SECRET=" + string(access) + "\n" +
		"REFRESH_TOKEN_SECRET=" + string(refresh) + "\n"
	won, err := publish(path, []byte(content))
	if err != nil {
		return nil, nil, false, err
	}
	if !won {
		// Another process (the server and an operator command starting
		// together) published first; its secrets are the ones in use.
		access, refresh, err = readSecretsFile(path)
		return access, refresh, false, err
	}
	return access, refresh, true, nil
}

// readSecretsFile reads and checks a secrets file. Its errors name the file
// and the line, never a value.
func readSecretsFile(path string) (access, refresh Secret, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("secrets file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("secrets file %s is not a regular file", path)
	}
	// Windows has no such permission bits; its ACLs are the user's affair.
	if perm := info.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, nil, fmt.Errorf("secrets file %s has mode %04o: group or others may read or write it, so its secrets may be known; "+
			"if they are not, run chmod 600 %s, otherwise delete it (which signs everyone out)", path, perm, path)
	}
	sc := bufio.NewScanner(io.LimitReader(f, maxSecretsFile))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		var dst *Secret
		switch name {
		case "ACCESS_TOKEN_SECRET":
			dst = &access
		case "REFRESH_TOKEN_SECRET":
			dst = &refresh
		}
		if !ok || dst == nil {
			return nil, nil, fmt.Errorf("secrets file %s, line %d: want ACCESS_TOKEN_SECRET=… or REFRESH_TOKEN_SECRET=…", path, n)
		}
		if len(value) < MinSecretBytes {
			return nil, nil, fmt.Errorf("secrets file %s, line %d: %s must be at least %d bytes", path, n, name, MinSecretBytes)
		}
		*dst = Secret(value)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read secrets file %s: %w", path, err)
	}
	switch {
	case access == nil || refresh == nil:
		return nil, nil, fmt.Errorf("secrets file %s must set both ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET", path)
	case access.Equal(refresh):
		return nil, nil, fmt.Errorf("secrets file %s: ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET must be different", path)
	}
	return access, refresh, nil
}

// publish writes data to a temporary file of mode 0600 beside path, syncs
// it, and then links it into place, so that path either does not exist or
// holds all of data. won is false when path appeared meanwhile; it is then
// left alone. Where hard links are not supported, it renames instead.
func publish(path string, data []byte) (won bool, err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+SecretsFileName+".*")
	if err != nil {
		return false, fmt.Errorf("create secrets file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		// CreateTemp already uses 0600; say so rather than rely on it.
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("write secrets file: %w", err)
	}
	// A link, unlike a rename, never replaces a file another process
	// published meanwhile.
	err = os.Link(tmp.Name(), path)
	switch {
	case errors.Is(err, fs.ErrExist):
		return false, nil
	case err != nil:
		if err := os.Rename(tmp.Name(), path); err != nil {
			return false, fmt.Errorf("write secrets file: %w", err)
		}
	}
	syncDir(dir)
	return true, nil
}

// syncDir makes a new directory entry durable. Not every platform can sync
// a directory; the file's own contents are already synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ResolveSecrets fills in the secrets when GenerateSecrets is set: those
// kept beside the SQLite database file (see LoadOrCreateSecrets), or fresh
// ones for an in-memory database, whose sessions do not outlive the process
// either. file is where they are kept ("" for in-memory) and created
// reports new secrets, so main can warn. It does nothing when secrets were
// configured.
func (c *Config) ResolveSecrets() (file string, created bool, err error) {
	if !c.GenerateSecrets {
		return "", false, nil
	}
	dir, memory := sqliteDir(c.SQLitePath)
	if memory {
		c.AccessTokenSecret, c.RefreshTokenSecret, err = RandomSecrets()
		created = true
	} else {
		file = filepath.Join(dir, SecretsFileName)
		c.AccessTokenSecret, c.RefreshTokenSecret, created, err = LoadOrCreateSecrets(dir)
	}
	if err != nil {
		return "", false, err
	}
	c.GenerateSecrets = false
	return file, created, nil
}

// sqliteDir returns the directory of an SQLite database path, which may be a
// file: URI with query parameters, or reports an in-memory database.
func sqliteDir(path string) (dir string, memory bool) {
	p, query, _ := strings.Cut(strings.TrimPrefix(path, "file:"), "?")
	if p == ":memory:" || p == "" || strings.Contains(query, "mode=memory") {
		return "", true
	}
	return filepath.Dir(p), false
}
