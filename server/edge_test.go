package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/internal/teststores"
	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/server"
	"github.com/tokengate/tokengate/store/sqlite"
)

func openSQLite(t *testing.T) auth.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// broken is a store whose session reads and revocations fail with an
// internal error (not an outage) once switched on.
type broken struct {
	auth.Store
	on atomic.Bool
}

func (b *broken) ListSessions(ctx context.Context, userID string, now time.Time) ([]auth.Session, error) {
	if b.on.Load() {
		return nil, errors.New("disk on fire")
	}
	return b.Store.ListSessions(ctx, userID, now)
}

func (b *broken) RevokeSession(ctx context.Context, userID, sessionID string, now time.Time) error {
	if b.on.Load() {
		return errors.New("disk on fire")
	}
	return b.Store.RevokeSession(ctx, userID, sessionID, now)
}

// newEdgeServer serves the whole handler with a panicking route of an
// adopter's mounted beside tokengate's, and returns its log.
func newEdgeServer(t *testing.T, st auth.Store) (*testserver.Stack, *httptest.Server, *testserver.LogBuffer) {
	t.Helper()
	var logs testserver.LogBuffer
	stack := testserver.NewStack(t, testserver.Options{Store: st, Logs: &logs})
	h := server.New(server.Deps{
		Service: stack.Service,
		Logger:  stack.Logger,
		GraphQL: resolvers.DefaultLimits(),
		Extra: map[string]http.Handler{"/boom": http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("kaboom")
		})},
	})
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return stack, hs, &logs
}

func TestErrorAndPanicLinesCarryRequestIDUserAndRoute(t *testing.T) {
	st := &broken{Store: openSQLite(t)}
	stack, hs, logs := newEdgeServer(t, st)
	tok := stack.SignUp(t, "ada@example.com")
	st.on.Store(true)

	for _, tc := range []struct {
		method, path, route, msg string
	}{
		{http.MethodGet, "/auth/sessions", "/auth/sessions", "request failed"},
		{http.MethodDelete, "/auth/sessions/secret-session-id", "/auth/sessions/{id}", "request failed"},
		{http.MethodGet, "/boom/secret-path", "/boom/*", "handler panicked"},
	} {
		logs.Reset()
		res := testserver.Request(t, hs.Client(), hs.URL+tc.path, tc.method, "", "x-access-token", tok.AccessToken)
		if res.StatusCode != http.StatusInternalServerError {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, res.StatusCode, res.Body)
		}
		id := res.Header.Get("X-Request-Id")
		var line string
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, "level=ERROR") && strings.Contains(l, `msg="`+tc.msg+`"`) {
				line = l
			}
		}
		if line == "" {
			t.Fatalf("%s %s: no %q line in\n%s", tc.method, tc.path, tc.msg, logs.String())
		}
		for _, want := range []string{"request_id=" + id, "user=" + tok.User.ID, "route=" + tc.route} {
			if !strings.Contains(line, want) {
				t.Errorf("%s %s: line lacks %s: %s", tc.method, tc.path, want, line)
			}
		}
		if strings.Contains(line, "secret-") {
			t.Errorf("%s %s: the raw path reached the log: %s", tc.method, tc.path, line)
		}
		if n := len(regexp.MustCompile(`request_id=`).FindAllString(line, -1)); n != 1 {
			t.Errorf("request_id %d times: %s", n, line)
		}
	}
}

func TestGraphQLErrorShapeHoldsUnderAPrefix(t *testing.T) {
	stack := testserver.NewStack(t, testserver.Options{})
	parent := chi.NewRouter()
	parent.Mount("/api", server.New(server.Deps{Service: stack.Service, Logger: stack.Logger, GraphQL: resolvers.DefaultLimits()}))
	hs := httptest.NewServer(parent)
	t.Cleanup(hs.Close)
	a := stack.SignUp(t, "ada@example.com")
	b := stack.SignUp(t, "grace@example.com")
	conflict := []string{"content-type", "application/json", "x-access-token", a.AccessToken, "Authorization", "Bearer " + b.AccessToken}

	res := testserver.Request(t, hs.Client(), hs.URL+"/api/graphql", http.MethodPost, typename, conflict...)
	wantGraphQLRefusal(t, res, http.StatusBadRequest, auth.CodeBadRequest)
	res = testserver.Request(t, hs.Client(), hs.URL+"/api/auth/me", http.MethodGet, "", conflict...)
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("GET /api/auth/me: %d %q %s, want a 400 problem+json", res.StatusCode, res.Header.Get("Content-Type"), res.Body)
	}
}

// TestHEADIsAnsweredOnEveryGETRoute walks the router, so a GET route added
// later is covered too.
func TestHEADIsAnsweredOnEveryGETRoute(t *testing.T) {
	s := testserver.New(t, testserver.Options{})
	tok := s.SignUp(t, "ada@example.com")
	routes, ok := s.HTTP.Config.Handler.(chi.Routes)
	if !ok {
		t.Fatal("the handler is not a chi router")
	}
	var paths []string
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method == http.MethodGet {
			paths = append(paths, strings.ReplaceAll(route, "/*", "/"))
		}
		return nil
	})
	if err != nil || len(paths) < 8 {
		t.Fatalf("walk: %v, %d GET routes", err, len(paths))
	}
	for _, p := range paths {
		get := s.Do(t, http.MethodGet, p, "", "x-access-token", tok.AccessToken)
		head := s.Do(t, http.MethodHead, p, "", "x-access-token", tok.AccessToken)
		if head.StatusCode != get.StatusCode || len(head.Body) != 0 ||
			head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Errorf("HEAD %s: %d %q (%d body bytes); GET: %d %q", p, head.StatusCode, head.Header.Get("Content-Type"), len(head.Body), get.StatusCode, get.Header.Get("Content-Type"))
		}
	}
}

func TestSessionIDsNoStoreCanHoldAreNotFound(t *testing.T) {
	teststores.Each(t, func(t *testing.T, st auth.Store) {
		var logs testserver.LogBuffer
		s := testserver.New(t, testserver.Options{Store: st, Logs: &logs})
		tok := s.SignUp(t, "ada@example.com")
		for _, path := range []string{"/auth/sessions/%00", "/auth/sessions/%FF%FE", "/auth/sessions/a%00b"} {
			res := s.Do(t, http.MethodDelete, path, "", "x-access-token", tok.AccessToken)
			if res.StatusCode != http.StatusNotFound || !strings.Contains(string(res.Body), `"NOT_FOUND"`) {
				t.Errorf("DELETE %s: %d %s, want 404 NOT_FOUND", path, res.StatusCode, res.Body)
			}
		}
		res := s.GraphQL(t, `mutation { revokeSession(id: "\u0000") }`, nil, "x-access-token", tok.AccessToken)
		if !strings.Contains(string(res.Body), `"NOT_FOUND"`) {
			t.Errorf("revokeSession with a NUL: %s", res.Body)
		}
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("an ERROR was logged:\n%s", logs.String())
		}
	})
}
