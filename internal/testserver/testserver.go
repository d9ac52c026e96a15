// Package testserver starts the whole tokengate HTTP stack for tests: the
// real server.New handler over a real store (SQLite in memory unless a test
// brings another), a real token codec and an injected clock, behind a real
// httptest.Server.
package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/server"
	"github.com/tokengate/tokengate/store/sqlite"
	"github.com/tokengate/tokengate/token"
)

// Epoch is where every test clock starts.
var Epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is a settable clock shared by the codec, the service and the test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at start.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Options tune the stack a test starts.
type Options struct {
	// Store replaces the default in-memory SQLite store; the test owns it.
	Store     auth.Store
	Policy    *auth.Policy
	Limits    auth.Limits
	AccessTTL time.Duration
	// CORSAllowedOrigins is passed to server.Deps.
	CORSAllowedOrigins []string
	// Logs, when set, receives the server's log output.
	Logs io.Writer
}

// Stack is the domain assembled for a test: store, codec, service, clock.
type Stack struct {
	Clock   *Clock
	Service *auth.Service
	// Recovery is nil when the test's store keeps no outbox.
	Recovery *auth.Recovery
	Store    auth.Store
	Codec    *token.Codec
	Logger   *slog.Logger
}

// Server is a Stack served over HTTP by the real server.New handler.
type Server struct {
	*Stack
	URL  string
	HTTP *httptest.Server
}

// Secrets used by every test stack.
var (
	AccessSecret  = []byte("test-access-secret-0123456789abcdef")
	RefreshSecret = []byte("test-refresh-secret-0123456789abcdef")
)

// NewStack builds the domain for a test, closing what it opened when the
// test ends.
func NewStack(t testing.TB, opts Options) *Stack {
	t.Helper()
	clock := NewClock(Epoch)
	st := opts.Store
	if st == nil {
		s, err := sqlite.Open(context.Background(), ":memory:")
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		st = s
	}
	policy := auth.DefaultPolicy()
	policy.BcryptCost = bcrypt.MinCost
	if opts.Policy != nil {
		policy = *opts.Policy
	}
	accessTTL := opts.AccessTTL
	if accessTTL == 0 {
		accessTTL = 15 * time.Minute
	}
	codec := token.New(token.Config{
		AccessSecret: AccessSecret, RefreshSecret: RefreshSecret,
		Issuer: "tokengate", Audience: "tokengate",
		AccessTTL: accessTTL, Now: clock.Now,
	})
	logs := opts.Logs
	if logs == nil {
		logs = io.Discard
	}
	log := slog.New(edge.LogHandler(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	svc, err := auth.NewService(st, codec, policy, opts.Limits, clock.Now, log)
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	stack := &Stack{Clock: clock, Service: svc, Store: st, Codec: codec, Logger: log}
	// A test's wrapper of a store (one that fails on purpose) keeps no
	// outbox: its stack has no recovery operations, and serves none.
	if rs, ok := st.(auth.RecoveryStore); ok {
		key, err := auth.NewLinkKey([]byte("test-link-key-0123456789abcdef-0123"))
		if err != nil {
			t.Fatal(err)
		}
		stack.Recovery, err = auth.NewRecovery(svc, rs, key, auth.RecoveryConfig{
			PublicURL: "http://tokengate.test", ResetTTL: 30 * time.Minute, VerificationTTL: 48 * time.Hour,
			EmailBudget: 5, EmailWindow: time.Hour,
		})
		if err != nil {
			t.Fatalf("new recovery: %v", err)
		}
	}
	return stack
}

// New starts the full HTTP stack and stops it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	st := NewStack(t, opts)
	h := server.New(server.Deps{
		Service:            st.Service,
		Recovery:           st.Recovery,
		Logger:             st.Logger,
		CORSAllowedOrigins: opts.CORSAllowedOrigins,
		GraphQL:            resolvers.DefaultLimits(),
		JWKS:               token.JWKSHandler(st.Codec),
	})
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return &Server{Stack: st, URL: hs.URL, HTTP: hs}
}

// Response is a finished HTTP exchange with its body read.
type Response struct {
	*http.Response
	Body []byte
}

// JSON decodes the body into v, failing the test on error.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Do sends a request to the server. headers alternate name, value. A
// non-empty body is sent as application/json.
func (s *Server) Do(t testing.TB, method, path, body string, headers ...string) *Response {
	t.Helper()
	return Request(t, s.HTTP.Client(), s.URL+path, method, body, headers...)
}

// Request sends one request, for tests that serve their own handler. headers
// alternate name, value; a non-empty body is sent as application/json.
func Request(t testing.TB, client *http.Client, url, method, body string, headers ...string) *Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Response{Response: res, Body: b}
}

// GraphQL posts a query with variables to /graphql.
func (s *Server) GraphQL(t testing.TB, query string, vars map[string]any, headers ...string) *Response {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(map[string]any{"query": query, "variables": vars}); err != nil {
		t.Fatal(err)
	}
	return s.Do(t, http.MethodPost, "/graphql", buf.String(), headers...)
}

// SignUp registers an account through the service and returns its tokens.
func (s *Stack) SignUp(t testing.TB, email string) auth.Tokens {
	t.Helper()
	tokens, err := s.Service.Register(context.Background(), email, Password, "Test User")
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	return tokens
}

// SignIn opens another session for an existing account.
func (s *Stack) SignIn(t testing.TB, email string) auth.Tokens {
	t.Helper()
	tokens, err := s.Service.Login(context.Background(), email, Password)
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return tokens
}

// Password is the password SignUp uses.
const Password = "correct horse battery"
