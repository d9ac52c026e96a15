package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/metrics"
	"github.com/tokengate/tokengate/ratelimit"
	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/server"
	"github.com/tokengate/tokengate/store/sqlite"
	"github.com/tokengate/tokengate/token"
)

// flakyStore fails on demand, as a store whose database went away.
type flakyStore struct {
	auth.Store
	down atomic.Bool
}

var errDown = errors.New("connection refused")

func (s *flakyStore) RotateSession(ctx context.Context, r auth.Rotation) (auth.Rotated, bool, error) {
	if s.down.Load() {
		return auth.Rotated{}, false, auth.Unavailable(errDown)
	}
	return s.Store.RotateSession(ctx, r)
}

func (s *flakyStore) UserByEmail(ctx context.Context, email string) (auth.User, error) {
	if s.down.Load() {
		return auth.User{}, auth.Unavailable(errDown)
	}
	return s.Store.UserByEmail(ctx, email)
}

type stack struct {
	url   string
	clock *testserver.Clock
	store *flakyStore
}

// newStack serves the real handler with metrics on, over SQLite in memory.
func newStack(t *testing.T, limits func(auth.Clock) auth.Limits) *stack {
	t.Helper()
	st, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	store := &flakyStore{Store: st}
	clk := testserver.NewClock(time.Now())
	codec := token.New(token.Config{
		AccessSecret: testserver.AccessSecret, RefreshSecret: testserver.RefreshSecret,
		Issuer: "tokengate", Audience: "tokengate", AccessTTL: 15 * time.Minute, Now: clk.Now,
	})
	policy := auth.DefaultPolicy()
	policy.BcryptCost = bcrypt.MinCost
	policy.RefreshTTL = time.Hour
	policy.SessionMaxAge = 2 * time.Hour
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := metrics.New()
	svc, err := auth.NewService(store, codec, policy, limits(clk.Now), clk.Now, log, auth.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(server.New(server.Deps{Service: svc, Logger: log, GraphQL: resolvers.DefaultLimits(), Metrics: m}))
	t.Cleanup(hs.Close)
	return &stack{url: hs.URL, clock: clk, store: store}
}

// call sends a request and returns the status and the tokens of the
// response headers.
func (s *stack) call(t *testing.T, method, path, body string, headers ...string) (int, string, string) {
	t.Helper()
	res := testserver.Request(t, http.DefaultClient, s.url+path, method, body, headers...)
	return res.StatusCode, res.Header.Get("X-Access-Token"), res.Header.Get("X-Refresh-Token")
}

func (s *stack) login(t *testing.T, password string) (int, string) {
	t.Helper()
	status, _, refresh := s.call(t, http.MethodPost, "/auth/login", `{"email":"ada@example.com","password":"`+password+`"}`)
	return status, refresh
}

// refresh rotates through the middleware, as a client does, and returns
// the status of /auth/me and the new refresh token.
func (s *stack) refresh(t *testing.T, rt string) (int, string) {
	t.Helper()
	status, _, next := s.call(t, http.MethodGet, "/auth/me", "", "X-Refresh-Token", rt)
	return status, next
}

// scrape returns GET /metrics.
func (s *stack) scrape(t *testing.T) string {
	t.Helper()
	res, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s\n%s", res.Status, b)
	}
	return string(b)
}

// value returns the sample of name whose labels include every pair of
// labels ("k", "v", ...), or fails.
func value(t *testing.T, text, name string, labels ...string) float64 {
	t.Helper()
next:
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(line, labels[i]+`="`+labels[i+1]+`"`) {
				continue next
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		return v
	}
	t.Fatalf("no %s%v in /metrics:\n%s", name, labels, text)
	return 0
}

func TestMetricsCountAFlow(t *testing.T) {
	s := newStack(t, func(now auth.Clock) auth.Limits {
		return auth.Limits{
			LoginFailures: ratelimit.New(ratelimit.Rate{N: 2, Per: time.Hour}, now),
			// Three: the reuse and the revoked refresh below spend the
			// budget too, as every refused refresh does.
			Refresh: ratelimit.New(ratelimit.Rate{N: 3, Per: time.Hour}, now),
		}
	})
	if status, _, _ := s.call(t, http.MethodPost, "/auth/register", `{"email":"ada@example.com","password":"`+testserver.Password+`","name":"Ada"}`); status != http.StatusCreated {
		t.Fatalf("register: %d", status)
	}

	// Sign-ins: one success, two wrong passwords, then the account's budget
	// is spent; one while the store is down.
	_, rt := s.login(t, testserver.Password)
	s.login(t, "wrong password 1")
	s.login(t, "wrong password 2")
	if status, _ := s.login(t, testserver.Password); status != http.StatusTooManyRequests {
		t.Fatalf("third sign-in after two failures: %d, want 429", status)
	}
	// Refreshes of one session: rotated, the previous token inside the grace
	// window, the previous token again after it (reuse: the session ends),
	// and the newest token of the ended session.
	status, rt2 := s.refresh(t, rt)
	if status != http.StatusOK || rt2 == "" {
		t.Fatalf("refresh: %d", status)
	}
	if status, _ := s.refresh(t, rt); status != http.StatusOK {
		t.Fatalf("grace refresh: %d", status)
	}
	s.clock.Advance(11 * time.Second)
	s.refresh(t, rt)
	s.refresh(t, rt2)
	// Garbage, and a token past its expiry.
	s.refresh(t, "not-a-token")
	s.clock.Advance(time.Hour) // the login budget refills too
	s.store.down.Store(true)
	s.login(t, testserver.Password)
	s.store.down.Store(false)
	_, rt3 := s.login(t, testserver.Password)
	s.clock.Advance(3 * time.Hour)
	s.refresh(t, rt3)

	// A fresh session: the store goes down for one refresh (which spends
	// nothing), then its budget of three rotations is spent and the fourth
	// is refused.
	_, rt4 := s.login(t, testserver.Password)
	s.store.down.Store(true)
	if status, _ := s.refresh(t, rt4); status != http.StatusServiceUnavailable {
		t.Fatalf("refresh with the store down: %d, want 503", status)
	}
	s.store.down.Store(false)
	_, rt4 = s.refresh(t, rt4)
	_, rt4 = s.refresh(t, rt4)
	_, rt4 = s.refresh(t, rt4)
	if status, _ := s.refresh(t, rt4); status != http.StatusTooManyRequests {
		t.Fatalf("fourth rotation: %d, want 429", status)
	}

	text := s.scrape(t)
	for _, c := range []struct {
		name, label, value string
		want               float64
	}{
		{"tokengate_logins_total", "outcome", auth.LoginSuccess, 3},
		{"tokengate_logins_total", "outcome", auth.LoginInvalidCredentials, 2},
		{"tokengate_logins_total", "outcome", auth.LoginRateLimited, 1},
		{"tokengate_logins_total", "outcome", auth.LoginError, 1},
		{"tokengate_refreshes_total", "outcome", auth.RefreshRotated, 4},
		{"tokengate_refreshes_total", "outcome", auth.RefreshGrace, 1},
		{"tokengate_refreshes_total", "outcome", auth.RefreshReused, 1},
		{"tokengate_refreshes_total", "outcome", auth.RefreshRevoked, 1},
		{"tokengate_refreshes_total", "outcome", auth.RefreshInvalid, 1},
		{"tokengate_refreshes_total", "outcome", auth.RefreshExpired, 1},
		{"tokengate_refreshes_total", "outcome", auth.RefreshStoreError, 1},
		{"tokengate_refreshes_total", "outcome", auth.RefreshRateLimited, 1},
		{"tokengate_rate_limited_total", "budget", auth.BudgetLogin, 1},
		{"tokengate_rate_limited_total", "budget", auth.BudgetRefresh, 1},
		{"tokengate_rate_limited_total", "budget", auth.BudgetIP, 0},
	} {
		if got := value(t, text, c.name, c.label, c.value); got != c.want {
			t.Errorf("%s{%s=%q} = %v, want %v", c.name, c.label, c.value, got, c.want)
		}
	}
	if got := value(t, text, "tokengate_http_request_duration_seconds_count", "route", "/auth/login", "method", "POST", "code", "200"); got != 3 {
		t.Errorf("latency count of successful sign-ins = %v, want 3", got)
	}
	if got := value(t, text, "tokengate_http_request_duration_seconds_count", "route", "/auth/me", "method", "GET", "code", "503"); got != 1 {
		t.Errorf("latency count of /auth/me answered 503 = %v, want 1", got)
	}
}

func TestMetricsCountIPBudgetAndUseRoutePatterns(t *testing.T) {
	s := newStack(t, func(now auth.Clock) auth.Limits {
		return auth.Limits{IP: ratelimit.New(ratelimit.Rate{N: 2, Per: time.Hour}, now)}
	})
	s.call(t, http.MethodPost, "/auth/register", `{"email":"ada@example.com","password":"`+testserver.Password+`","name":"Ada"}`)
	_, access, _ := s.call(t, http.MethodPost, "/auth/login", `{"email":"ada@example.com","password":"`+testserver.Password+`"}`)
	if status, _ := s.login(t, testserver.Password); status != http.StatusTooManyRequests {
		t.Fatalf("third IP-budgeted call: %d, want 429", status)
	}
	s.call(t, http.MethodDelete, "/auth/sessions/0b5e3c1e-0000-4000-8000-000000000000", "", "X-Access-Token", access)
	s.call(t, http.MethodGet, "/no/such/path/0b5e3c1e", "")

	text := s.scrape(t)
	if got := value(t, text, "tokengate_rate_limited_total", "budget", auth.BudgetIP); got != 1 {
		t.Errorf("ip rejections = %v, want 1", got)
	}
	if got := value(t, text, "tokengate_logins_total", "outcome", auth.LoginRateLimited); got != 1 {
		t.Errorf("rate-limited sign-ins = %v, want 1", got)
	}
	if got := value(t, text, "tokengate_http_request_duration_seconds_count", "route", "/auth/sessions/{id}", "method", "DELETE", "code", "404"); got != 1 {
		t.Errorf("DELETE /auth/sessions/{id} = %v, want 1", got)
	}
	if got := value(t, text, "tokengate_http_request_duration_seconds_count", "route", "unmatched", "code", "404"); got != 1 {
		t.Errorf("unmatched = %v, want 1", got)
	}
	if strings.Contains(text, "0b5e3c1e") {
		t.Error("a raw path reached a label value")
	}
}
