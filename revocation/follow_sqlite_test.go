package revocation_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/revocation"
	"github.com/tokengate/tokengate/store/sqlite"
)

func openSQLite(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// One SQLite instance: the view catches up from the log at start-up, and
// Follow brings in what another process (the revoke-user command) writes
// to the same file.
func TestSQLiteCatchUpAndFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokengate.db")
	server := openSQLite(t, path)
	now := time.Now().UTC()
	for _, id := range []string{"u1", "u2"} {
		if err := server.CreateUser(t.Context(), auth.User{ID: id, Email: id + "@example.test", Name: id,
			PasswordHash: []byte("h"), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := server.CreateSession(t.Context(), auth.Session{ID: id + "-s", UserID: id, Generation: 1,
			CreatedAt: now, LastUsedAt: now, RotatedAt: now, ExpiresAt: now.Add(time.Hour),
			MaxExpiresAt: now.Add(2 * time.Hour)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Before the instance starts: a logout.
	if err := server.EndSession(t.Context(), "u1-s", now); err != nil {
		t.Fatal(err)
	}
	v := revocation.New(revocation.Options{Window: ttlWindow, Clock: time.Now})
	cursor, err := v.CatchUp(t.Context(), server)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Revoked("u1", "u1-s", 0) || v.Revoked("u2", "u2-s", 0) {
		t.Fatal("the start-up catch-up is wrong")
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); v.Follow(ctx, server, cursor, 10*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })

	// Another process revokes u2 on the same file.
	cli := openSQLite(t, path)
	if err := cli.RevokeUser(t.Context(), "u2", time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other process's revocation", 5*time.Second, func() bool {
		return v.Revoked("u2", "u2-s", 0) && v.Revoked("u2", "another-session", 0)
	})
	if v.Revoked("u2", "new-session", 1) {
		t.Error("a token of u2's new counter is revoked")
	}
}
