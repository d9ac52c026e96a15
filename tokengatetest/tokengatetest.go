// Package tokengatetest runs the whole of tokengate in a test, in process,
// for the tests of an app built on it (package app): the real handler, the
// real middleware, a real SQLite database in memory (or PostgreSQL), a
// clock the test moves, and helpers that read like the domain.
//
//	func TestNotes(t *testing.T) {
//		s := tokengatetest.NewServer(t, tokengatetest.WithApp(notes.Options()...))
//		tok := s.SignUp(t, "ada@example.com", "correct horse battery", "Ada")
//		// ... call the app's own routes with tok.AccessToken ...
//		s.Advance(16 * time.Minute) // the access token has expired
//	}
//
// Conformance checks that an app which wraps or extends tokengate still
// keeps the wire contract.
//
// Everything a Server starts is stopped by tb.Cleanup. No test waits on a
// real clock, and none needs the network when WithInMemoryTransport is
// given, so a test runs under testing/synctest too.
package tokengatetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokengate/tokengate/app"
	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/config"
)

// Epoch is where a Server's clock starts unless WithStart says otherwise.
var Epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Option changes what NewServer starts.
type Option func(*settings)

type settings struct {
	env       map[string]string
	appOpts   []app.Option
	start     time.Time
	clock     func() time.Time
	inMemory  bool
	wrap      func(*app.App) http.Handler
	logOutput io.Writer
}

// WithApp passes the app's own additions (its schema, resolvers, routes,
// migrations, codes) to app.New.
func WithApp(opts ...app.Option) Option {
	return func(s *settings) { s.appOpts = append(s.appOpts, opts...) }
}

// WithEnv sets a configuration variable of API.md section 7 (ACCESS_TOKEN_TTL,
// RATE_LIMIT_LOGIN, ...), as the environment would.
func WithEnv(name, value string) Option {
	return func(s *settings) { s.env[name] = value }
}

// WithPostgres runs on the PostgreSQL database at url instead of SQLite in
// memory. The database should be the test's own: tokengate migrates it.
func WithPostgres(url string) Option { return WithEnv("DATABASE_URL", url) }

// WithStart starts the clock at t.
func WithStart(t time.Time) Option { return func(s *settings) { s.start = t } }

// WithRealClock uses time.Now instead of a clock the test moves: under
// testing/synctest, whose bubble fakes time.Now itself, time.Sleep then
// expires tokens. Advance panics on such a server.
func WithRealClock() Option { return func(s *settings) { s.clock = time.Now } }

// WithInMemoryTransport serves requests without a network: Client and URL
// reach the handler through an http.RoundTripper that calls it directly.
// Use it under testing/synctest, where a real connection's I/O would keep
// the bubble's clock from moving.
func WithInMemoryTransport() Option { return func(s *settings) { s.inMemory = true } }

// WithHandler serves what wrap makes of the built app instead of its
// handler alone: an app that mounts tokengate under a prefix, or puts its
// own middleware around it, tests what it really serves.
func WithHandler(wrap func(a *app.App) http.Handler) Option {
	return func(s *settings) { s.wrap = wrap }
}

// WithLogOutput writes the server's log to w (by default, to tb.Log when
// the test fails).
func WithLogOutput(w io.Writer) Option { return func(s *settings) { s.logOutput = w } }

// Server is tokengate running for one test.
type Server struct {
	// URL is the base URL, without a trailing slash.
	URL string
	// App is the built app, with its Service and Store.
	App *app.App

	client *http.Client
	clock  *clock
	outbox string
}

// NewServer starts tokengate with SQLite in memory, test secrets, bcrypt at
// its lowest cost and budgets no test exhausts by accident, on an httptest
// server; opts change any of it.
func NewServer(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := settings{env: map[string]string{
		"DATABASE_URL":         "sqlite::memory:",
		"ACCESS_TOKEN_SECRET":  "tokengatetest-access-secret-0123456789",
		"REFRESH_TOKEN_SECRET": "tokengatetest-refresh-secret-0123456789",
		"BCRYPT_COST":          "4",
		"RATE_LIMIT_IP":        "100000/1m",
		"RATE_LIMIT_LOGIN":     "1000/1m",
		"RATE_LIMIT_REFRESH":   "1000/1m",
		"METRICS":              "true",
		"LOG_LEVEL":            "debug",
	}, start: Epoch}
	outbox := ""
	if _, set := s.env["SMTP_URL"]; !set {
		outbox = tb.TempDir()
	}
	for _, o := range opts {
		o(&s)
	}
	if _, set := s.env["SMTP_URL"]; !set && outbox != "" {
		s.env["SMTP_URL"] = "file:" + outbox
	} else {
		outbox = ""
	}
	cfg, err := config.Load(nil, func(name string) string { return s.env[name] }, io.Discard)
	if err != nil {
		tb.Fatalf("tokengatetest: configuration: %v", err)
	}
	c := &clock{now: s.start}
	now := c.Now
	if s.clock != nil {
		now, c = s.clock, nil
	}
	logs := s.logOutput
	if logs == nil {
		buf := &logBuffer{}
		tb.Cleanup(func() {
			if tb.Failed() {
				tb.Logf("tokengate's log:\n%s", buf.String())
			}
		})
		logs = buf
	}
	a, err := app.New(context.Background(), cfg,
		append([]app.Option{app.WithClock(now), app.WithLogger(app.NewLogger(cfg, logs))}, s.appOpts...)...)
	if err != nil {
		tb.Fatalf("tokengatetest: %v", err)
	}
	tb.Cleanup(func() { a.Close() })
	h := a.Handler()
	if s.wrap != nil {
		h = s.wrap(a)
	}
	srv := &Server{App: a, clock: c, outbox: outbox}
	if s.inMemory {
		srv.URL = "http://tokengate.test"
		srv.client = &http.Client{Transport: handlerTransport{h}}
	} else {
		hs := httptest.NewServer(h)
		tb.Cleanup(hs.Close)
		srv.URL, srv.client = hs.URL, hs.Client()
	}
	return srv
}

// Client returns an HTTP client that reaches the server (through the
// network, or in memory with WithInMemoryTransport). It sends nothing by
// itself: a test adds the token headers it means to send.
func (s *Server) Client() *http.Client { return s.client }

// Now is the server's time.
func (s *Server) Now() time.Time {
	if s.clock == nil {
		return time.Now()
	}
	return s.clock.Now()
}

// Advance moves the server's clock forward by d: tokens, sessions, grace
// windows and budgets expire without waiting.
func (s *Server) Advance(d time.Duration) {
	if s.clock == nil {
		panic("tokengatetest: Advance on a server with the real clock; sleep instead")
	}
	s.clock.Advance(d)
}

// Tokens are what a sign-up or sign-in answered.
type Tokens struct {
	AccessToken           string    `json:"accessToken"`
	RefreshToken          string    `json:"refreshToken"`
	AccessTokenExpiresAt  time.Time `json:"accessTokenExpiresAt"`
	RefreshTokenExpiresAt time.Time `json:"refreshTokenExpiresAt"`
	User                  User      `json:"user"`
}

// User is the public view of an account.
type User struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	CreatedAt     time.Time `json:"createdAt"`
	EmailVerified bool      `json:"emailVerified"`
}

// Headers returns the header that authenticates with the access token, and
// the refresh token beside it, for Do.
func (t Tokens) Headers() []string {
	return []string{"x-access-token", t.AccessToken, "x-refresh-token", t.RefreshToken}
}

// SignUp registers a new account (POST /auth/register) and returns its
// tokens; the test fails if that does not answer 201.
func (s *Server) SignUp(tb testing.TB, email, password, name string) Tokens {
	tb.Helper()
	return s.tokens(tb, "/auth/register", http.StatusCreated, map[string]string{"email": email, "password": password, "name": name})
}

// SignIn signs an existing account in on a new session (POST /auth/login).
func (s *Server) SignIn(tb testing.TB, email, password string) Tokens {
	tb.Helper()
	return s.tokens(tb, "/auth/login", http.StatusOK, map[string]string{"email": email, "password": password})
}

func (s *Server) tokens(tb testing.TB, path string, want int, body any) Tokens {
	tb.Helper()
	res := s.Do(tb, http.MethodPost, path, body)
	if res.StatusCode != want {
		tb.Fatalf("tokengatetest: POST %s: %d %s", path, res.StatusCode, res.Body)
	}
	var t Tokens
	res.Decode(tb, &t)
	return t
}

// Response is an answer with its body read.
type Response struct {
	*http.Response
	Body []byte
}

// Decode decodes the JSON body into v, failing the test if it cannot.
func (r *Response) Decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("tokengatetest: decode %s: %v", r.Body, err)
	}
}

// Do sends one request to the server: body, when not nil, as JSON (a
// string or []byte is sent as it is), headers as name, value pairs.
func (s *Server) Do(tb testing.TB, method, path string, body any, headers ...string) *Response {
	tb.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatalf("tokengatetest: encode body: %v", err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		tb.Fatalf("tokengatetest: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if len(headers)%2 != 0 {
		tb.Fatalf("tokengatetest: headers come in name, value pairs")
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := s.client.Do(req)
	if err != nil {
		tb.Fatalf("tokengatetest: %s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("tokengatetest: read %s %s: %v", method, path, err)
	}
	return &Response{Response: res, Body: b}
}

// GraphQL runs one operation at /graphql.
func (s *Server) GraphQL(tb testing.TB, query string, variables map[string]any, headers ...string) *Response {
	tb.Helper()
	return s.Do(tb, http.MethodPost, "/graphql", map[string]any{"query": query, "variables": variables}, headers...)
}

// Metrics returns the Prometheus text of GET /metrics.
func (s *Server) Metrics(tb testing.TB) string {
	tb.Helper()
	res := s.Do(tb, http.MethodGet, "/metrics", nil)
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("tokengatetest: GET /metrics: %d", res.StatusCode)
	}
	return string(res.Body)
}

// Service is the domain service, for a test that arranges state directly.
func (s *Server) Service() *auth.Service { return s.App.Service() }

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// handlerTransport is a RoundTripper that serves a request by calling the
// handler in the caller's goroutine: no listener, no connection.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	// The handler reads what a server would hand it: a request without the
	// client's URL host, with RemoteAddr set.
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "192.0.2.1:1234"
	if in.Body == nil {
		in.Body = http.NoBody
	}
	t.h.ServeHTTP(rec, in)
	res := rec.Result()
	res.Request = req
	return res, nil
}

// logBuffer keeps the log for a failing test's report.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
