package sqlite_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/store/sqlite"
	"github.com/tokengate/tokengate/store/storetest"
)

func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestContractInMemory(t *testing.T) {
	storetest.Run(t, func(t testing.TB) auth.Store { return openStore(t, sqlite.Memory) })
}

func TestContractFile(t *testing.T) {
	storetest.Run(t, func(t testing.TB) auth.Store {
		return openStore(t, filepath.Join(t.TempDir(), "data", "tokengate.db"))
	})
}

// A file database is the embedded default: users and sessions must survive
// a restart of the process.
func TestFileKeepsDataAcrossRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	path := filepath.Join(dir, "tokengate.db")
	now := storetest.Base
	u := auth.User{ID: "u1", Email: "Persist@Example.test", Name: "Persist", PasswordHash: []byte("hash"), CreatedAt: now}
	sess := auth.Session{ID: "s1", UserID: u.ID, Generation: 1, CreatedAt: now, LastUsedAt: now, RotatedAt: now,
		ExpiresAt: now.Add(time.Hour), MaxExpiresAt: now.Add(2 * time.Hour), UserAgent: "ua", IP: "192.0.2.1"}

	first, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := first.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if err := first.CreateSession(t.Context(), sess, 0); err != nil {
		t.Fatal(err)
	}
	rotated, ok, err := first.RotateSession(t.Context(), auth.Rotation{SessionID: sess.ID, UserID: u.ID, Generation: 1,
		Now: now.Add(time.Minute), ExpiresAt: now.Add(90 * time.Minute)})
	if err != nil || !ok {
		t.Fatalf("RotateSession = %v, %v", ok, err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode = %v, want 0700", perm)
	}
	// The database holds password hashes; its WAL holds recent writes.
	for _, f := range []string{path, path + "-wal"} {
		if info, err := os.Stat(f); err == nil && info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", filepath.Base(f), info.Mode().Perm())
		}
	}

	second := openStore(t, path)
	gotSess, gotUser, err := second.SessionState(t.Context(), sess.ID)
	if err != nil {
		t.Fatalf("SessionState after reopening: %v", err)
	}
	if !reflect.DeepEqual(gotSess, rotated.Session) {
		t.Errorf("session after reopening:\n got  %+v\n want %+v", gotSess, rotated.Session)
	}
	if gotUser.ID != u.ID || gotUser.Email != u.Email || gotUser.Name != u.Name || !gotUser.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("user after reopening = %+v, want %+v", gotUser, u)
	}
	if _, err := second.UserByEmail(t.Context(), "persist@example.test"); err != nil {
		t.Errorf("UserByEmail after reopening: %v", err)
	}
}

// The path becomes a file: URI; characters that mean something in a URI
// must not cut it short or send the data elsewhere.
func TestFilePathWithURICharacters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "odd ?name#with%25 chars&x=1.db")
	s := openStore(t, path)
	if err := s.CreateUser(t.Context(), auth.User{ID: "u", Email: "u@example.test", Name: "U", PasswordHash: []byte("h"), CreatedAt: storetest.Base}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		found = found || e.Name() == filepath.Base(path)
	}
	if !found {
		t.Errorf("database file %q not created; directory holds %v", filepath.Base(path), entries)
	}
}

// Every in-memory store is its own database.
func TestMemoryStoresAreSeparate(t *testing.T) {
	a, b := openStore(t, sqlite.Memory), openStore(t, sqlite.Memory)
	if err := a.CreateUser(t.Context(), auth.User{ID: "u", Email: "u@example.test", Name: "U", PasswordHash: []byte("h"), CreatedAt: storetest.Base}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UserByID(t.Context(), "u"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("UserByID in another in-memory store: got %v, want ErrNotFound", err)
	}
}

func TestOpenEmptyPath(t *testing.T) {
	if s, err := sqlite.Open(t.Context(), ""); err == nil {
		s.Close()
		t.Error("Open(\"\") succeeded")
	}
}
