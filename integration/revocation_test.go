package integration

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

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
