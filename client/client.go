// Package client is the Go client of a tokengate server (API.md v2). It
// signs in, keeps the pair of tokens in a Store, and gives an
// *http.Client whose requests carry the access token and keep it fresh:
//
//	c := client.New("https://auth.example.com")
//	if err := c.SignIn(ctx, email, password); err != nil { … }
//	res, err := c.HTTPClient().Get("https://auth.example.com/auth/me")
//
// The transport refreshes the pair through POST /auth/refresh shortly
// before the access token expires, once for any number of goroutines that
// need it at the same moment, and never spends one refresh token twice:
// tokengate treats a refresh token seen again outside its short grace
// window as stolen and ends the session. It saves every pair the server
// re-issues on any route before the response is returned, retries a
// request once if the server still found its access token expired (the
// clocks disagree) and the request can be sent again, and on a session the
// server has ended clears the Store and returns ErrSignedOut. A
// STORE_UNAVAILABLE or RATE_LIMITED answer to a refresh keeps the tokens:
// the request fails with an *Error carrying RetryAfter, or goes on with
// the old access token while that is still valid.
//
// Tokens are attached only to requests for the base URL's scheme and host,
// so a redirect or a mistyped URL never carries them elsewhere. To learn
// why a request failed, the transport reads the body of a 401, and of a
// JSON answer from a path ending in /graphql (whose errors come with a
// 200), up to 64 KiB, and hands it back whole.
//
// The transport sends only the access token; the refresh token travels
// only in the Client's own POST /auth/refresh, under the Store's lock, so
// that the Client alone decides when a refresh token is spent.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The token headers of API.md section 2.
const (
	headerAccessToken  = "X-Access-Token"
	headerRefreshToken = "X-Refresh-Token"
)

// DefaultRefreshMargin is how long before its expiry an access token is
// refreshed, unless WithRefreshMargin says otherwise.
const DefaultRefreshMargin = 30 * time.Second

// refreshTimeout bounds one refresh. The refresh outlives the request that
// started it (others wait for it, and a pair the server issued must not be
// lost), so it needs a bound of its own.
const refreshTimeout = 30 * time.Second

// maxErrorBody is how much of a response the transport reads to learn why
// it failed; a larger body is handed back unread.
const maxErrorBody = 64 << 10

// Client talks to one tokengate server on behalf of one signed-in user.
// It is safe for concurrent use; create it with New.
type Client struct {
	base     *url.URL
	http     *http.Client // without tokens: sign-in and refresh
	authed   *http.Client // HTTPClient's
	store    Store
	lock     func(context.Context) (func(), error)
	now      func() time.Time
	margin   time.Duration
	onTokens func(Tokens)
	// hookMu keeps OnTokens calls in the order of the changes: it is taken
	// before the store's lock is released.
	hookMu sync.Mutex

	mu     sync.Mutex
	flight *flight
	// parsed caches the claims of the access token last looked at, so a
	// request decodes no token it has seen before.
	parsed struct {
		token  string
		claims claims
	}
	// offset is the server's clock minus ours, learnt from the iat of the
	// last pair received, so a client whose clock runs ahead does not
	// refresh on every request, nor one that runs behind too late.
	offset time.Duration
	// spent is the refresh token this Client last sent to be rotated, and
	// issued what the server answered: if saving that answer failed, the
	// next refresh reuses it instead of spending the token again.
	spent  string
	issued Tokens
	// retryAt is when a refresh the server refused for a while (503, 429)
	// may be tried again; refused is that answer, for refusedFor.
	retryAt    time.Time
	refused    error
	refusedFor string
}

// Option configures a Client.
type Option func(*Client)

// WithStore keeps the tokens in s instead of in memory.
func WithStore(s Store) Option {
	return func(c *Client) { c.store = s }
}

// WithHTTPClient sends every request through hc: its Transport, Timeout,
// Jar and CheckRedirect. Without it, http.DefaultClient's are used.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithOnTokens calls fn after every change of the pair this Client makes:
// each sign-in, refresh and re-issued pair, and the zero Tokens when the
// pair is cleared. Calls come one at a time, in the order of the changes.
// fn may read the pair with Tokens, but must not sign in, sign out or send
// requests through this Client: a change made from inside fn would wait
// for fn to return, for ever.
func WithOnTokens(fn func(Tokens)) Option {
	return func(c *Client) { c.onTokens = fn }
}

// WithClock replaces time.Now, for tests that move a server's clock.
func WithClock(now func() time.Time) Option {
	return func(c *Client) { c.now = now }
}

// WithRefreshMargin refreshes the access token d before it expires
// (DefaultRefreshMargin). For a token whose whole lifetime is shorter
// than twice d, half its lifetime is used instead.
func WithRefreshMargin(d time.Duration) Option {
	return func(c *Client) { c.margin = d }
}

// New returns a Client for the tokengate server at baseURL (scheme and
// host, optionally a path prefix). It panics if baseURL is not an absolute
// http or https URL: that is a programming error, not a runtime one.
func New(baseURL string, opts ...Option) *Client {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		panic(fmt.Sprintf("client: New needs an absolute http(s) URL, got %q", baseURL))
	}
	c := &Client{base: u, now: time.Now, margin: DefaultRefreshMargin}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	if c.store == nil {
		c.store = new(MemoryStore)
	}
	if l, ok := c.store.(Locker); ok {
		c.lock = l.Lock
	} else {
		var l lockChan
		c.lock = l.lock
	}
	hc := *c.http
	hc.Transport = &transport{c: c, base: c.http.Transport}
	c.authed = &hc
	return c
}

// HTTPClient returns the *http.Client that sends requests as the signed-in
// user. Use it for every request to the server, REST and GraphQL alike:
// the pair it keeps fresh is shared by all of them. While no one is signed
// in, its requests go anonymous.
func (c *Client) HTTPClient() *http.Client { return c.authed }

// Tokens returns the pair the Store holds now; the zero Tokens when signed
// out.
func (c *Client) Tokens(ctx context.Context) (Tokens, error) {
	return c.store.Load(ctx)
}

// SignIn opens a session with POST /auth/login and saves its tokens. A wrong
// e-mail or password is an *Error with CodeInvalidCredentials.
func (c *Client) SignIn(ctx context.Context, email, password string) error {
	return c.obtain(ctx, "/auth/login", http.StatusOK, map[string]string{"email": email, "password": password})
}

// SignUp creates an account with POST /auth/register and saves the tokens
// of its first session. An address already taken is an *Error with
// CodeEmailTaken.
func (c *Client) SignUp(ctx context.Context, email, password, name string) error {
	return c.obtain(ctx, "/auth/register", http.StatusCreated, map[string]string{"email": email, "password": password, "name": name})
}

// SignOut ends the session on the server with POST /auth/logout and clears
// the Store. If the server cannot be told (an outage, a network error),
// the tokens are kept and the error returned, so SignOut can be tried
// again; a session the server had already ended counts as signed out.
func (c *Client) SignOut(ctx context.Context) error {
	t, err := c.store.Load(ctx)
	if err != nil {
		return err
	}
	if t.IsZero() {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint("/auth/logout"), nil)
	if err != nil {
		return err
	}
	res, err := c.authed.Do(req)
	if err != nil {
		if isSignedOut(err) {
			return nil // the transport has cleared the store
		}
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	res.Body.Close()
	switch res.StatusCode {
	case http.StatusNoContent, http.StatusOK, http.StatusUnauthorized:
		// 401: the token was refused, so the session cannot be used anyway.
		return c.change(ctx, func(Tokens) (Tokens, bool) { return Tokens{}, true })
	}
	if e := parseError(res.StatusCode, res.Header, body); e != nil {
		return e
	}
	return unexpected(res.StatusCode, res.Header)
}

// obtain posts credentials to path and saves the pair of a new session.
func (c *Client) obtain(ctx context.Context, path string, want int, in any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(path), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	t, err := c.readPair(res, want)
	if err != nil {
		return err
	}
	return c.change(ctx, func(Tokens) (Tokens, bool) { return t, true })
}

// readPair reads a Tokens response of status want, closing its body, and
// learns the clock offset from it.
func (c *Client) readPair(res *http.Response, want int) (Tokens, error) {
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	if err != nil {
		return Tokens{}, fmt.Errorf("client: read response: %w", err)
	}
	if res.StatusCode != want {
		if e := parseError(res.StatusCode, res.Header, body); e != nil {
			return Tokens{}, e
		}
		return Tokens{}, unexpected(res.StatusCode, res.Header)
	}
	access, refresh := res.Header.Get(headerAccessToken), res.Header.Get(headerRefreshToken)
	if access == "" || refresh == "" {
		// Every Tokens body is in the headers too (API.md section 2); read
		// the body only if a proxy dropped them.
		var in struct {
			AccessToken  string `json:"accessToken"`
			RefreshToken string `json:"refreshToken"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return Tokens{}, fmt.Errorf("client: decode tokens: %w", err)
		}
		access, refresh = in.AccessToken, in.RefreshToken
	}
	t, ac, err := pairOf(access, refresh)
	if err != nil {
		return Tokens{}, fmt.Errorf("client: %w", err)
	}
	c.learnClock(ac)
	return t, nil
}

// endpoint is the URL of a tokengate route under the base URL.
func (c *Client) endpoint(path string) string {
	return c.base.String() + path
}

// learnClock records how far the server's clock is from ours, from a token
// it has just issued.
func (c *Client) learnClock(ac claims) {
	if ac.issuedAt.IsZero() {
		return
	}
	c.mu.Lock()
	c.offset = ac.issuedAt.Sub(c.now())
	c.mu.Unlock()
}

// serverNow estimates the server's clock.
func (c *Client) serverNow() time.Time {
	c.mu.Lock()
	off := c.offset
	c.mu.Unlock()
	return c.now().Add(off)
}

// expiring reports whether t's access token is due for a refresh; expired
// whether the server would refuse it already.
func (c *Client) expiring(t Tokens) (expiring, expired bool) {
	c.mu.Lock()
	ac, known := c.parsed.claims, c.parsed.token == t.AccessToken && t.AccessToken != ""
	c.mu.Unlock()
	if !known {
		var err error
		if ac, err = decodeClaims(t.AccessToken); err != nil {
			return true, true
		}
		c.mu.Lock()
		c.parsed.token, c.parsed.claims = t.AccessToken, ac
		c.mu.Unlock()
	}
	margin := c.margin
	if !ac.issuedAt.IsZero() {
		if half := ac.expiresAt.Sub(ac.issuedAt) / 2; half > 0 && margin > half {
			margin = half
		}
	}
	now := c.serverNow()
	return !now.Add(margin).Before(ac.expiresAt), !now.Before(ac.expiresAt)
}

// change runs fn on the saved pair under the store's lock and, when fn
// says so, saves what it returns (the zero Tokens clears), then tells
// OnTokens.
func (c *Client) change(ctx context.Context, fn func(cur Tokens) (Tokens, bool)) error {
	unlock, err := c.lock(ctx)
	if err != nil {
		return err
	}
	cur, err := c.store.Load(ctx)
	if err != nil {
		unlock()
		return err
	}
	next, ok := fn(cur)
	if !ok {
		unlock()
		return nil
	}
	notify, err := c.commit(ctx, next)
	unlock()
	if err != nil {
		return err
	}
	notify()
	return nil
}

// commit saves t (the zero Tokens clears) while the caller holds the
// store's lock. The caller calls notify after releasing the lock.
func (c *Client) commit(ctx context.Context, t Tokens) (notify func(), err error) {
	if t.IsZero() {
		err = c.store.Clear(ctx)
	} else {
		err = c.store.Save(ctx, t)
	}
	if err != nil {
		return nil, err
	}
	if c.onTokens == nil {
		return func() {}, nil
	}
	c.hookMu.Lock()
	return func() {
		defer c.hookMu.Unlock()
		c.onTokens(t)
	}, nil
}
