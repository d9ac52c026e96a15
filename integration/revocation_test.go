package integration

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tokengate/tokengate/internal/pgtest"
)

// TestRevocationReachesEveryInstance: a logout on one instance is refused
// on the two others, with no database read on their access path (the
// LISTEN feed brings it). 200 trials give the delay's distribution; the
// README records it.
func TestRevocationReachesEveryInstance(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	servers := startInstances(t, 3, Env{"DATABASE_URL": url, "RATE_LIMIT_IP": "1000000/1m", "RATE_LIMIT_LOGIN": "1000000/1m"})
	c := newClient(t)
	c.register(servers[0], "everywhere@example.com")

	const trials = 200
	var delays []time.Duration
	for i := range trials {
		tok := c.login(servers[0], "everywhere@example.com")
		others := []*Server{servers[(i+1)%3], servers[(i+2)%3]}
		for _, s := range others {
			if r := c.do(http.MethodGet, s.URL+"/auth/me", "", "x-access-token", tok.AccessToken); r.Status != http.StatusOK {
				t.Fatalf("trial %d: the fresh token on another instance: %d %s", i, r.Status, r.Body)
			}
		}
		logout := servers[i%3]
		if r := c.do(http.MethodPost, logout.URL+"/auth/logout", "", "x-access-token", tok.AccessToken); r.Status != http.StatusNoContent {
			t.Fatalf("trial %d: logout: %d %s", i, r.Status, r.Body)
		}
		done := time.Now()
		// The instance that did it refuses at once.
		if r := c.do(http.MethodGet, logout.URL+"/auth/me", "", "x-access-token", tok.AccessToken); r.Status != http.StatusUnauthorized {
			t.Fatalf("trial %d: the logging-out instance still accepts the token: %d", i, r.Status)
		}
		for _, s := range []*Server{servers[(i+1)%3], servers[(i+2)%3]} {
			deadline := done.Add(5 * time.Second) // the contract's worst case
			for {
				r := c.do(http.MethodGet, s.URL+"/auth/me", "", "x-access-token", tok.AccessToken)
				if r.Status == http.StatusUnauthorized {
					if !strings.Contains(string(r.Body), "SESSION_REVOKED") {
						t.Fatalf("trial %d: refused, but not as revoked: %s", i, r.Body)
					}
					delays = append(delays, time.Since(done))
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("trial %d: %s still accepts a logged-out session's token after 5 s", i, s.name)
				}
			}
		}
	}
	slices.Sort(delays)
	p := func(q float64) time.Duration {
		return delays[int(q*float64(len(delays)-1))].Round(10 * time.Microsecond)
	}
	summary := fmt.Sprintf("logout on one instance refused on the others: %d measurements, p50 %v, p99 %v, max %v",
		len(delays), p(0.5), p(0.99), delays[len(delays)-1].Round(10*time.Microsecond))
	t.Log(summary)
}

// TestAKilledListenerCatchesUp: the LISTEN connections are killed
// (pg_terminate_backend) and a session is revoked in the gap, so its
// notification reaches no one; the instances reconnect, catch up from the
// store, and refuse the token within the staleness bound.
func TestAKilledListenerCatchesUp(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	servers := startInstances(t, 2, Env{"DATABASE_URL": url})
	c := newClient(t)
	tok := c.register(servers[0], "gap@example.com")
	if r := c.do(http.MethodGet, servers[1].URL+"/auth/me", "", "x-access-token", tok.AccessToken); r.Status != http.StatusOK {
		t.Fatalf("before: %d %s", r.Status, r.Body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Kill every listener, then revoke by hand (as the store would) before
	// any of them is back: the NOTIFY goes to nobody.
	var killed int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no LISTEN connection to kill")
	}
	sid := claimsOf(t, tok.RefreshToken).Sid
	if _, err := conn.Exec(ctx, `UPDATE sessions SET revoked_at = now() WHERE id = $1`, sid); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	for _, s := range servers {
		deadline := revoked.Add(5 * time.Second) // REVOCATION_MAX_STALENESS
		for {
			r := c.do(http.MethodGet, s.URL+"/auth/me", "", "x-access-token", tok.AccessToken)
			if r.Status == http.StatusUnauthorized {
				t.Logf("%s refused the token %v after the revocation made while its listener was down (killed %d)", s.name, time.Since(revoked).Round(time.Millisecond), killed)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still accepts the token 5 s after a revocation made while its listener was down", s.name)
			}
		}
	}
}

// TestFailedLoginsAreLimitedAsOneInstanceWould: 30 wrong passwords spread
// round-robin over three instances meet one budget, kept in PostgreSQL.
func TestFailedLoginsAreLimitedAsOneInstanceWould(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	servers := startInstances(t, 3, Env{"DATABASE_URL": url, "RATE_LIMIT_LOGIN": "10/15m", "RATE_LIMIT_IP": "1000000/1m"})
	c := newClient(t)
	c.register(servers[0], "guessed@example.com")
	limited := 0
	for i := range 30 {
		r := c.do(http.MethodPost, servers[i%3].URL+"/auth/login", `{"email":"guessed@example.com","password":"wrong password `+fmt.Sprint(i)+`"}`)
		switch r.Status {
		case http.StatusTooManyRequests:
			limited++
		case http.StatusUnauthorized:
		default:
			t.Fatalf("attempt %d: %d %s", i, r.Status, r.Body)
		}
	}
	// One instance alone lets 3 failures through at once and then spaces
	// them a second, two, four apart: of 30 quick attempts, at most 10
	// (the budget) get through, whichever instances they reach; three
	// instances each with its own budget would have let 30 through.
	if allowed := 30 - limited; allowed > 10 {
		t.Errorf("%d of 30 failed logins spread over three instances were let through; one budget allows at most 10", allowed)
	} else {
		t.Logf("%d of 30 failed logins over three instances were let through, %d limited", allowed, limited)
	}
}
