package server_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/ratelimit"
	"github.com/tokengate/tokengate/store/sqlite"
)

const typename = `{"query":"{ __typename }"}`

// graphQLError is the one error of a GraphQL response to a request that
// was refused before its operation ran.
type graphQLError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code       string `json:"code"`
		Reason     string `json:"reason"`
		RetryAfter int    `json:"retryAfter"`
	} `json:"extensions"`
}

// wantGraphQLRefusal checks res is a GraphQL response with status, one
// error of code and no data, not to be cached, and returns the error.
func wantGraphQLRefusal(t *testing.T, res *testserver.Response, status int, code auth.Code) graphQLError {
	t.Helper()
	var body struct {
		Data   *struct{}      `json:"data"`
		Errors []graphQLError `json:"errors"`
	}
	res.JSON(t, &body)
	if res.StatusCode != status || res.Header.Get("Content-Type") != "application/json" ||
		body.Data != nil || len(body.Errors) != 1 || body.Errors[0].Extensions.Code != string(code) || body.Errors[0].Message == "" {
		t.Fatalf("got %d %q %s, want %d and one GraphQL error %s", res.StatusCode, res.Header.Get("Content-Type"), res.Body, status, code)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	return body.Errors[0]
}

// wantRetryAfter checks the header and the extension agree on a wait of at
// least a second.
func wantRetryAfter(t *testing.T, res *testserver.Response, e graphQLError) {
	t.Helper()
	header, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || header < 1 || e.Extensions.RetryAfter != header {
		t.Errorf("Retry-After %q and extensions.retryAfter %d, want the same whole seconds ≥ 1", res.Header.Get("Retry-After"), e.Extensions.RetryAfter)
	}
}

func TestMiddlewareRefusalsOnGraphQLAreGraphQLResponses(t *testing.T) {
	t.Run("conflicting token headers", func(t *testing.T) {
		s := testserver.New(t, testserver.Options{})
		a := s.SignUp(t, "ada@example.com")
		b := s.SignUp(t, "grace@example.com")
		conflict := []string{"x-access-token", a.AccessToken, "Authorization", "Bearer " + b.AccessToken}

		wantGraphQLRefusal(t, s.Do(t, http.MethodPost, "/graphql", typename, conflict...), http.StatusBadRequest, auth.CodeBadRequest)
		// The same refusal anywhere else stays problem+json.
		res := s.Do(t, http.MethodGet, "/auth/me", "", conflict...)
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET /auth/me: %d %q %s, want a 400 problem+json", res.StatusCode, res.Header.Get("Content-Type"), res.Body)
		}
	})

	t.Run("refresh budget spent", func(t *testing.T) {
		s := testserver.New(t, testserver.Options{Limits: auth.Limits{
			Refresh: ratelimit.New(ratelimit.Rate{N: 1, Per: time.Hour}, time.Now),
		}})
		tok := s.SignUp(t, "ada@example.com")
		res := s.Do(t, http.MethodPost, "/graphql", typename, "x-refresh-token", tok.RefreshToken)
		next := res.Header.Get("x-refresh-token")
		if res.StatusCode != http.StatusOK || next == "" {
			t.Fatalf("first refresh: %d %s", res.StatusCode, res.Body)
		}
		res = s.Do(t, http.MethodPost, "/graphql", typename, "x-refresh-token", next)
		wantRetryAfter(t, res, wantGraphQLRefusal(t, res, http.StatusTooManyRequests, auth.CodeRateLimited))
	})

	t.Run("store down", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		down := &unreachable{Store: st}
		s := testserver.New(t, testserver.Options{Store: down})
		tok := s.SignUp(t, "ada@example.com")
		down.rotations.Store(true)
		res := s.Do(t, http.MethodPost, "/graphql", typename, "x-refresh-token", tok.RefreshToken)
		e := wantGraphQLRefusal(t, res, http.StatusServiceUnavailable, auth.CodeStoreUnavailable)
		wantRetryAfter(t, res, e)
		if res.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("a 503 challenges the client's tokens: %v", res.Header)
		}
		if strings.Contains(string(res.Body), "connection refused") {
			t.Errorf("the cause reached the client: %s", res.Body)
		}
	})
}

// unreachable is a store whose rotations fail as an unreachable database's
// do, once switched on; the real outage on PostgreSQL is
// integration.TestPostgresGoesAwayAndComesBack.
type unreachable struct {
	auth.Store
	rotations atomic.Bool
}

func (u *unreachable) RotateSession(ctx context.Context, r auth.Rotation) (auth.Rotated, bool, error) {
	if u.rotations.Load() {
		return auth.Rotated{}, false, auth.Unavailable(errors.New("dial tcp 10.0.0.1:5432: connection refused"))
	}
	return u.Store.RotateSession(ctx, r)
}
