package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/token"
)

// The crash test's load: pgCrashClients clients rotating their sessions
// in turn; PostgreSQL is crashed once pgCrashRotations rotations have been
// answered. CRASH_ROTATIONS overrides that (make crash).
const (
	pgCrashClients   = 50
	pgCrashRotations = 600
)

// crashLoad is how the clients refresh.
type crashLoad struct {
	name string
	// sessions per client, each rotated at most once per spacing.
	sessions int
	spacing  time.Duration
}

var crashLoads = []crashLoad{
	// Every rotation's previous one is over a second old: they commit
	// asynchronously, and the crash loses the last ones.
	{"spaced rotations commit asynchronously", 4, 1200 * time.Millisecond},
	// A session rotated again within a second commits durably, so that no
	// session ever has two rotations a crash could lose.
	{"back-to-back rotations of one session", 1, 0},
}

// durablePGCluster is a private cluster that flushes as a production
// server does: fsync, full-page writes and synchronous commits on (the
// test clusters run with them off), so a crash loses exactly what a
// production server would lose.
func durablePGCluster(t *testing.T) *pgCluster {
	t.Helper()
	pg := newPGCluster(t)
	// A later line of postgresql.conf overrides an earlier one.
	if err := appendFile(filepath.Join(pg.data, "postgresql.conf"),
		"\nfsync = on\nfull_page_writes = on\nsynchronous_commit = on\n"); err != nil {
		t.Fatal(err)
	}
	pg.Stop()
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	return pg
}

// Crash stops the server the way a power cut stops it, as far as the
// server can tell: pg_ctl -m immediate, no checkpoint, and whatever WAL was
// still in its buffers is gone.
func (c *pgCluster) Crash() {
	c.t.Helper()
	if out, err := c.pgCtl("-m", "immediate", "-w", "stop"); err != nil {
		c.t.Fatalf("pg_ctl stop -m immediate: %v\n%s", err, out)
	}
}

// crashSession is what a client holds for one session: its last refresh
// token, the ones before it (for the reuse check), and when it last
// rotated.
type crashSession struct {
	id      string
	refresh string
	history []string
	last    time.Time
}

// TestPostgresCrashLosesNoRefreshToken crashes PostgreSQL (immediate
// stop, no checkpoint) under refresh load from 50 clients, starts it
// again, and checks the lost-rotation rule's promise: every client that
// ever received a 200 can still refresh, whatever rotations the crash
// lost; a refresh token two generations ahead is still refused; and a
// reused older token still ends its session.
func TestPostgresCrashLosesNoRefreshToken(t *testing.T) {
	t.Parallel()
	for _, l := range crashLoads {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			crashPostgresUnderLoad(t, l)
		})
	}
}

func crashPostgresUnderLoad(t *testing.T, l crashLoad) {
	rotations := pgCrashRotations
	if v, err := strconv.Atoi(os.Getenv("CRASH_ROTATIONS")); err == nil && v > 0 {
		rotations = v
	}
	pg := durablePGCluster(t)
	env := Env{
		"DATABASE_URL":       pg.URL,
		"RATE_LIMIT_IP":      "1000000/1m",
		"RATE_LIMIT_REFRESH": "1000000/1m",
		"RATE_LIMIT_LOGIN":   "1000000/1m",
		// 50 clients sign up at once; at cost 4 a hash is a millisecond.
		"BCRYPT_CONCURRENCY": "64",
		// A rotation that committed while its answer was lost to the crash
		// leaves the client one generation behind: the grace window covers
		// it, and must outlast the restart on a slow machine.
		"REFRESH_REUSE_GRACE": "5m",
	}
	srv := startServer(t, "tokengate", env)
	c := newClient(t)

	clients := make([][]*crashSession, pgCrashClients)
	var setup sync.WaitGroup
	setupErrs := make(chan error, pgCrashClients)
	for k := range clients {
		email := fmt.Sprintf("pgcrash%d@example.com", k)
		register := jsonString(t, map[string]string{"email": email, "password": password, "name": "Crash Test"})
		login := jsonString(t, map[string]string{"email": email, "password": password})
		setup.Go(func() {
			body := register
			path, status := "/auth/register", http.StatusCreated
			for attempt := 0; len(clients[k]) < l.sessions; attempt++ {
				if attempt == 100 {
					setupErrs <- fmt.Errorf("%s: still refused after %d attempts", email, attempt)
					return
				}
				r, err := c.send(http.MethodPost, srv.URL+path, body)
				if err != nil {
					setupErrs <- err
					return
				}
				if r.Status == http.StatusTooManyRequests {
					// bcrypt slots are bounded on purpose, and the server
					// has waited for one before saying so: under a loaded
					// machine (and -race) a client is told to come back.
					continue
				}
				tok, err := tokensOf(r, status)
				if err != nil {
					setupErrs <- fmt.Errorf("%s %s: %w", path, email, err)
					return
				}
				sid, err := sessionIDOf(tok.RefreshToken)
				if err != nil {
					setupErrs <- err
					return
				}
				clients[k] = append(clients[k], &crashSession{id: sid, refresh: tok.RefreshToken})
				path, status, body = "/auth/login", http.StatusOK, login
			}
		})
	}
	setup.Wait()
	close(setupErrs)
	for err := range setupErrs {
		t.Fatal(err)
	}

	// The load: each client rotates its sessions in turn, each at most once
	// per pgCrashSpacing, until PostgreSQL is crashed; a failure after the
	// crash ends the client (it keeps the tokens it has, as a real client
	// keeps them on a 503), a failure before it fails the test.
	var (
		answered atomic.Int64
		crashed  atomic.Bool
		crashNow = make(chan struct{})
		once     sync.Once
		load     sync.WaitGroup
		failures = make(chan error, pgCrashClients)
	)
	for k := range clients {
		load.Go(func() {
			for i := 0; ; i++ {
				s := clients[k][i%l.sessions]
				if wait := time.Until(s.last.Add(l.spacing)); wait > 0 {
					time.Sleep(wait) // pacing the load, not synchronising
				}
				r, err := c.refresh(srv, s.refresh)
				if err == nil && r.Status == http.StatusOK {
					tok, terr := tokensOf(r, http.StatusOK)
					if terr != nil {
						failures <- terr
						return
					}
					s.history = append(s.history, s.refresh)
					s.refresh, s.last = tok.RefreshToken, time.Now()
					if answered.Add(1) == int64(rotations) {
						once.Do(func() { close(crashNow) })
					}
					continue
				}
				if crashed.Load() {
					return
				}
				if err == nil {
					err = fmt.Errorf("refresh under load: %s", r)
				}
				failures <- err
				return
			}
		})
	}
	select {
	case <-crashNow:
	case err := <-failures:
		t.Fatal(err)
	}
	crashed.Store(true)
	pg.Crash()
	load.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}

	// What the crash did, from the database itself: each session is at the
	// client's generation, one behind it (a rotation the store lost, which
	// the rule must recover), or one past it (a rotation committed whose
	// answer the crash cut off, which the grace window recovers). Nothing
	// else may happen.
	stored := storedGenerations(t, pg.URL)
	var lost, unanswered, total int
	for _, mine := range clients {
		for _, s := range mine {
			total++
			gen := claimsOf(t, s.refresh).Gen
			switch stored[s.id] {
			case gen:
			case gen - 1:
				lost++
			case gen + 1:
				unanswered++
			default:
				t.Errorf("session %s at generation %d after the crash; the client's last token is for %d", s.id, stored[s.id], gen)
			}
		}
	}

	// Every client goes on with the last token it received: twice, so the
	// rotation after a recovered one works too. tokengate was never
	// restarted; its pool reconnects.
	waitReady(t, c, srv, 30*time.Second)
	for _, mine := range clients {
		for _, s := range mine {
			for step := range 2 {
				r, err := c.refresh(srv, s.refresh)
				if err != nil {
					t.Fatal(err)
				}
				tok, err := tokensOf(r, http.StatusOK)
				if err != nil {
					t.Errorf("session %s after the crash, refresh %d: signed out: %v", s.id, step+1, err)
					break
				}
				s.history = append(s.history, s.refresh)
				s.refresh = tok.RefreshToken
			}
		}
	}
	if t.Failed() {
		return
	}

	// A token two generations ahead was never issued for any state the
	// store could have come back in: refused, and the session lives on.
	s := clients[0][0]
	ahead := forgeRefresh(t, s.refresh, 2)
	wantRefused(t, c, srv, "a refresh token two generations ahead", ahead, auth.ReasonTokenInvalid)
	// A token far older than the grace window's one generation is reuse:
	// the session ends, for its current token too.
	s = clients[1][0]
	if len(s.history) < 3 {
		t.Fatalf("session %s rotated only %d times", s.id, len(s.history))
	}
	wantRefused(t, c, srv, "a reused older refresh token", s.history[len(s.history)-3], auth.ReasonRefreshReused)
	wantRefused(t, c, srv, "the current token of the session the reuse ended", s.refresh, auth.ReasonSessionRevoked)
	// The first session was not harmed by the forged token.
	if r, err := c.refresh(srv, clients[0][0].refresh); err != nil || r.Status != http.StatusOK {
		t.Errorf("refresh after the forged token was refused: %v %v", r, err)
	}

	t.Logf("crashed PostgreSQL after %d answered rotations: %d sessions of %d clients, none signed out; "+
		"%d rotations lost by the crash and recovered by the lost-rotation rule, %d committed but unanswered (grace window)",
		answered.Load(), total, pgCrashClients, lost, unanswered)
}

// storedGenerations reads every session's generation straight from the
// database.
func storedGenerations(t *testing.T, url string) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var conn *pgx.Conn
	var err error
	// The server is starting: crash recovery may still be replaying.
	for conn == nil {
		conn, err = pgx.Connect(ctx, url)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("connect after the crash: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT id, generation FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var gen int64
		if err := rows.Scan(&id, &gen); err != nil {
			t.Fatal(err)
		}
		out[id] = gen
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitReady polls /readyz until the server's store answers again.
func waitReady(t *testing.T, c *client, srv *Server, bound time.Duration) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		r, err := c.send(http.MethodGet, srv.URL+"/readyz", "")
		if err == nil && r.Status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tokengate not ready %v after PostgreSQL came back: %v %v", bound, r, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a readiness probe
	}
}

// forgeRefresh signs, with the server's own refresh secret, the token the
// server would issue ahead generations after raw's: one it never issued.
func forgeRefresh(t *testing.T, raw string, ahead int64) string {
	t.Helper()
	cl := claimsOf(t, raw)
	codec := token.New(token.Config{
		AccessSecret: testserver.AccessSecret, RefreshSecret: testserver.RefreshSecret,
		Issuer: "tokengate", Audience: "tokengate", AccessTTL: 15 * time.Minute, Now: time.Now,
	})
	tok, err := codec.IssueRefresh(auth.RefreshClaims{UserID: cl.Sub, SessionID: cl.Sid, TokenVersion: cl.Ver,
		Generation: cl.Gen + ahead, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// wantRefused sends a refresh and wants 401 with reason.
func wantRefused(t *testing.T, c *client, srv *Server, what, refresh string, reason auth.Reason) {
	t.Helper()
	r, err := c.refresh(srv, refresh)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var problem struct {
		Reason string `json:"reason"`
	}
	if r.Status != http.StatusUnauthorized || json.Unmarshal(r.Body, &problem) != nil || problem.Reason != string(reason) {
		t.Errorf("%s: %s, want 401 with reason %s", what, r, reason)
	}
}
