package integration

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tokengate/tokengate/internal/pgtest"
)

// startInstances starts n tokengate processes on one PostgreSQL database,
// all at once, so they also race to apply the migrations.
func startInstances(t *testing.T, n int, env Env) []*Server {
	t.Helper()
	bin := binary(t)
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() { servers[i], errs[i] = launch(t, bin, fmt.Sprintf("instance %d", i), env) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return servers
}

func TestThreeInstancesShareOnePostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	// Separate budgets per process are documented; here they are out of
	// the way.
	env := Env{"DATABASE_URL": url, "RATE_LIMIT_REFRESH": "100000/1m"}

	t.Run("default grace", func(t *testing.T) {
		servers := startInstances(t, 3, env)
		c := newClient(t)

		t.Run("60 parallel refreshes of one token across the instances advance it once", func(t *testing.T) {
			tok := c.register(servers[0], "parallel@example.com")
			sid := claimsOf(t, tok.RefreshToken).Sid
			const parallel = 60
			replies := make([]*reply, parallel)
			errs := make([]error, parallel)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range parallel {
				wg.Go(func() {
					<-start
					replies[i], errs[i] = c.refresh(servers[i%len(servers)], tok.RefreshToken)
				})
			}
			began := time.Now()
			close(start)
			wg.Wait()
			took := time.Since(began)
			for i := range parallel {
				if errs[i] != nil {
					t.Fatalf("request %d: %v", i, errs[i])
				}
				got, err := tokensOf(replies[i], http.StatusOK)
				if err != nil {
					t.Errorf("request %d to instance %d: %v", i, i%len(servers), err)
					continue
				}
				if gen := claimsOf(t, got.RefreshToken).Gen; gen != 2 {
					t.Errorf("request %d: tokens for generation %d, want 2", i, gen)
				}
			}
			if gen := sessionGeneration(t, url, sid); gen != 2 {
				t.Fatalf("generation %d after %d parallel refreshes of one token, want exactly one advance (2)", gen, parallel)
			}
			t.Logf("%d parallel refreshes on %d instances: all answered in %v, one rotation", parallel, len(servers), took.Round(time.Millisecond))
		})

		t.Run("logoutAll on one instance ends refreshes on all", func(t *testing.T) {
			sessions := []string{c.register(servers[0], "everywhere@example.com").RefreshToken}
			var access string
			for _, s := range servers {
				tok := c.login(s, "everywhere@example.com")
				sessions = append(sessions, tok.RefreshToken)
				access = tok.AccessToken
			}
			if r := c.do(http.MethodPost, servers[1].URL+"/auth/logout-all", "", "x-access-token", access); r.Status != http.StatusNoContent {
				t.Fatalf("logout-all: %s", r)
			}
			for _, s := range servers {
				for i, rt := range sessions {
					r, err := c.refresh(s, rt)
					if err != nil {
						t.Fatal(err)
					}
					if p := r.problem(); r.Status != http.StatusUnauthorized || p.Reason != "SESSION_REVOKED" {
						t.Errorf("session %d on %s after logoutAll elsewhere: %s, want 401 SESSION_REVOKED", i, s.name, r)
					}
				}
			}
		})
	})

	// Long enough for a loaded CI machine to send the predecessor inside the
	// window, short enough to wait out.
	t.Run("short grace", func(t *testing.T) {
		const grace = 4 * time.Second
		short := Env{"REFRESH_REUSE_GRACE": grace.String()}
		for k, v := range env {
			short[k] = v
		}
		servers := startInstances(t, 3, short)
		c := newClient(t)
		tok := c.register(servers[0], "rotated@example.com")
		sid := claimsOf(t, tok.RefreshToken).Sid

		rotated := time.Now()
		r, err := c.refresh(servers[0], tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		newest := c.tokens(r, http.StatusOK)

		// The predecessor, on another instance inside the window: the same
		// client's parallel request, answered for the current generation.
		r, err = c.refresh(servers[1], tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(rotated); elapsed >= grace {
			t.Fatalf("the grace request came %v after the rotation, beyond the %v window; the machine is too slow for this check", elapsed, grace)
		}
		graced := c.tokens(r, http.StatusOK)
		if gen := claimsOf(t, graced.RefreshToken).Gen; gen != 2 {
			t.Errorf("grace answer for generation %d, want 2", gen)
		}
		if gen := sessionGeneration(t, url, sid); gen != 2 {
			t.Errorf("generation %d after a grace answer, want 2 (not advanced again)", gen)
		}

		// After the window, on the third instance: reuse. The session ends,
		// its newest token included, on every instance.
		time.Sleep(time.Until(rotated.Add(grace + 200*time.Millisecond))) // a real wall-clock window in other processes
		r, err = c.refresh(servers[2], tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, r, http.StatusUnauthorized, "UNAUTHENTICATED", "REFRESH_REUSED")
		for _, s := range servers {
			r, err := c.refresh(s, newest.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			wantProblem(t, r, http.StatusUnauthorized, "UNAUTHENTICATED", "SESSION_REVOKED")
		}
	})
}
