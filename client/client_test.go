package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokengate/tokengate/client"
	"github.com/tokengate/tokengate/internal/testserver"
)

const password = testserver.Password

// newClient returns a Client of s that reads the server's clock.
func newClient(t testing.TB, s *server, opts ...client.Option) *client.Client {
	t.Helper()
	return client.New(s.URL, append([]client.Option{client.WithHTTPClient(s.httpClient()), client.WithClock(s.Now)}, opts...)...)
}

// signUp registers email through c.
func signUp(t testing.TB, c *client.Client, email string) {
	t.Helper()
	if err := c.SignUp(context.Background(), email, password, "Ada"); err != nil {
		t.Fatalf("SignUp: %v", err)
	}
}

// tokens returns c's pair, failing the test on error.
func tokens(t testing.TB, c *client.Client) client.Tokens {
	t.Helper()
	tok, err := c.Tokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// me sends GET /auth/me through c and returns the status and the e-mail.
// It reports failures as errors, so goroutines may call it.
func me(t testing.TB, c *client.Client, base string) (int, string, error) {
	t.Helper()
	res, err := c.HTTPClient().Get(base + "/auth/me")
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	var u struct {
		Email string `json:"email"`
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, "", err
	}
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &u); err != nil {
			return res.StatusCode, "", fmt.Errorf("decode %s: %w", b, err)
		}
	}
	return res.StatusCode, u.Email, nil
}

func TestSignUpSignInAndRequests(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s)
	ctx := context.Background()

	if status, _, err := me(t, c, s.URL); err != nil || status != http.StatusUnauthorized {
		t.Fatalf("before sign-in: %d %v, want an anonymous 401", status, err)
	}
	signUp(t, c, "ada@example.com")
	first := tokens(t, c)
	if first.AccessToken == "" || first.RefreshToken == "" ||
		!first.AccessTokenExpiresAt.Equal(s.Now().Add(15*time.Minute)) || !first.RefreshTokenExpiresAt.After(first.AccessTokenExpiresAt) {
		t.Fatalf("after SignUp: %+v", first)
	}
	if status, email, err := me(t, c, s.URL); err != nil || status != http.StatusOK || email != "ada@example.com" {
		t.Fatalf("GET /auth/me: %d %q %v", status, email, err)
	}

	// A second session of the same account, from another Client.
	other := newClient(t, s)
	if err := other.SignIn(ctx, "ada@example.com", password); err != nil {
		t.Fatal(err)
	}
	if tokens(t, other).RefreshToken == first.RefreshToken {
		t.Error("two sign-ins share a refresh token")
	}

	err := other.SignIn(ctx, "ada@example.com", "not the password")
	var e *client.Error
	if !errors.As(err, &e) || e.Code != client.CodeInvalidCredentials || e.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %v, want INVALID_CREDENTIALS", err)
	}
	err = c.SignUp(ctx, "ada@example.com", password, "Ada")
	if !errors.As(err, &e) || e.Code != client.CodeEmailTaken {
		t.Fatalf("SignUp twice: %v, want EMAIL_TAKEN", err)
	}
	if tokens(t, c) != first {
		t.Error("a failed SignUp changed the tokens")
	}
}

func TestConcurrentRequestsAfterExpiryRotateOnce(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s)
	signUp(t, c, "ada@example.com")
	before := tokens(t, c)
	s.Advance(16 * time.Minute)

	const n = 50
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, email, err := me(t, c, s.URL)
			if err == nil && (status != http.StatusOK || email != "ada@example.com") {
				err = errors.New(http.StatusText(status) + " " + email)
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := s.requests("/auth/refresh"); got != 1 {
		t.Errorf("%d refresh requests for %d goroutines, want 1", got, n)
	}
	if got := s.rotations(); got != 1 {
		t.Errorf("%d rotations, want 1", got)
	}
	after := tokens(t, c)
	if after.RefreshToken == before.RefreshToken || !after.AccessTokenExpiresAt.After(s.Now()) {
		t.Errorf("the pair was not refreshed: %+v", after)
	}
	if got := s.requests("/auth/me"); got != n {
		t.Errorf("%d requests reached /auth/me, want %d (none retried)", got, n)
	}
}

func TestRefreshesShortlyBeforeExpiry(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s, client.WithRefreshMargin(time.Minute))
	signUp(t, c, "ada@example.com")
	s.Advance(13 * time.Minute)
	if status, _, err := me(t, c, s.URL); err != nil || status != http.StatusOK {
		t.Fatal(status, err)
	}
	if s.requests("/auth/refresh") != 0 {
		t.Fatal("refreshed two minutes before expiry with a one-minute margin")
	}
	s.Advance(90 * time.Second)
	if status, _, err := me(t, c, s.URL); err != nil || status != http.StatusOK {
		t.Fatal(status, err)
	}
	if s.requests("/auth/refresh") != 1 {
		t.Fatalf("%d refreshes 30s before expiry, want 1", s.requests("/auth/refresh"))
	}
}

func TestReuseSignsOut(t *testing.T) {
	s := startServer(t)
	var mu sync.Mutex
	var seen []client.Tokens
	c := newClient(t, s, client.WithOnTokens(func(tok client.Tokens) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, tok)
	}))
	signUp(t, c, "ada@example.com")
	stolen := tokens(t, c)

	// A thief spends the refresh token first; the client, still holding it,
	// presents it after the grace window.
	if status, body := s.post(t, "/auth/refresh", `{"refreshToken":"`+stolen.RefreshToken+`"}`); status != http.StatusOK {
		t.Fatalf("thief's refresh: %d %s", status, body)
	}
	s.Advance(16 * time.Minute)

	_, _, err := me(t, c, s.URL)
	var e *client.Error
	if !errors.Is(err, client.ErrSignedOut) || !errors.As(err, &e) || e.Reason != client.ReasonRefreshReused {
		t.Fatalf("after reuse: %v, want ErrSignedOut with REFRESH_REUSED", err)
	}
	if tok := tokens(t, c); !tok.IsZero() {
		t.Errorf("the store still holds %+v", tok)
	}
	mu.Lock()
	if len(seen) != 2 || seen[0] != stolen || !seen[1].IsZero() {
		t.Errorf("OnTokens saw %d pairs %+v, want the sign-up's, then the zero Tokens", len(seen), seen)
	}
	mu.Unlock()

	// Signed out, the client goes on anonymous.
	if status, _, err := me(t, c, s.URL); err != nil || status != http.StatusUnauthorized {
		t.Errorf("after sign-out: %d %v, want an anonymous 401", status, err)
	}
	if s.requests("/auth/refresh") != 1 {
		t.Errorf("%d refresh attempts, want 1", s.requests("/auth/refresh"))
	}
}

func TestRevokedSessionSignsOut(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s)
	signUp(t, c, "ada@example.com")
	tok := tokens(t, c)

	// Another device signs every session out.
	if status, body := s.post(t, "/auth/logout-all", "", "x-access-token", tok.AccessToken); status != http.StatusNoContent {
		t.Fatalf("logout-all: %d %s", status, body)
	}
	// Past the access token's expiry, so the refresh meets the revocation
	// whether or not the server refuses the access token already.
	s.Advance(16 * time.Minute)
	_, _, err := me(t, c, s.URL)
	var e *client.Error
	if !errors.Is(err, client.ErrSignedOut) || !errors.As(err, &e) || e.Reason != client.ReasonSessionRevoked {
		t.Fatalf("after logout-all: %v, want ErrSignedOut with SESSION_REVOKED", err)
	}
	if !tokens(t, c).IsZero() {
		t.Error("the store was not cleared")
	}
}

func TestStoreOutageKeepsTokens(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s)
	signUp(t, c, "ada@example.com")
	before := tokens(t, c)

	s.setDown(true)
	// Inside the margin but not expired: the old access token still works.
	s.Advance(15*time.Minute - 10*time.Second)
	if status, _, err := me(t, c, s.URL); err != nil || status != http.StatusOK {
		t.Fatalf("valid access token while the store is down: %d %v", status, err)
	}
	// Expired: the request fails with the server's answer, tokens kept.
	s.Advance(20 * time.Second)
	_, _, err := me(t, c, s.URL)
	var e *client.Error
	if !errors.As(err, &e) || e.Code != client.CodeStoreUnavailable || e.Status != http.StatusServiceUnavailable || e.RetryAfter <= 0 {
		t.Fatalf("expired while the store is down: %v, want STORE_UNAVAILABLE with Retry-After", err)
	}
	if errors.Is(err, client.ErrSignedOut) || tokens(t, c) != before {
		t.Fatalf("an outage touched the tokens: %v", err)
	}
	// Before Retry-After has passed, the client does not knock again.
	refreshes := s.requests("/auth/refresh")
	if _, _, err := me(t, c, s.URL); !errors.As(err, &e) || e.Code != client.CodeStoreUnavailable {
		t.Fatalf("again inside Retry-After: %v", err)
	}
	if got := s.requests("/auth/refresh"); got != refreshes {
		t.Errorf("refreshed again %d times inside Retry-After", got-refreshes)
	}

	s.setDown(false)
	s.Advance(e.RetryAfter)
	if status, _, err := me(t, c, s.URL); err != nil || status != http.StatusOK {
		t.Fatalf("after the outage: %d %v", status, err)
	}
	if s.rotations() != 1 || tokens(t, c).RefreshToken == before.RefreshToken {
		t.Errorf("%d rotations after the outage, want 1 with the kept refresh token", s.rotations())
	}
}

// skewed returns a Client of s whose clock stands still at the server's
// start, as a client's clock running behind the server's would.
func skewed(t testing.TB, s *server, opts ...client.Option) *client.Client {
	t.Helper()
	frozen := s.Now()
	return newClient(t, s, append(opts, client.WithClock(func() time.Time { return frozen }))...)
}

// onlyReader hides strings.Reader's type so http.NewRequest sets no GetBody.
type onlyReader struct{ io.Reader }

func TestRetriesOnceOnTokenExpired(t *testing.T) {
	s := startServer(t)
	c := skewed(t, s)
	signUp(t, c, "ada@example.com")
	s.Advance(16 * time.Minute)

	if status, email, err := me(t, c, s.URL); err != nil || status != http.StatusOK || email != "ada@example.com" {
		t.Fatalf("GET /auth/me with an access token the server finds expired: %d %q %v", status, email, err)
	}
	if s.requests("/auth/me") != 2 || s.requests("/auth/refresh") != 1 {
		t.Fatalf("%d requests to /auth/me and %d refreshes, want 2 and 1", s.requests("/auth/me"), s.requests("/auth/refresh"))
	}
	// The client learnt the server's clock from the new pair: no more 401s.
	if status, _, err := me(t, c, s.URL); err != nil || status != http.StatusOK || s.requests("/auth/me") != 3 {
		t.Fatalf("next request: %d %v, %d requests", status, err, s.requests("/auth/me"))
	}
}

func TestRetriesGraphQLOnTokenExpired(t *testing.T) {
	s := startServer(t)
	c := skewed(t, s)
	signUp(t, c, "ada@example.com")
	s.Advance(16 * time.Minute)

	res, err := c.HTTPClient().Post(s.URL+"/graphql", "application/json", strings.NewReader(`{"query":"{ loggedInUser { email } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Data struct {
			LoggedInUser struct{ Email string }
		}
		Errors []any
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || body.Data.LoggedInUser.Email != "ada@example.com" || len(body.Errors) != 0 {
		t.Fatalf("loggedInUser: %d %+v", res.StatusCode, body)
	}
	if s.requests("/graphql") != 2 || s.requests("/auth/refresh") != 1 {
		t.Errorf("%d GraphQL requests and %d refreshes, want 2 and 1", s.requests("/graphql"), s.requests("/auth/refresh"))
	}
}

func TestDoesNotReplayARequestWithoutGetBody(t *testing.T) {
	s := startServer(t)
	c := skewed(t, s)
	signUp(t, c, "ada@example.com")
	before := tokens(t, c)
	s.Advance(16 * time.Minute)

	change := `{"currentPassword":"` + password + `","newPassword":"a much newer password"}`
	req, err := http.NewRequest(http.MethodPost, s.URL+"/auth/password", onlyReader{strings.NewReader(change)})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), client.ReasonTokenExpired) {
		t.Fatalf("a request without GetBody: %d %s, want the server's 401 TOKEN_EXPIRED, body intact", res.StatusCode, b)
	}
	if s.requests("/auth/password") != 1 {
		t.Errorf("the request was sent %d times", s.requests("/auth/password"))
	}
	// It was not replayed, but the pair was refreshed for the next attempt.
	if s.requests("/auth/refresh") != 1 || tokens(t, c).RefreshToken == before.RefreshToken {
		t.Errorf("no refresh after TOKEN_EXPIRED")
	}

	// The same request with a body that can be replayed is retried, and the
	// pair the password change issues is saved before the response is seen.
	s.Advance(16 * time.Minute)
	res, err = c.HTTPClient().Post(s.URL+"/auth/password", "application/json", strings.NewReader(change))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || s.requests("/auth/password") != 3 {
		t.Fatalf("replayable: %d after %d requests", res.StatusCode, s.requests("/auth/password"))
	}
	if got := tokens(t, c); got.AccessToken != res.Header.Get("x-access-token") || got.RefreshToken != res.Header.Get("x-refresh-token") {
		t.Error("the re-issued pair was not saved")
	}
	if status, _, err := me(t, c, s.URL); err != nil || status != http.StatusOK {
		t.Errorf("after the password change: %d %v", status, err)
	}
}

func TestOnTokensSeesEveryChange(t *testing.T) {
	s := startServer(t)
	var seen []client.Tokens
	var c *client.Client
	c = newClient(t, s, client.WithOnTokens(func(tok client.Tokens) {
		// The pair is saved before the hook runs.
		if got, _ := c.Tokens(context.Background()); got != tok {
			t.Errorf("hook got %+v, store holds %+v", tok, got)
		}
		seen = append(seen, tok)
	}))
	signUp(t, c, "ada@example.com")
	s.Advance(16 * time.Minute)
	if status, _, err := me(t, c, s.URL); err != nil || status != http.StatusOK {
		t.Fatal(status, err)
	}
	refreshed := tokens(t, c)
	if err := c.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || seen[0].IsZero() || seen[1] != refreshed || seen[0] == seen[1] || !seen[2].IsZero() {
		t.Fatalf("OnTokens saw %+v, want sign-up, refresh, sign-out", seen)
	}
	// The session is over on the server too.
	if status, body := s.post(t, "/auth/refresh", `{"refreshToken":"`+refreshed.RefreshToken+`"}`); status != http.StatusUnauthorized {
		t.Errorf("refresh after SignOut: %d %s", status, body)
	}
}

func TestTokensStayOnTheServersOrigin(t *testing.T) {
	s := startServer(t)
	var got []string
	var mu sync.Mutex
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("x-access-token")+r.Header.Get("x-refresh-token"))
		mu.Unlock()
	}))
	t.Cleanup(foreign.Close)
	c := newClient(t, s)
	signUp(t, c, "ada@example.com")

	res, err := c.HTTPClient().Get(foreign.URL + "/collect")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != "" {
		t.Errorf("a request to another host carried %q", got)
	}
}

func TestTransportDoesNotChangeTheRequest(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s)
	signUp(t, c, "ada@example.com")
	req, err := http.NewRequest(http.MethodGet, s.URL+"/auth/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || len(req.Header) != 0 {
		t.Errorf("%d, request headers now %v", res.StatusCode, req.Header)
	}
}

func TestNewPanicsOnABadURL(t *testing.T) {
	for _, u := range []string{"", "auth.example.com", "ftp://auth.example.com", "http://"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%q) did not panic", u)
				}
			}()
			client.New(u)
		}()
	}
}
