package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/pgtest"
	"github.com/tokengate/tokengate/store/postgres"
	"github.com/tokengate/tokengate/store/storetest"
)

func openStore(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func openConfig(t testing.TB, cfg *pgxpool.Config) *postgres.Store {
	t.Helper()
	s, err := postgres.OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("OpenConfig: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	pgtest.Require(t)
	storetest.Run(t, func(t testing.TB) auth.Store { return openStore(t, pgtest.URL(t)) })
}

// seed creates a user with one live session at storetest.Base and returns
// a rotation every condition allows.
func seed(t testing.TB, s auth.Store) auth.Rotation {
	t.Helper()
	now := storetest.Base
	u := auth.User{ID: "u1", Email: "one@example.test", Name: "One", PasswordHash: []byte("h"), CreatedAt: now}
	sess := auth.Session{ID: "s1", UserID: u.ID, Generation: 1, CreatedAt: now, LastUsedAt: now, RotatedAt: now,
		ExpiresAt: now.Add(time.Hour), MaxExpiresAt: now.Add(2 * time.Hour)}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(t.Context(), sess, 3); err != nil {
		t.Fatal(err)
	}
	return auth.Rotation{SessionID: sess.ID, UserID: u.ID, Generation: 1, Now: now.Add(time.Minute),
		ExpiresAt: now.Add(time.Hour + time.Minute), UserAgent: "ua", IP: "192.0.2.1"}
}

// queryCounter is a pgx QueryTracer counting the statements sent.
type queryCounter struct {
	n   atomic.Int64
	sql sync.Map
}

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.sql.Store(c.n.Add(1), d.SQL)
	return ctx
}

func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// wire collects the protocol trace of a connection; every request the
// client makes ends with the server's ReadyForQuery, so counting those
// counts round trips.
type wire struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *wire) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *wire) take() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.buf.String()
	w.buf.Reset()
	return s
}

// The API promises one database round trip per refresh: RotateSession is
// one statement, sent in one round trip even on a connection that has never
// run it before (nothing to prepare first). And it runs the statement
// prepared when the connection was made: a Parse on the wire would mean
// PostgreSQL parsing and planning it on every refresh.
func TestRotateSessionIsOneStatementAndOneRoundTrip(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	counter := &queryCounter{}
	trace := &wire{}
	cfg.ConnConfig.Tracer = counter
	// One connection, never pinged on acquire, so everything on the wire
	// during a call is the call's own. (In production the pool pings a
	// connection idle for over a second before handing it out.)
	cfg.MaxConns = 1
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		c.PgConn().Frontend().Trace(trace, pgproto3.TracerOptions{SuppressTimestamps: true})
		return nil
	}
	s := openConfig(t, cfg)
	r := seed(t, s)

	for _, tc := range []struct {
		name   string
		gen    int64 // how far r.Generation is behind the session's
		wantOK bool
	}{{"first success on the connection", 0, true}, {"refused", 1, false}, {"second success", 0, true}} {
		before := counter.n.Load()
		trace.take()
		try := r
		try.Generation -= tc.gen
		got, ok, err := s.RotateSession(t.Context(), try)
		if err != nil || ok != tc.wantOK {
			t.Fatalf("%s: RotateSession = ok %v, err %v; want ok %v", tc.name, ok, err, tc.wantOK)
		}
		if ok {
			r.Generation = got.Session.Generation
		}
		wireLog := trace.take()
		if n := counter.n.Load() - before; n != 1 {
			t.Errorf("%s: RotateSession sent %d statements, want 1", tc.name, n)
		}
		if n := strings.Count(wireLog, "\tReadyForQuery"); n != 1 {
			t.Errorf("%s: RotateSession took %d round trips, want 1; wire:\n%s", tc.name, n, wireLog)
		}
		if strings.Contains(wireLog, "\tParse\t") {
			t.Errorf("%s: RotateSession sent the statement to be parsed; want the prepared one; wire:\n%s", tc.name, wireLog)
		}
	}
}

// Instances starting together must not race each other's migrations.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	url := pgtest.URL(t)
	const instances = 4
	var wg sync.WaitGroup
	errs := make(chan error, instances)
	stores := make(chan *postgres.Store, instances)
	for range instances {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), url)
			if err != nil {
				errs <- err
				return
			}
			stores <- s
		})
	}
	wg.Wait()
	close(errs)
	close(stores)
	for err := range errs {
		t.Errorf("concurrent Open: %v", err)
	}
	for s := range stores {
		t.Cleanup(func() { s.Close() })
	}

	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var applied int
	if err := conn.QueryRow(t.Context(),
		`SELECT count(*) FROM tokengate_schema_version WHERE version_id = 1`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != 1 {
		t.Errorf("migration 1 recorded %d times, want once", applied)
	}
}

// Reopening an up-to-date database applies nothing and keeps the data.
func TestReopenKeepsData(t *testing.T) {
	url := pgtest.URL(t)
	first, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	r := seed(t, first)
	first.Close()
	second := openStore(t, url)
	if _, ok, err := second.RotateSession(t.Context(), r); err != nil || !ok {
		t.Errorf("RotateSession after reopening = ok %v, err %v", ok, err)
	}
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = postgres.Open(t.Context(), "postgres://postgres@"+addr+"/postgres?sslmode=disable&connect_timeout=5")
	if !errors.Is(err, auth.ErrStoreUnavailable) {
		t.Errorf("Open of an unreachable server: got %v, want STORE_UNAVAILABLE", err)
	}
}

// A server that accepts TCP but never speaks must not hang a request past
// its deadline, and counts as unavailable.
func TestSilentServerIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = postgres.Open(ctx, "postgres://postgres@"+l.Addr().String()+"/postgres?sslmode=disable")
	if !errors.Is(err, auth.ErrStoreUnavailable) {
		t.Errorf("Open of a silent server: got %v, want STORE_UNAVAILABLE", err)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s, err := postgres.Open(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Ping(t.Context()); !errors.Is(err, auth.ErrStoreUnavailable) {
		t.Errorf("Ping after Close: got %v, want STORE_UNAVAILABLE", err)
	}
	if _, _, err := s.RotateSession(t.Context(), auth.Rotation{SessionID: "s"}); !errors.Is(err, auth.ErrStoreUnavailable) {
		t.Errorf("RotateSession after Close: got %v, want STORE_UNAVAILABLE", err)
	}
}

// A backend killed under the store (a failover, an operator, a restart)
// fails the request in flight as unavailable, and the store recovers on
// its own with fresh connections.
func TestTerminatedConnectionsAreUnavailableThenRecover(t *testing.T) {
	url := pgtest.URL(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	// No liveness ping on acquire, so the request meets the dead connection
	// instead of the pool quietly replacing it.
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	s := openConfig(t, cfg)
	r := seed(t, s)

	admin, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	if err := admin.QueryRow(t.Context(), `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no store connection to terminate")
	}

	_, _, err = s.RotateSession(t.Context(), r)
	if !errors.Is(err, auth.ErrStoreUnavailable) {
		t.Errorf("RotateSession on a terminated connection: got %v, want STORE_UNAVAILABLE", err)
	}
	// Each failure discards one dead connection; within a pool's worth of
	// attempts the store answers again.
	var ok bool
	for range int(cfg.MaxConns) + 1 {
		if _, ok, err = s.RotateSession(t.Context(), r); err == nil {
			break
		}
		if !errors.Is(err, auth.ErrStoreUnavailable) {
			t.Fatalf("RotateSession while recovering: %v", err)
		}
	}
	if err != nil || !ok {
		t.Errorf("RotateSession after recovery = ok %v, err %v; want a rotation", ok, err)
	}
}

// Open's errors end up in logs and on the terminal; the password in the
// URL must not.
func TestOpenErrorsHideThePassword(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, url := range []string{
		"postgres://u:hunter2@host:notaport/db",
		"postgres://u:hunter2@" + closed + "/db?sslmode=disable",
	} {
		_, err := postgres.Open(t.Context(), url)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error = %v; want an error without the password", url, err)
		}
	}
}
