package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/pgtest"
)

var base = time.Date(2030, time.March, 4, 5, 6, 7, 0, time.UTC)

// openDurable opens a store whose connections commit synchronously, as a
// production server's do (the test cluster's default is off), with every
// statement it sends recorded.
func openDurable(t *testing.T) (*Store, *statements) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	// One connection, so the statement after a rotation runs where the
	// rotation did.
	cfg.MaxConns = 1
	rec := &statements{}
	cfg.ConnConfig.Tracer = rec
	s, err := OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("OpenConfig: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if s.durableCommit != "on" {
		t.Fatalf("durableCommit = %q, want the connections' setting, on", s.durableCommit)
	}
	return s, rec
}

// statements records the SQL of every statement sent through the pool.
type statements struct{ sql []string }

func (r *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.sql = append(r.sql, d.SQL) // the tests below send one statement at a time
	return ctx
}

func (r *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// seedSession creates a user and a session at generation 5, last rotated
// at base.
func seedSession(t *testing.T, s *Store) auth.Rotation {
	t.Helper()
	u := auth.User{ID: "u1", Email: "one@example.test", Name: "One", PasswordHash: []byte("h"), CreatedAt: base}
	sess := auth.Session{ID: "s1", UserID: u.ID, Generation: 5, CreatedAt: base, LastUsedAt: base, RotatedAt: base,
		ExpiresAt: base.Add(24 * time.Hour), MaxExpiresAt: base.Add(48 * time.Hour)}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(t.Context(), sess, 0); err != nil {
		t.Fatal(err)
	}
	return auth.Rotation{SessionID: sess.ID, UserID: u.ID, Generation: 5, Now: base.Add(time.Hour),
		ExpiresAt: base.Add(25 * time.Hour)}
}

// commitModeOf runs the rotation statement inside a transaction it then
// rolls back, and returns whether it matched and the synchronous_commit it
// left for its transaction: what its commit would have used.
func commitModeOf(t *testing.T, s *Store, r auth.Rotation) (bool, string) {
	t.Helper()
	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(t.Context()))
	tag, err := tx.Exec(t.Context(), rotateSQL,
		ts(r.Now), ts(r.ExpiresAt), r.UserAgent, r.IP, r.SessionID, r.UserID, r.Generation, r.TokenVersion, s.durableCommit)
	if err != nil {
		t.Fatalf("rotation: %v", err)
	}
	var mode string
	if err := tx.QueryRow(t.Context(), `SELECT current_setting('synchronous_commit')`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return tag.RowsAffected() == 1, mode
}

// A rotation waits for no disk flush, unless the session's previous
// rotation may not be on disk yet or was lost: then it must be durable, or
// a crash could lose two rotations of one session, more than the
// lost-rotation rule recovers.
func TestRotationCommitMode(t *testing.T) {
	s, _ := openDurable(t)
	r := seedSession(t, s)
	for _, tc := range []struct {
		name   string
		change func(*auth.Rotation)
		want   string
	}{
		{"an hour after the last rotation", func(*auth.Rotation) {}, "off"},
		{"a second and a half after the last rotation", func(r *auth.Rotation) { r.Now = base.Add(1500 * time.Millisecond) }, "off"},
		{"100ms after the last rotation", func(r *auth.Rotation) { r.Now = base.Add(100 * time.Millisecond) }, "on"},
		{"900ms after the last rotation", func(r *auth.Rotation) { r.Now = base.Add(900 * time.Millisecond) }, "on"},
		{"recovering a lost rotation", func(r *auth.Rotation) { r.Generation++ }, "on"},
	} {
		try := r
		tc.change(&try)
		ok, mode := commitModeOf(t, s, try)
		if !ok || mode != tc.want {
			t.Errorf("%s: rotated %v, synchronous_commit %q; want a rotation committing with %q", tc.name, ok, mode, tc.want)
		}
	}
}

// The asynchronous commit is the rotation's own: it does not outlive the
// rotation's transaction on the connection, and no other statement of the
// store (every revocation and account change) changes the setting.
func TestOnlyTheRotationCommitsAsynchronously(t *testing.T) {
	s, rec := openDurable(t)
	r := seedSession(t, s)
	ctx := t.Context()
	got, ok, err := s.RotateSession(ctx, r)
	if err != nil || !ok {
		t.Fatalf("RotateSession = ok %v, err %v", ok, err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	err = conn.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&mode)
	conn.Release()
	if err != nil || mode != "on" {
		t.Errorf("after a rotation the connection commits with %q (%v), want on", mode, err)
	}

	now := got.Session.RotatedAt.Add(time.Hour)
	u2 := auth.User{ID: "u2", Email: "two@example.test", Name: "Two", PasswordHash: []byte("h"), CreatedAt: base}
	sess2 := got.Session
	sess2.ID, sess2.UserID = "s2", u2.ID
	for _, step := range []struct {
		name string
		call func() error
	}{
		{"CreateUser", func() error { return s.CreateUser(ctx, u2) }},
		{"CreateSession", func() error { return s.CreateSession(ctx, sess2, 2) }},
		{"SetPasswordHash", func() error { return s.SetPasswordHash(ctx, u2.ID, []byte("h"), []byte("h2")) }},
		{"ChangePassword", func() error {
			_, _, err := s.ChangePassword(ctx, u2.ID, sess2.ID, []byte("h3"), now)
			return err
		}},
		{"RevokeSession", func() error { return s.RevokeSession(ctx, u2.ID, sess2.ID, now) }},
		{"EndSession", func() error { return s.EndSession(ctx, got.Session.ID, now) }},
		{"RevokeUser", func() error { return s.RevokeUser(ctx, r.UserID, now) }},
		{"PruneSessions", func() error { _, err := s.PruneSessions(ctx, now); return err }},
	} {
		name, call := step.name, step.call
		rec.sql = nil
		if err := call(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, sql := range rec.sql {
			if strings.Contains(sql, "synchronous_commit") {
				t.Errorf("%s sent a statement that changes synchronous_commit: %s", name, sql)
			}
		}
	}
}
