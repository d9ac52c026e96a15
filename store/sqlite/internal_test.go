package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/store/storetest"
)

// recordingDriver wraps the real driver and records every statement handed
// to SQLite, so a test can count what a method sends. Everything else is
// passed through unchanged.
type recordingDriver struct {
	mu    sync.Mutex
	stmts []string
}

func (d *recordingDriver) record(query string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stmts = append(d.stmts, query)
}

// take returns the statements recorded since the last take.
func (d *recordingDriver) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.stmts
	d.stmts = nil
	return out
}

func (d *recordingDriver) Open(name string) (driver.Conn, error) {
	c, err := (&sqlite.Driver{}).Open(name)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, d: d}, nil
}

// The wrapped connection must implement every optional interface
// database/sql looks for, or database/sql would take another path (and the
// pool would behave differently) in the test than in production.
type recordingConn struct {
	driver.Conn
	d *recordingDriver
}

type modernConn interface {
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

func (c *recordingConn) inner() modernConn { return c.Conn.(modernConn) }

func (c *recordingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.d.record("BEGIN")
	tx, err := c.inner().BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &recordingTx{Tx: tx, d: c.d}, nil
}

func (c *recordingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.inner().PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &recordingStmt{Stmt: st, query: query, d: c.d}, nil
}

func (c *recordingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.d.record(query)
	return c.inner().ExecContext(ctx, query, args)
}

func (c *recordingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.d.record(query)
	return c.inner().QueryContext(ctx, query, args)
}

func (c *recordingConn) Ping(ctx context.Context) error { return c.inner().Ping(ctx) }

func (c *recordingConn) ResetSession(ctx context.Context) error { return c.inner().ResetSession(ctx) }

func (c *recordingConn) IsValid() bool { return c.inner().IsValid() }

type recordingTx struct {
	driver.Tx
	d *recordingDriver
}

func (t *recordingTx) Commit() error {
	t.d.record("COMMIT")
	return t.Tx.Commit()
}

func (t *recordingTx) Rollback() error {
	t.d.record("ROLLBACK")
	return t.Tx.Rollback()
}

type recordingStmt struct {
	driver.Stmt
	query string
	d     *recordingDriver
}

func (s *recordingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.d.record(s.query)
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *recordingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.d.record(s.query)
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

var recorder = &recordingDriver{}

func init() { sql.Register("sqlite-recording", recorder) }

// The recording driver must itself pass the contract, or counting with it
// would prove nothing about the real thing.
func TestContractThroughRecordingDriver(t *testing.T) {
	storetest.Run(t, func(t testing.TB) auth.Store {
		return openWith(t, filepath.Join(t.TempDir(), "t.db"), options{driver: "sqlite-recording", busyTimeout: 5 * time.Second})
	})
}

func openWith(t testing.TB, path string, o options) *Store {
	t.Helper()
	s, err := open(t.Context(), path, o)
	if err != nil {
		t.Fatalf("open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// RotateSession must be one statement, successful or not: the refresh check
// is atomic because SQLite runs a single statement atomically, with no
// transaction around it.
func TestRotateSessionIsOneStatement(t *testing.T) {
	for name, path := range map[string]string{"memory": Memory, "file": filepath.Join(t.TempDir(), "t.db")} {
		t.Run(name, func(t *testing.T) {
			s := openWith(t, path, options{driver: "sqlite-recording", busyTimeout: 5 * time.Second})
			ctx := t.Context()
			now := storetest.Base
			u := auth.User{ID: "u1", Email: "one@example.test", Name: "One", PasswordHash: []byte("h"), CreatedAt: now}
			sess := auth.Session{ID: "s1", UserID: u.ID, Generation: 1, CreatedAt: now, LastUsedAt: now, RotatedAt: now,
				ExpiresAt: now.Add(time.Hour), MaxExpiresAt: now.Add(2 * time.Hour)}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateSession(ctx, sess, 3); err != nil {
				t.Fatal(err)
			}
			r := auth.Rotation{SessionID: sess.ID, UserID: u.ID, Generation: 1, Now: now.Add(time.Minute),
				ExpiresAt: now.Add(time.Hour + time.Minute), UserAgent: "ua", IP: "ip"}

			for _, tc := range []struct {
				name   string
				wantOK bool
			}{{"success", true}, {"refused", false}} {
				recorder.take()
				_, ok, err := s.RotateSession(ctx, r)
				stmts := recorder.take()
				if err != nil || ok != tc.wantOK {
					t.Fatalf("%s: RotateSession = ok %v, err %v; want ok %v", tc.name, ok, err, tc.wantOK)
				}
				if len(stmts) != 1 || strings.Contains(strings.TrimSpace(stmts[0]), ";") {
					t.Errorf("%s: RotateSession sent %d statements, want exactly 1:\n%s", tc.name, len(stmts), strings.Join(stmts, "\n---\n"))
				}
			}
		})
	}
}

// The connection settings are what make a file store durable and
// concurrent; check they took effect rather than trusting the DSN.
func TestFilePragmas(t *testing.T) {
	s := openWith(t, filepath.Join(t.TempDir(), "t.db"), defaultOptions())
	ctx := t.Context()
	for _, tc := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.w, "journal_mode", "wal"},
		{s.w, "synchronous", "2"}, // FULL
		{s.w, "foreign_keys", "1"},
		{s.w, "busy_timeout", "5000"},
		{s.r, "busy_timeout", "5000"},
		{s.r, "query_only", "1"},
	} {
		var got string
		if err := tc.db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
	if _, err := s.r.ExecContext(ctx, `UPDATE users SET name = 'x'`); err == nil {
		t.Error("the reader pool accepted a write")
	}
}

func TestMemoryForeignKeys(t *testing.T) {
	s := openWith(t, Memory, defaultOptions())
	var on int
	if err := s.w.QueryRowContext(t.Context(), "PRAGMA foreign_keys").Scan(&on); err != nil || on != 1 {
		t.Errorf("PRAGMA foreign_keys = %d, %v; want 1", on, err)
	}
}

// Another process holding the write lock past busy_timeout makes the store
// unavailable, not broken: the client is told to retry. Readers carry on
// meanwhile, which is what WAL is for.
func TestLockedDatabaseIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	s := openWith(t, path, options{driver: "sqlite", busyTimeout: 50 * time.Millisecond})
	ctx := t.Context()
	u := auth.User{ID: "u1", Email: "one@example.test", Name: "One", PasswordHash: []byte("h"), CreatedAt: storetest.Base}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}

	other, err := sql.Open("sqlite", fileDSN(path, options{busyTimeout: time.Second}, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	holder, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close() })
	if _, err := holder.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	err = s.SetPasswordHash(ctx, u.ID, u.PasswordHash, []byte("new"))
	if !errors.Is(err, auth.ErrStoreUnavailable) {
		t.Errorf("SetPasswordHash while another writer holds the lock: got %v, want STORE_UNAVAILABLE", err)
	}
	err = s.RevokeUser(ctx, u.ID, storetest.Base)
	if !errors.Is(err, auth.ErrStoreUnavailable) {
		t.Errorf("RevokeUser (a transaction) while another writer holds the lock: got %v, want STORE_UNAVAILABLE", err)
	}
	if _, err := s.UserByID(ctx, u.ID); err != nil {
		t.Errorf("UserByID while another writer holds the lock: %v", err)
	}

	if _, err := holder.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPasswordHash(ctx, u.ID, u.PasswordHash, []byte("new")); err != nil {
		t.Errorf("SetPasswordHash after the lock is gone: %v", err)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"no rows", sql.ErrNoRows, auth.ErrNotFound},
		{"deadline", context.DeadlineExceeded, auth.ErrStoreUnavailable},
		{"domain error kept", auth.ErrEmailTaken, auth.ErrEmailTaken},
	} {
		if got := classify("op", tc.err); !errors.Is(got, tc.want) {
			t.Errorf("%s: classify = %v, want %v", tc.name, got, tc.want)
		}
	}
	if classify("op", nil) != nil {
		t.Error("classify(nil) is not nil")
	}
	other := errors.New("boom")
	if got := classify("op", other); !errors.Is(got, other) || errors.Is(got, auth.ErrStoreUnavailable) {
		t.Errorf("classify(other) = %v, want it wrapped and not STORE_UNAVAILABLE", got)
	}
}
