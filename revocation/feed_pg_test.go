package revocation_test

import (
	"context"
	"errors"
	"io"
	"net"
	neturl "net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/pgtest"
	"github.com/tokengate/tokengate/revocation"
	"github.com/tokengate/tokengate/store/postgres"
)

// These tests run the real feed against real PostgreSQL: two views on one
// database, fed only by LISTEN/NOTIFY and the catch-up reads, while
// sessions are revoked by plain SQL, the same UPDATE the store sends.

const (
	ttlWindow    = 15*time.Minute + 30*time.Second
	maxStaleness = 5 * time.Second
)

// announcer is a view that also says on a channel which sessions reached it,
// so a test waits for exactly that instead of polling.
type announcer struct {
	*revocation.View
	arrived chan string
}

func (a *announcer) RevokeSession(sessionID string, at time.Time) {
	a.View.RevokeSession(sessionID, at)
	select {
	case a.arrived <- sessionID:
	default:
	}
}

// await waits up to limit for sid to reach a, and returns how long it took
// from since.
func (a *announcer) await(t testing.TB, sid string, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	timeout := time.After(limit)
	for {
		select {
		case got := <-a.arrived:
			if got == sid {
				return time.Since(since)
			}
		case <-timeout:
			t.Fatalf("session %s did not reach the view within %v", sid, limit)
			return 0
		}
	}
}

type instance struct {
	view  *announcer
	feed  *postgres.Feed
	users *forgetter
}

// withAppName sets application_name on a connection string of either form.
func withAppName(url, name string) string {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		return url + sep + "application_name=" + name
	}
	return url + " application_name=" + name
}

// startInstance builds a view with its feed on url, runs the feed until the
// test ends, and waits for its first catch-up.
func startInstance(t testing.TB, url string, store auth.RevocationLog, clock auth.Clock) *instance {
	t.Helper()
	users := &forgetter{forgot: make(chan string, 1024)}
	v := &announcer{
		View: revocation.New(revocation.Options{
			Window: ttlWindow, MaxStaleness: maxStaleness, Fallback: store, Clock: clock, Users: users,
		}),
		arrived: make(chan string, 1024),
	}
	feed, err := postgres.NewFeed(postgres.FeedConfig{URL: url, Sink: v, Window: ttlWindow, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		feed.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitFor(t, "the first catch-up", 10*time.Second, func() bool { return !v.MustCheckStore() })
	return &instance{view: v, feed: feed, users: users}
}

// forgetter stands for the user cache: it says which users it was told to
// forget.
type forgetter struct{ forgot chan string }

func (f *forgetter) Forget(id string) {
	select {
	case f.forgot <- id:
	default:
	}
}

// waitFor polls cond until it holds, failing the test after limit. It waits
// for an outcome of another goroutine's I/O; nothing is timed by it.
func waitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, limit)
		}
		time.Sleep(time.Millisecond)
	}
}

func openStore(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// seedSessions creates one user with n live sessions and returns their ids.
func seedSessions(t testing.TB, s *postgres.Store, userID string, n int) []string {
	t.Helper()
	now := time.Now()
	if err := s.CreateUser(t.Context(), auth.User{ID: userID, Email: userID + "@example.test", Name: "U",
		PasswordHash: []byte("h"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	sids := make([]string, n)
	for i := range sids {
		sids[i] = userID + "-s" + strings.Repeat("0", 3-len(itoa(i))) + itoa(i)
		if err := s.CreateSession(t.Context(), auth.Session{ID: sids[i], UserID: userID, Generation: 1,
			CreatedAt: now, LastUsedAt: now, RotatedAt: now, ExpiresAt: now.Add(time.Hour),
			MaxExpiresAt: now.Add(2 * time.Hour)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	return sids
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// revokeSQL is the store's RevokeSession statement, sent as plain SQL.
const revokeSQL = `UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL AND expires_at > $1`

func TestFeedReachesTheOtherInstance(t *testing.T) {
	url := pgtest.URL(t)
	store := openStore(t, url)
	sids := seedSessions(t, store, "u1", 205)
	a := startInstance(t, withAppName(url, "view-a"), store, time.Now)
	b := startInstance(t, withAppName(url, "view-b"), store, time.Now)
	sql := connect(t, url)

	// 200 trials: revoke through plain SQL, time its arrival at view B.
	delays := make([]time.Duration, 0, 200)
	for _, sid := range sids[:200] {
		start := time.Now()
		if _, err := sql.Exec(t.Context(), revokeSQL, start, sid, "u1"); err != nil {
			t.Fatal(err)
		}
		delays = append(delays, b.view.await(t, sid, start, maxStaleness))
		if !b.view.Revoked("u1", sid, 0) {
			t.Fatalf("%s arrived but is not revoked", sid)
		}
	}
	slices.Sort(delays)
	p50, p99, worst := delays[len(delays)/2], delays[len(delays)*99/100-1], delays[len(delays)-1]
	t.Logf("revocation reaching another instance over %d trials: p50 %v, p99 %v, max %v", len(delays), p50, p99, worst)
	if p99 > time.Second || worst > maxStaleness {
		t.Errorf("p99 %v (bound 1s), max %v (bound %v)", p99, worst, maxStaleness)
	}
	waitFor(t, "view A to hold all 200", maxStaleness, func() bool {
		for _, sid := range sids[:200] {
			if !a.view.Revoked("u1", sid, 0) {
				return false
			}
		}
		return true
	})

	// A user's counter raised by plain SQL reaches the views too.
	if _, err := sql.Exec(t.Context(), `UPDATE users SET token_version = token_version + 1 WHERE id = 'u1'`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the raised counter to reach view B", maxStaleness, func() bool { return b.view.Revoked("u1", sids[204], 0) })
	if b.view.Revoked("u1", sids[204], 1) {
		t.Error("a token of the new counter is revoked")
	}

	// A change that revokes nothing still reaches the user cache.
	for len(b.users.forgot) > 0 {
		<-b.users.forgot
	}
	if _, err := sql.Exec(t.Context(), `UPDATE users SET name = 'renamed' WHERE id = 'u1'`); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-b.users.forgot:
		if id != "u1" {
			t.Errorf("forgot %q; want u1", id)
		}
	case <-time.After(maxStaleness):
		t.Fatal("a renamed user did not reach the user cache")
	}

	// Kill B's LISTEN connection and revoke while it is gone: the
	// notification is lost, the reconnect's catch-up must bring it.
	// Idle, the feed heartbeats twice a second on the same connection: a
	// wait that times out leaves the connection usable.
	hb := b.feed.Stats().Heartbeats
	waitFor(t, "three more heartbeats", 5*time.Second, func() bool { return b.feed.Stats().Heartbeats >= hb+3 })
	connectsBefore := b.feed.Stats().Connects
	if st := b.feed.Stats(); st.Connects != 1 || st.Disconnects != 0 || st.Notifications < 200 {
		t.Errorf("before the kill: %+v; want one connection that heard every notification", st)
	}
	var pid int
	if err := sql.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity
		WHERE application_name = 'view-b' AND datname = current_database()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	var killed bool
	if err := sql.QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("pg_terminate_backend = %v, %v", killed, err)
	}
	// Termination is asynchronous: revoke only once the backend is gone, so
	// the notification really has no listener to reach.
	waitFor(t, "the listener's backend to exit", 5*time.Second, func() bool {
		var n int
		err := sql.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&n)
		return err == nil && n == 0
	})
	start := time.Now()
	if _, err := sql.Exec(t.Context(), revokeSQL, start, sids[200], "u1"); err != nil {
		t.Fatal(err)
	}
	took := b.view.await(t, sids[200], start, maxStaleness)
	t.Logf("revocation made while the listener was killed reached it in %v", took)
	waitFor(t, "the feed to count its reconnection", 5*time.Second, func() bool { return b.feed.Stats().Connects > connectsBefore })
	if b.view.MustCheckStore() {
		t.Error("the view is stale after catching up")
	}
}

// proxy forwards TCP connections to PostgreSQL until cut, so a test can
// take the listener's server away without touching anyone else's.
type proxy struct {
	ln     net.Listener
	target string
	open   atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.open.Store(true)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.open.Load() {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

// cut refuses new connections and ends the open ones.
func (p *proxy) cut() {
	p.open.Store(false)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ nanos atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.nanos.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

func TestStaleViewChecksTheStore(t *testing.T) {
	url := pgtest.URL(t)
	store := openStore(t, url)
	sids := seedSessions(t, store, "u2", 3)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Skip("the proxy test needs a postgres:// URL")
	}
	p := startProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	clock := &fakeClock{}
	clock.nanos.Store(time.Now().UnixNano())
	inst := startInstance(t, u.String(), store, clock.Now)

	// The listener loses its server; the store's pool does not.
	p.cut()
	waitFor(t, "the feed to notice the cut", 10*time.Second, func() bool { return inst.feed.Stats().Disconnects > 0 })
	sql := connect(t, url)
	if _, err := sql.Exec(t.Context(), revokeSQL, time.Now(), sids[0], "u2"); err != nil {
		t.Fatal(err)
	}
	if inst.view.Revoked("u2", sids[0], 0) {
		t.Fatal("the revocation reached the view with its listener cut")
	}

	// Within the bound, the view answers alone (and is wrong for
	// sids[0]: that is the bound's price).
	clock.Advance(maxStaleness)
	if inst.view.MustCheckStore() {
		t.Fatal("stale within the bound")
	}
	clock.Advance(time.Millisecond)
	if !inst.view.MustCheckStore() {
		t.Fatal("not stale past REVOCATION_MAX_STALENESS")
	}
	err = inst.view.CheckAccess(t.Context(), "u2", sids[0], 0)
	if !errors.Is(err, auth.Unauthenticated(auth.ReasonSessionRevoked)) {
		t.Fatalf("stale CheckAccess of a session revoked in the store = %v; want SESSION_REVOKED", err)
	}
	if err := inst.view.CheckAccess(t.Context(), "u2", sids[1], 0); err != nil {
		t.Fatalf("stale CheckAccess of a live session = %v", err)
	}
	if s := inst.view.Stats(); s.StaleChecks != 2 {
		t.Errorf("StaleChecks = %d; want 2", s.StaleChecks)
	}

	// The server comes back: the feed reconnects, catches up and confirms.
	p.open.Store(true)
	inst.view.await(t, sids[0], time.Now(), 10*time.Second)
	waitFor(t, "the view to be current again", 10*time.Second, func() bool { return !inst.view.MustCheckStore() })
}
