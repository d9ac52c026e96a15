package resolvers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/internal/testserver"
)

// tokenFields selects every field of Tokens.
const tokenFields = `accessToken refreshToken accessTokenExpiresAt refreshTokenExpiresAt user { id email name createdAt }`

// gqlResponse is a GraphQL response body.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

type gqlError struct {
	Message    string `json:"message"`
	Path       []any  `json:"path"`
	Extensions struct {
		Code       string `json:"code"`
		Reason     string `json:"reason"`
		RetryAfter int    `json:"retryAfter"`
	} `json:"extensions"`
}

func newServer(t testing.TB) *testserver.Server {
	t.Helper()
	return testserver.New(t, testserver.Options{})
}

// exec runs an operation that the transport accepts: it must answer 200
// with a JSON body, never cached. headers alternate name, value.
func exec(t testing.TB, s *testserver.Server, query string, vars map[string]any, headers ...string) (*testserver.Response, gqlResponse) {
	t.Helper()
	res := s.GraphQL(t, query, vars, headers...)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", res.StatusCode, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", cc)
	}
	var body gqlResponse
	res.JSON(t, &body)
	return res, body
}

// data runs an operation that must succeed and decodes its data into v.
func data(t testing.TB, s *testserver.Server, v any, query string, vars map[string]any, headers ...string) *testserver.Response {
	t.Helper()
	res, body := exec(t, s, query, vars, headers...)
	if len(body.Errors) > 0 {
		t.Fatalf("errors: %+v", body.Errors)
	}
	if err := json.Unmarshal(body.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", body.Data, err)
	}
	return res
}

// fails runs an operation that must fail with one error of code (and
// reason, when not empty), and returns that error.
func fails(t testing.TB, s *testserver.Server, code, reason, query string, vars map[string]any, headers ...string) (*testserver.Response, gqlError) {
	t.Helper()
	res, body := exec(t, s, query, vars, headers...)
	if len(body.Errors) != 1 {
		t.Fatalf("got %d errors, want 1: %s", len(body.Errors), res.Body)
	}
	e := body.Errors[0]
	if e.Extensions.Code != code || e.Extensions.Reason != reason {
		t.Fatalf("extensions code %q reason %q, want %q %q: %s", e.Extensions.Code, e.Extensions.Reason, code, reason, res.Body)
	}
	return res, e
}

// access is the header that authenticates with an access token.
func access(token string) []string { return []string{"x-access-token", token} }

func registerGQL(t testing.TB, s *testserver.Server, email, password, name string) (testserver.Tokens, *testserver.Response) {
	t.Helper()
	var out struct{ Register testserver.Tokens }
	res := data(t, s, &out, `mutation($e: String!, $p: String!, $n: String!) { register(email: $e, password: $p, name: $n) { `+tokenFields+` } }`,
		map[string]any{"e": email, "p": password, "n": name})
	return out.Register, res
}

func loginGQL(t testing.TB, s *testserver.Server, email, password string, headers ...string) (testserver.Tokens, *testserver.Response) {
	t.Helper()
	var out struct{ Login testserver.Tokens }
	res := data(t, s, &out, `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { `+tokenFields+` } }`,
		map[string]any{"e": email, "p": password}, headers...)
	return out.Login, res
}

// refreshByArg calls refresh with the token as its argument and no token
// headers, so only the explicit refresh rotates.
func refreshByArg(t testing.TB, s *testserver.Server, refreshToken string) (*testserver.Response, gqlResponse) {
	t.Helper()
	return exec(t, s, `mutation($rt: String) { refresh(refreshToken: $rt) { `+tokenFields+` } }`, map[string]any{"rt": refreshToken})
}

// refreshWorks reports whether the refresh token can still be rotated.
func refreshWorks(t testing.TB, s *testserver.Server, refreshToken string) bool {
	t.Helper()
	_, body := refreshByArg(t, s, refreshToken)
	return len(body.Errors) == 0
}

// wantTokenHeaders checks that the response carries exactly the tokens of
// the body in the token headers, exposed to scripts and never cached.
func wantTokenHeaders(t testing.TB, res *testserver.Response, want testserver.Tokens) {
	t.Helper()
	h := res.Header
	if h.Get("x-access-token") != want.AccessToken || h.Get("x-refresh-token") != want.RefreshToken {
		t.Errorf("token headers differ from the body's tokens")
	}
	if want.AccessToken == "" || want.RefreshToken == "" {
		t.Errorf("empty tokens in the body")
	}
	if exp := h.Get("Access-Control-Expose-Headers"); !strings.Contains(exp, "x-access-token") || !strings.Contains(exp, "x-refresh-token") {
		t.Errorf("Access-Control-Expose-Headers %q", exp)
	}
	if cc := h.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
}
