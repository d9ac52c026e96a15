package middleware_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/internal/teststores"
	"github.com/tokengate/tokengate/middleware"
	"github.com/tokengate/tokengate/ratelimit"
	"github.com/tokengate/tokengate/rest"
)

// whoami answers with the caller the middleware decided on, so each test
// sees exactly what a handler would.
func whoami(w http.ResponseWriter, r *http.Request) {
	json.NewEncoder(w).Encode(auth.CallerFromContext(r.Context()))
}

type harness struct {
	*testserver.Stack
	srv *httptest.Server
}

func newHarness(t *testing.T, opts testserver.Options) *harness {
	t.Helper()
	st := testserver.NewStack(t, opts)
	r := chi.NewRouter()
	r.Use(middleware.ValidateTokens(st.Service, rest.NewErrorWriter(st.Logger)))
	r.Get("/whoami", whoami)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &harness{Stack: st, srv: srv}
}

type result struct {
	status int
	header http.Header
	caller auth.Caller
	body   string
}

func (h *harness) get(t testing.TB, headers ...string) result {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/whoami", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf strings.Builder
	var caller auth.Caller
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&caller); err != nil {
			t.Fatal(err)
		}
	} else {
		b := make([]byte, 4096)
		n, _ := res.Body.Read(b)
		buf.Write(b[:n])
	}
	return result{status: res.StatusCode, header: res.Header, caller: caller, body: buf.String()}
}

func (h *harness) generation(t testing.TB, sessionID string) int64 {
	t.Helper()
	sess, _, err := h.Store.SessionState(context.Background(), sessionID)
	if err != nil {
		t.Fatal(err)
	}
	return sess.Generation
}

const (
	access  = edge.HeaderAccessToken
	refresh = edge.HeaderRefreshToken
)

func TestNoTokensGoOnAnonymous(t *testing.T) {
	h := newHarness(t, testserver.Options{})
	got := h.get(t)
	if got.status != 200 || got.caller.Authenticated() || got.caller.Reason != auth.ReasonTokenMissing {
		t.Fatalf("got %+v", got)
	}
	if got.header.Get("Cache-Control") == "no-store" {
		t.Error("an anonymous request without tokens need not be uncacheable")
	}
	if !strings.Contains(strings.Join(got.header.Values("Vary"), ","), "x-access-token") {
		t.Errorf("Vary = %v, want the token headers", got.header.Values("Vary"))
	}
}

func TestValidAccessTokenNeedsNoStore(t *testing.T) {
	h := newHarness(t, testserver.Options{})
	tok := h.SignUp(t, "ada@example.com")
	// With the store closed any query fails, so a 200 with the caller proves
	// the access path did no I/O.
	h.Store.Close()
	for name, hdr := range map[string][]string{
		"x-access-token":     {access, tok.AccessToken},
		"bearer":             {"Authorization", "Bearer " + tok.AccessToken},
		"bearer any case":    {"Authorization", "bEaReR " + tok.AccessToken},
		"same in both":       {access, tok.AccessToken, "Authorization", "Bearer " + tok.AccessToken},
		"refresh is ignored": {access, tok.AccessToken, refresh, "garbage"},
	} {
		t.Run(name, func(t *testing.T) {
			got := h.get(t, hdr...)
			if got.status != 200 || got.caller.UserID != tok.User.ID || got.caller.SessionID != tok.SessionID {
				t.Fatalf("got %+v", got)
			}
			if got.header.Get(access) != "" {
				t.Error("a valid access token must not be re-issued")
			}
			if got.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q on a request that sent a token", got.header.Get("Cache-Control"))
			}
		})
	}
}

func TestBadAccessTokenGoesOnAnonymousWithReason(t *testing.T) {
	h := newHarness(t, testserver.Options{})
	tok := h.SignUp(t, "ada@example.com")
	got := h.get(t, access, "not-a-token")
	if got.status != 200 || got.caller.Authenticated() || got.caller.Reason != auth.ReasonTokenInvalid {
		t.Fatalf("invalid: %+v", got)
	}
	h.Clock.Advance(16 * time.Minute)
	got = h.get(t, access, tok.AccessToken)
	if got.status != 200 || got.caller.Authenticated() || got.caller.Reason != auth.ReasonTokenExpired {
		t.Fatalf("expired: %+v", got)
	}
	got = h.get(t, access, tok.RefreshToken)
	if got.caller.Authenticated() || got.caller.Reason != auth.ReasonTokenInvalid {
		t.Fatalf("refresh token as access token: %+v", got)
	}
}

func TestConflictingCredentialsAreRefused(t *testing.T) {
	h := newHarness(t, testserver.Options{})
	a := h.SignUp(t, "ada@example.com")
	b := h.SignUp(t, "bob@example.com")
	for name, hdr := range map[string][]string{
		"header and bearer differ": {access, a.AccessToken, "Authorization", "Bearer " + b.AccessToken},
		"access header twice":      {access, a.AccessToken, access, b.AccessToken},
		"refresh header twice":     {refresh, a.RefreshToken, refresh, a.RefreshToken},
		"authorization twice":      {"Authorization", "Bearer " + a.AccessToken, "Authorization", "Bearer " + a.AccessToken},
	} {
		t.Run(name, func(t *testing.T) {
			got := h.get(t, hdr...)
			if got.status != http.StatusBadRequest || !strings.Contains(got.body, `"BAD_REQUEST"`) {
				t.Fatalf("got %d %s", got.status, got.body)
			}
		})
	}
}

func TestRefreshFallbackRotatesAndReissues(t *testing.T) {
	teststores.Each(t, func(t *testing.T, st auth.Store) {
		h := newHarness(t, testserver.Options{Store: st})
		tok := h.SignUp(t, "ada@example.com")
		h.Clock.Advance(16 * time.Minute)

		got := h.get(t, access, tok.AccessToken, refresh, tok.RefreshToken)
		if got.status != 200 || got.caller.UserID != tok.User.ID || got.caller.SessionID != tok.SessionID {
			t.Fatalf("got %+v", got)
		}
		newAccess, newRefresh := got.header.Get(access), got.header.Get(refresh)
		if newAccess == "" || newRefresh == "" || newRefresh == tok.RefreshToken {
			t.Fatalf("tokens not re-issued: %v", got.header)
		}
		if got.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q", got.header.Get("Cache-Control"))
		}
		exposed := strings.ToLower(got.header.Get("Access-Control-Expose-Headers"))
		for _, name := range []string{"x-access-token", "x-refresh-token", "www-authenticate"} {
			if !strings.Contains(exposed, name) {
				t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, name)
			}
		}
		if g := h.generation(t, tok.SessionID); g != 2 {
			t.Errorf("generation = %d, want 2", g)
		}
		// The re-issued pair works: the access token without I/O, the
		// refresh token for the next rotation.
		if got := h.get(t, access, newAccess); got.caller.UserID != tok.User.ID {
			t.Errorf("re-issued access token refused: %+v", got)
		}
		h.Clock.Advance(16 * time.Minute)
		if got := h.get(t, refresh, newRefresh); got.caller.UserID != tok.User.ID {
			t.Errorf("re-issued refresh token refused: %+v", got)
		}
		if g := h.generation(t, tok.SessionID); g != 3 {
			t.Errorf("generation = %d, want 3", g)
		}
	})
}

func TestParallelRefreshesRotateOnce(t *testing.T) {
	teststores.Each(t, func(t *testing.T, st auth.Store) {
		h := newHarness(t, testserver.Options{Store: st})
		tok := h.SignUp(t, "ada@example.com")
		h.Clock.Advance(16 * time.Minute)

		const parallel = 20
		var wg sync.WaitGroup
		results := make([]result, parallel)
		start := make(chan struct{})
		for i := range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i] = h.get(t, refresh, tok.RefreshToken)
			}()
		}
		close(start)
		wg.Wait()
		for i, got := range results {
			if got.status != 200 || got.caller.UserID != tok.User.ID || got.header.Get(refresh) == "" {
				t.Errorf("request %d: %+v", i, got)
			}
		}
		if g := h.generation(t, tok.SessionID); g != 2 {
			t.Fatalf("generation = %d after %d parallel refreshes, want exactly one advance (2)", g, parallel)
		}
	})
}

func TestReuseWithinGraceIsTheSameClient(t *testing.T) {
	h := newHarness(t, testserver.Options{})
	tok := h.SignUp(t, "ada@example.com")
	first := h.get(t, refresh, tok.RefreshToken)
	if first.caller.UserID == "" {
		t.Fatalf("first refresh: %+v", first)
	}
	h.Clock.Advance(5 * time.Second)
	again := h.get(t, refresh, tok.RefreshToken)
	if again.status != 200 || again.caller.UserID != tok.User.ID || again.header.Get(refresh) == "" {
		t.Fatalf("reuse within grace: %+v", again)
	}
	if g := h.generation(t, tok.SessionID); g != 2 {
		t.Errorf("generation = %d, want 2: a grace answer must not advance it", g)
	}
	// Both answers name the current generation, so either pair goes on.
	h.Clock.Advance(time.Minute)
	if got := h.get(t, refresh, again.header.Get(refresh)); got.caller.UserID != tok.User.ID {
		t.Fatalf("the grace answer's refresh token does not rotate: %+v", got)
	}
}

func TestReuseAfterGraceEndsTheSession(t *testing.T) {
	teststores.Each(t, func(t *testing.T, st auth.Store) {
		h := newHarness(t, testserver.Options{Store: st})
		tok := h.SignUp(t, "ada@example.com")
		other := h.SignIn(t, "ada@example.com")
		rotated := h.get(t, refresh, tok.RefreshToken)
		newest := rotated.header.Get(refresh)

		h.Clock.Advance(11 * time.Second) // past REFRESH_REUSE_GRACE
		stolen := h.get(t, refresh, tok.RefreshToken)
		if stolen.status != 200 || stolen.caller.Authenticated() || stolen.caller.Reason != auth.ReasonRefreshReused {
			t.Fatalf("reuse after grace: %+v", stolen)
		}
		if stolen.header.Get(refresh) != "" {
			t.Error("tokens issued to a reused refresh token")
		}
		// The whole session is gone, its newest token included.
		if got := h.get(t, refresh, newest); got.caller.Authenticated() || got.caller.Reason != auth.ReasonSessionRevoked {
			t.Fatalf("newest token of the stolen session: %+v", got)
		}
		// Other sessions of the same user are untouched.
		if got := h.get(t, refresh, other.RefreshToken); got.caller.UserID != tok.User.ID {
			t.Fatalf("another session died too: %+v", got)
		}
	})
}

func TestLogoutAllStopsEveryRefresh(t *testing.T) {
	h := newHarness(t, testserver.Options{})
	a := h.SignUp(t, "ada@example.com")
	b := h.SignIn(t, "ada@example.com")
	ctx := auth.NewContextWithCaller(context.Background(), auth.Caller{UserID: a.User.ID, SessionID: a.SessionID})
	if err := h.Service.LogoutAll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []auth.Tokens{a, b} {
		if got := h.get(t, refresh, tok.RefreshToken); got.caller.Authenticated() || got.caller.Reason != auth.ReasonSessionRevoked {
			t.Errorf("refresh after logoutAll: %+v", got)
		}
	}
}

func TestStoreUnavailableIs503AndKeepsAccessWorking(t *testing.T) {
	st := teststores.OpenPostgres(t)
	h := newHarness(t, testserver.Options{Store: st})
	tok := h.SignUp(t, "ada@example.com")
	st.Close()

	got := h.get(t, refresh, tok.RefreshToken)
	if got.status != http.StatusServiceUnavailable || !strings.Contains(got.body, `"STORE_UNAVAILABLE"`) {
		t.Fatalf("refresh with the store down: %d %s", got.status, got.body)
	}
	if got.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if got := h.get(t, access, tok.AccessToken); got.status != 200 || got.caller.UserID != tok.User.ID {
		t.Fatalf("access token with the store down: %+v", got)
	}
}

func TestRefreshBudgetPerSession(t *testing.T) {
	clock := &testserver.Clock{}
	one, err := ratelimit.ParseRate("1/1h")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, testserver.Options{Limits: auth.Limits{Refresh: ratelimit.New(one, clock.Now)}})
	tok := h.SignUp(t, "ada@example.com")
	first := h.get(t, refresh, tok.RefreshToken)
	if first.status != 200 {
		t.Fatalf("first: %+v", first)
	}
	h.Clock.Advance(time.Minute)
	got := h.get(t, refresh, first.header.Get(refresh))
	if got.status != http.StatusTooManyRequests || got.header.Get("Retry-After") == "" {
		t.Fatalf("second rotation over budget: %d %v", got.status, got.header)
	}
}

// countingAuthenticator counts the access tokens whose signature the
// middleware had checked.
type countingAuthenticator struct {
	*auth.Service
	mu       sync.Mutex
	verified int
}

func (c *countingAuthenticator) Authenticate(ctx context.Context, raw string) (auth.AccessClaims, error) {
	c.mu.Lock()
	c.verified++
	c.mu.Unlock()
	return c.Service.Authenticate(ctx, raw)
}

func (c *countingAuthenticator) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.verified
	c.verified = 0
	return n
}

// A client refreshing sends its expired access token with its refresh
// token; the refresh token decides, so the expired token's signature is
// not checked. Alone, an access token is always checked, so a forged
// expired one is still TOKEN_INVALID, not TOKEN_EXPIRED.
func TestLapsedAccessTokenIsNotVerifiedWhenARefreshTokenDecides(t *testing.T) {
	st := testserver.NewStack(t, testserver.Options{})
	counting := &countingAuthenticator{Service: st.Service}
	r := chi.NewRouter()
	r.Use(middleware.ValidateTokens(counting, rest.NewErrorWriter(st.Logger)))
	r.Get("/whoami", whoami)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	h := &harness{Stack: st, srv: srv}

	tok := h.SignUp(t, "ada@example.com")
	forged := tok.AccessToken[:strings.LastIndexByte(tok.AccessToken, '.')+1] + "c2lnbmVkIGJ5IG5vYm9keQ"

	if got := h.get(t, access, tok.AccessToken, refresh, tok.RefreshToken); got.caller.UserID != tok.User.ID || got.header.Get(refresh) != "" {
		t.Fatalf("fresh access token with a refresh token: %+v", got)
	}
	if n := counting.take(); n != 1 {
		t.Errorf("a fresh access token was verified %d times, want 1", n)
	}

	h.Clock.Advance(16 * time.Minute)
	if got := h.get(t, access, tok.AccessToken); got.caller.Reason != auth.ReasonTokenExpired {
		t.Errorf("expired access token alone: %+v, want reason TOKEN_EXPIRED", got)
	}
	if got := h.get(t, access, forged); got.caller.Reason != auth.ReasonTokenInvalid {
		t.Errorf("forged expired access token alone: %+v, want reason TOKEN_INVALID", got)
	}
	if n := counting.take(); n != 2 {
		t.Errorf("access tokens sent alone were verified %d times, want 2", n)
	}

	got := h.get(t, access, forged, refresh, tok.RefreshToken)
	if got.caller.UserID != tok.User.ID || got.header.Get(refresh) == "" {
		t.Fatalf("expired access token with a refresh token: %+v, want a rotation", got)
	}
	h.Clock.Advance(16 * time.Minute)
	if got := h.get(t, access, got.header.Get(access), refresh, got.header.Get(refresh)); got.caller.UserID != tok.User.ID {
		t.Fatalf("second refresh: %+v", got)
	}
	if n := counting.take(); n != 0 {
		t.Errorf("expired access tokens sent with a refresh token were verified %d times, want 0", n)
	}
}
