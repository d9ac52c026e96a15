package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/pgtest"
)

// The feed's cursor must catch a transaction that wrote its revocation
// before a read and committed after it, and must not read anything twice
// even while an unrelated transaction stays open (which holds the
// snapshot's xmin back).
func TestFeedCursorIsPrecise(t *testing.T) {
	url := pgtest.URL(t)
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Now().UTC()
	if err := s.CreateUser(t.Context(), auth.User{ID: "u", Email: "u@example.test", Name: "U", PasswordHash: []byte("h"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"late", "quick", "third"} {
		if err := s.CreateSession(t.Context(), auth.Session{ID: id, UserID: "u", Generation: 1, CreatedAt: now, LastUsedAt: now,
			RotatedAt: now, ExpiresAt: now.Add(time.Hour), MaxExpiresAt: now.Add(time.Hour)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	conn := func() *pgx.Conn {
		c, err := pgx.Connect(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	reader, writer, idle := conn(), conn(), conn()
	read := func(c snapshotCursor) ([]string, snapshotCursor) {
		t.Helper()
		var got []string
		next, err := readSince(t.Context(), reader, c, time.Time{}, func(r auth.Revocation) { got = append(got, r.SessionID) })
		if err != nil {
			t.Fatal(err)
		}
		return got, next
	}

	// An unrelated transaction with an id stays open throughout.
	idleTx, err := idle.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer idleTx.Rollback(context.Background())
	if _, err := idleTx.Exec(t.Context(), `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}

	late, err := writer.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := late.Exec(t.Context(), `UPDATE sessions SET revoked_at = $1 WHERE id = 'late'`, now); err != nil {
		t.Fatal(err)
	}
	got, cursor := read(snapshotCursor{})
	if len(got) != 0 {
		t.Fatalf("read %v before anything committed", got)
	}
	// Another revocation commits while "late" is still open.
	if err := s.EndSession(t.Context(), "quick", now); err != nil {
		t.Fatal(err)
	}
	got, cursor = read(cursor)
	if len(got) != 1 || got[0] != "quick" {
		t.Fatalf("second read = %v; want [quick]", got)
	}
	if err := late.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, cursor = read(cursor)
	if len(got) != 1 || got[0] != "late" {
		t.Fatalf("after the late commit, read = %v; want [late], numbered before quick but committed after", got)
	}
	got, cursor = read(cursor)
	if len(got) != 0 {
		t.Fatalf("a read with nothing new = %v; want nothing, despite the open transaction", got)
	}
	if err := s.EndSession(t.Context(), "third", now); err != nil {
		t.Fatal(err)
	}
	if got, _ = read(cursor); len(got) != 1 || got[0] != "third" {
		t.Fatalf("read = %v; want [third]", got)
	}
}
