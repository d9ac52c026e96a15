package client_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokengate/tokengate/client"
)

// These tests use a scripted server for answers the real one gives only in
// states that are hard to reach on purpose: a clock far off, an access
// token refused after every refresh, a store that fails to save.

// forge returns an unsigned JWT with the given times: the client reads
// them and never checks signatures.
func forge(name string, iat, exp time.Time) string {
	enc := base64.RawURLEncoding
	payload, _ := json.Marshal(map[string]any{"sub": name, "iat": iat.Unix(), "exp": exp.Unix()})
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"at+jwt"}`)) + "." + enc.EncodeToString(payload) + ".c2ln"
}

// fake is a scripted tokengate: /auth/login and /auth/refresh issue pairs
// numbered 1, 2, …, and /api answers what api says.
type fake struct {
	URL       string
	mu        sync.Mutex
	t         time.Time
	issued    atomic.Int64
	refreshes atomic.Int64
	apiCalls  atomic.Int64
	api       func(w http.ResponseWriter, r *http.Request)
	// onRefresh, when set before the first refresh, runs inside it;
	// refuse, when set, answers it instead of issuing a pair.
	onRefresh func()
	refuse    func(w http.ResponseWriter)
}

func startFake(t testing.TB, api func(w http.ResponseWriter, r *http.Request)) *fake {
	t.Helper()
	f := &fake{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), api: api}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/login", func(w http.ResponseWriter, r *http.Request) { f.issue(w) })
	mux.HandleFunc("POST /auth/refresh", func(w http.ResponseWriter, r *http.Request) {
		f.refreshes.Add(1)
		if f.onRefresh != nil {
			f.onRefresh()
		}
		if f.refuse != nil {
			f.refuse(w)
			return
		}
		f.issue(w)
	})
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		f.apiCalls.Add(1)
		f.api(w, r)
	})
	mux.HandleFunc("/graphql", func(w http.ResponseWriter, r *http.Request) {
		f.apiCalls.Add(1)
		f.api(w, r)
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	f.URL = hs.URL
	return f
}

// Now is the server's clock.
func (f *fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// Advance moves the server's clock.
func (f *fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

// pair returns the n-th pair, as issued now.
func (f *fake) pair(n int64) (string, string) {
	start := f.Now()
	return forge(fmt.Sprint("access-", n), start, start.Add(15*time.Minute)),
		forge(fmt.Sprint("refresh-", n), start, start.Add(168*time.Hour))
}

func (f *fake) issue(w http.ResponseWriter) {
	a, r := f.pair(f.issued.Add(1))
	w.Header().Set("x-access-token", a)
	w.Header().Set("x-refresh-token", r)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"accessToken":%q,"refreshToken":%q}`, a, r)
}

func problem(w http.ResponseWriter, status int, code, reason string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":"about:blank","title":"t","status":%d,"code":%q,"reason":%q,"detail":"d"}`, status, code, reason)
}

func signedIn(t testing.TB, f *fake, now func() time.Time, opts ...client.Option) *client.Client {
	t.Helper()
	c := client.New(f.URL, append([]client.Option{client.WithClock(now)}, opts...)...)
	if err := c.SignIn(context.Background(), "ada@example.com", "pw"); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRetriesOnlyOnce(t *testing.T) {
	f := startFake(t, func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusUnauthorized, client.CodeUnauthenticated, client.ReasonTokenExpired)
	})
	c := signedIn(t, f, f.Now)
	res, err := c.HTTPClient().Get(f.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || f.apiCalls.Load() != 2 || f.refreshes.Load() != 1 {
		t.Errorf("%d after %d calls and %d refreshes, want the 401 after 2 and 1", res.StatusCode, f.apiCalls.Load(), f.refreshes.Load())
	}
}

func TestRevokedAccessTokenSignsOutWithoutRefreshing(t *testing.T) {
	for name, api := range map[string]func(w http.ResponseWriter, r *http.Request){
		"REST": func(w http.ResponseWriter, r *http.Request) {
			problem(w, http.StatusUnauthorized, client.CodeUnauthenticated, client.ReasonSessionRevoked)
		},
		"GraphQL": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"errors":[{"message":"the session has ended","path":["loggedInUser"],"extensions":{"code":"UNAUTHENTICATED","reason":"SESSION_REVOKED"}}],"data":null}`)
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := startFake(t, api)
			c := signedIn(t, f, f.Now)
			path := "/api"
			if name == "GraphQL" {
				path = "/graphql"
			}
			_, err := c.HTTPClient().Post(f.URL+path, "application/json", nil)
			if !errors.Is(err, client.ErrSignedOut) {
				t.Fatalf("got %v, want ErrSignedOut", err)
			}
			if tok, _ := c.Tokens(context.Background()); !tok.IsZero() || f.refreshes.Load() != 0 {
				t.Errorf("store %+v after %d refreshes, want cleared and none", tok, f.refreshes.Load())
			}
		})
	}
}

func TestRevocationOfAnOlderPairKeepsTheNewer(t *testing.T) {
	store := new(client.MemoryStore)
	var f *fake
	f = startFake(t, func(w http.ResponseWriter, r *http.Request) {
		a2, _ := f.pair(2)
		if r.Header.Get("x-access-token") == a2 {
			return
		}
		// While this request was out, another process signed in again.
		a, rt := f.pair(2)
		store.Save(context.Background(), client.Tokens{AccessToken: a, RefreshToken: rt})
		problem(w, http.StatusUnauthorized, client.CodeUnauthenticated, client.ReasonSessionRevoked)
	})
	c := signedIn(t, f, f.Now, client.WithStore(store))
	res, err := c.HTTPClient().Get(f.URL + "/api")
	if err != nil {
		t.Fatalf("got %v, want the request retried with the newer pair", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || f.apiCalls.Load() != 2 {
		t.Errorf("%d after %d calls", res.StatusCode, f.apiCalls.Load())
	}
	if tok, _ := c.Tokens(context.Background()); tok.IsZero() {
		t.Error("the newer pair was cleared")
	}
}

func TestClockAheadDoesNotRefreshEveryRequest(t *testing.T) {
	f := startFake(t, func(w http.ResponseWriter, r *http.Request) {})
	// The client's clock runs an hour ahead of the server's.
	c := signedIn(t, f, func() time.Time { return f.Now().Add(time.Hour) })
	for range 3 {
		res, err := c.HTTPClient().Get(f.URL + "/api")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if f.refreshes.Load() != 0 {
		t.Errorf("%d refreshes of a fresh pair", f.refreshes.Load())
	}
}

// failingSaves is a Store whose next Save fails.
type failingSaves struct {
	client.MemoryStore
	fail atomic.Bool
}

func (s *failingSaves) Save(ctx context.Context, t client.Tokens) error {
	if s.fail.Swap(false) {
		return errors.New("disk full")
	}
	return s.MemoryStore.Save(ctx, t)
}

func TestARefreshTokenIsSpentOnceEvenIfSavingFails(t *testing.T) {
	f := startFake(t, func(w http.ResponseWriter, r *http.Request) {})
	store := new(failingSaves)
	c := signedIn(t, f, f.Now, client.WithStore(store))
	f.Advance(16 * time.Minute)

	store.fail.Store(true)
	if _, err := c.HTTPClient().Get(f.URL + "/api"); err == nil {
		t.Fatal("a failed save went unreported")
	}
	res, err := c.HTTPClient().Get(f.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	a2, _ := f.pair(2)
	if tok, _ := c.Tokens(context.Background()); f.refreshes.Load() != 1 || tok.AccessToken != a2 {
		t.Errorf("%d refreshes, store holds pair %q; want 1 and the pair it issued", f.refreshes.Load(), tok.AccessToken)
	}
}

func TestAFlightOutlivesTheRequestThatStartedIt(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	f := startFake(t, func(w http.ResponseWriter, r *http.Request) {})
	c := signedIn(t, f, f.Now)
	f.Advance(16 * time.Minute)
	f.onRefresh = func() {
		close(entered)
		<-release
	}

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.URL+"/api", nil)
	done := make(chan error, 1)
	go func() {
		_, err := c.HTTPClient().Do(req)
		done <- err
	}()
	<-entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}
	close(release)

	// The pair the server issued after the caller left is saved, and the
	// next request uses it instead of refreshing again.
	res, err := c.HTTPClient().Get(f.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	a2, _ := f.pair(2)
	if tok, _ := c.Tokens(context.Background()); f.refreshes.Load() != 1 || tok.AccessToken != a2 {
		t.Errorf("%d refreshes, want 1 and its pair saved", f.refreshes.Load())
	}
}

func TestRateLimitedRefreshKeepsTheTokens(t *testing.T) {
	f := startFake(t, func(w http.ResponseWriter, r *http.Request) {})
	c := signedIn(t, f, f.Now)
	before, _ := c.Tokens(context.Background())
	f.Advance(16 * time.Minute)
	f.refuse = func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "7")
		problem(w, http.StatusTooManyRequests, client.CodeRateLimited, "")
	}
	_, err := c.HTTPClient().Get(f.URL + "/api")
	var e *client.Error
	if !errors.As(err, &e) || e.Code != client.CodeRateLimited || e.RetryAfter != 7*time.Second || errors.Is(err, client.ErrSignedOut) {
		t.Fatalf("got %v, want RATE_LIMITED with Retry-After 7s", err)
	}
	if tok, _ := c.Tokens(context.Background()); tok != before {
		t.Error("a refused refresh changed the tokens")
	}
}
