package integration

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// recoveryBound is how soon after PostgreSQL is back every operation must
// work again, with no restart of tokengate.
const recoveryBound = 10 * time.Second

// TestPostgresGoesAwayAndComesBack stops the database under a running
// tokengate and starts it again. It runs on a private cluster, so other
// packages' tests, which share the `make test` cluster, never see it down.
func TestPostgresGoesAwayAndComesBack(t *testing.T) {
	t.Parallel()
	pg := newPGCluster(t)
	srv := startServer(t, "tokengate", Env{"DATABASE_URL": pg.URL})
	c := newClient(t)

	prober := c.register(srv, "prober@example.com")
	victim := c.register(srv, "victim@example.com")
	sid := claimsOf(t, victim.RefreshToken).Sid

	// Throughout, a client with a valid access token calls routes that need
	// no store: the middleware must let it through without one.
	probe := startAccessProbe(c, srv, prober.AccessToken)

	pg.Stop()
	down := probe.count()

	// A refresh needs the store: 503 STORE_UNAVAILABLE with Retry-After,
	// never 401, by every way a client refreshes.
	for name, send := range map[string]func() (*reply, error){
		"POST /auth/refresh header": func() (*reply, error) { return c.refresh(srv, victim.RefreshToken) },
		"POST /auth/refresh body": func() (*reply, error) {
			return c.send(http.MethodPost, srv.URL+"/auth/refresh", `{"refreshToken":"`+victim.RefreshToken+`"}`)
		},
		"middleware on GET /auth/me": func() (*reply, error) {
			return c.send(http.MethodGet, srv.URL+"/auth/me", "", "x-refresh-token", victim.RefreshToken)
		},
		"middleware on GraphQL": func() (*reply, error) {
			return c.send(http.MethodPost, srv.URL+"/graphql", `{"query":"{ __typename }"}`, "x-refresh-token", victim.RefreshToken)
		},
	} {
		r, err := send()
		if err != nil {
			t.Fatalf("%s with the store down: %v", name, err)
		}
		wantUnavailable(t, name, r)
	}
	// Everything else that needs the store says so, and never that the
	// caller's tokens or password are wrong.
	// The caller's own account is answered from memory (this instance
	// signed the prober up), on both transports (API.md section 9).
	if r := c.do(http.MethodGet, srv.URL+"/auth/me", "", "x-access-token", prober.AccessToken); r.Status != http.StatusOK ||
		!strings.Contains(string(r.Body), `"prober@example.com"`) {
		t.Errorf("GET /auth/me with an access token and the store down: %s, want 200 from the user cache", r)
	}
	if r := c.do(http.MethodPost, srv.URL+"/graphql", `{"query":"{ loggedInUser { email } }"}`, "x-access-token", prober.AccessToken); r.Status != http.StatusOK ||
		!strings.Contains(string(r.Body), `"prober@example.com"`) {
		t.Errorf("loggedInUser with the store down: %s, want the user from the cache", r)
	}
	wantUnavailable(t, "GET /auth/sessions with an access token", c.do(http.MethodGet, srv.URL+"/auth/sessions", "", "x-access-token", prober.AccessToken))
	wantUnavailable(t, "login", c.do(http.MethodPost, srv.URL+"/auth/login",
		`{"email":"victim@example.com","password":"`+password+`"}`))
	if r := c.do(http.MethodGet, srv.URL+"/readyz", ""); r.Status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store down: %s, want 503", r)
	}
	if r := c.do(http.MethodPost, srv.URL+"/graphql", `{"query":"mutation($t: String) { refresh(refreshToken: $t) { accessToken } }","variables":{"t":"`+victim.RefreshToken+`"}}`); r.Status != http.StatusOK ||
		!strings.Contains(string(r.Body), `"code":"STORE_UNAVAILABLE"`) {
		t.Errorf("GraphQL refresh mutation with the store down: %s, want a STORE_UNAVAILABLE error", r)
	}
	// Let the probe see the outage for a while.
	probe.waitFor(down + 20)

	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	duringOutage := probe.count() - down
	deadline := back.Add(recoveryBound)
	// The database is back: without restarting tokengate, readiness and
	// every operation return within the bound.
	for {
		r, err := c.send(http.MethodGet, srv.URL+"/readyz", "")
		if err == nil && r.Status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still not 200 %v after PostgreSQL came back: %v %v", recoveryBound, r, err)
		}
		time.Sleep(50 * time.Millisecond) // polling an external process's recovery
	}
	// None of the refreshes answered 503 advanced the session.
	if gen := sessionGeneration(t, pg.URL, sid); gen != 1 {
		t.Fatalf("generation %d after the outage, want 1: a refresh answered 503 advanced it", gen)
	}
	// So the client's kept refresh token rotates normally.
	var next *reply
	for {
		r, err := c.refresh(srv, victim.RefreshToken)
		if err == nil && r.Status == http.StatusOK {
			next = r
			break
		}
		if err == nil && r.Status != http.StatusServiceUnavailable {
			t.Fatalf("refresh after the outage: %s, want 200 (or 503 until the pool reconnects)", r)
		}
		if time.Now().After(deadline) {
			t.Fatalf("refresh still failing %v after PostgreSQL came back: %v %v", recoveryBound, r, err)
		}
		time.Sleep(50 * time.Millisecond) // polling an external process's recovery
	}
	tok := c.tokens(next, http.StatusOK)
	if got := claimsOf(t, tok.RefreshToken).Gen; got != 2 {
		t.Errorf("generation in the rotated token = %d, want 2", got)
	}
	if gen := sessionGeneration(t, pg.URL, sid); gen != 2 {
		t.Errorf("generation %d after one rotation, want 2", gen)
	}
	c.login(srv, "victim@example.com")
	if r := c.do(http.MethodGet, srv.URL+"/auth/me", "", "x-access-token", tok.AccessToken); r.Status != http.StatusOK {
		t.Errorf("/auth/me after the outage: %s", r)
	}
	recovered := time.Since(back)

	total, failures := probe.stop()
	if len(failures) > 0 {
		t.Errorf("%d of %d access-token requests failed (first: %s)", len(failures), total, failures[0])
	}
	t.Logf("%d access-token requests (%d while PostgreSQL was down), %d failed; everything worked again %v after PostgreSQL was back",
		total, duringOutage, len(failures), recovered.Round(time.Millisecond))
}

func wantUnavailable(t *testing.T, name string, r *reply) {
	t.Helper()
	if r.Status != http.StatusServiceUnavailable || r.errorCode() != "STORE_UNAVAILABLE" {
		t.Errorf("%s with the store down: %s, want 503 STORE_UNAVAILABLE", name, r)
		return
	}
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s <= 0 {
		t.Errorf("%s: Retry-After %q, want a positive number of seconds", name, r.Header.Get("Retry-After"))
	}
	if r.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("%s: a 503 must not challenge the client's tokens: %v", name, r.Header)
	}
}

// sessionGeneration reads a session's generation straight from the
// database.
func sessionGeneration(t testing.TB, url, sessionID string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var gen int64
	if err := conn.QueryRow(ctx, `SELECT generation FROM sessions WHERE id = $1`, sessionID).Scan(&gen); err != nil {
		t.Fatalf("read generation: %v", err)
	}
	return gen
}

// accessProbe calls, in a loop, routes that need a caller's access token
// but no store: /healthz and a GraphQL query of __typename.
type accessProbe struct {
	mu       sync.Mutex
	total    int
	failures []string
	more     chan struct{} // closed and replaced after each round
	done     chan struct{}
	finished chan struct{}
}

func startAccessProbe(c *client, srv *Server, access string) *accessProbe {
	p := &accessProbe{more: make(chan struct{}), done: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(p.finished)
		for {
			select {
			case <-p.done:
				return
			default:
			}
			for _, req := range []struct{ method, path, body string }{
				{http.MethodGet, "/healthz", ""},
				{http.MethodPost, "/graphql", `{"query":"{ __typename }"}`},
			} {
				r, err := c.send(req.method, srv.URL+req.path, req.body, "x-access-token", access)
				p.mu.Lock()
				p.total++
				switch {
				case err != nil:
					p.failures = append(p.failures, req.path+": "+err.Error())
				case r.Status != http.StatusOK || r.Header.Get("X-Access-Token") != "":
					p.failures = append(p.failures, req.path+": "+r.String())
				}
				close(p.more)
				p.more = make(chan struct{})
				p.mu.Unlock()
			}
			time.Sleep(10 * time.Millisecond) // pacing, not synchronisation
		}
	}()
	return p
}

func (p *accessProbe) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// waitFor returns once the probe has made n requests in all.
func (p *accessProbe) waitFor(n int) {
	for {
		p.mu.Lock()
		total, more := p.total, p.more
		p.mu.Unlock()
		if total >= n {
			return
		}
		<-more
	}
}

func (p *accessProbe) stop() (total int, failures []string) {
	close(p.done)
	<-p.finished
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total, p.failures
}
