package rest_test

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
)

// The wire shapes as a client reads them.

type problemBody struct {
	Type   string      `json:"type"`
	Title  string      `json:"title"`
	Status int         `json:"status"`
	Code   auth.Code   `json:"code"`
	Reason auth.Reason `json:"reason"`
	Detail string      `json:"detail"`
}

func newServer(t testing.TB) *testserver.Server {
	t.Helper()
	return testserver.New(t, testserver.Options{})
}

// jsonBody marshals v for a request body.
func jsonBody(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// send is testserver's Do with full control of the Content-Type (empty: no
// header) and the body.
func send(t testing.TB, s *testserver.Server, method, path, contentType string, body io.Reader, headers ...string) *testserver.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := s.HTTP.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &testserver.Response{Response: res, Body: b}
}

func wantStatus(t testing.TB, res *testserver.Response, status int) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", res.StatusCode, status, res.Body)
	}
}

// wantTokens checks a token-bearing response: the status, the body, the
// same tokens in the headers, and no caching.
func wantTokens(t testing.TB, res *testserver.Response, status int) testserver.Tokens {
	t.Helper()
	wantStatus(t, res, status)
	var tb testserver.Tokens
	res.JSON(t, &tb)
	if tb.AccessToken == "" || tb.RefreshToken == "" {
		t.Fatalf("tokens missing from body %s", res.Body)
	}
	if got := res.Header.Get("X-Access-Token"); got != tb.AccessToken {
		t.Errorf("x-access-token header %q, want the body's access token", got)
	}
	if got := res.Header.Get("X-Refresh-Token"); got != tb.RefreshToken {
		t.Errorf("x-refresh-token header %q, want the body's refresh token", got)
	}
	wantNoStore(t, res)
	return tb
}

// wantHeaderTokens checks the tokens the middleware put on a response whose
// body does not carry them.
func wantHeaderTokens(t testing.TB, res *testserver.Response) (access, refresh string) {
	t.Helper()
	access, refresh = res.Header.Get("X-Access-Token"), res.Header.Get("X-Refresh-Token")
	if access == "" || refresh == "" {
		t.Fatalf("no tokens in the response headers: %v", res.Header)
	}
	wantNoStore(t, res)
	return access, refresh
}

func wantNoStore(t testing.TB, res *testserver.Response) {
	t.Helper()
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	if !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "x-refresh-token") {
		t.Errorf("Access-Control-Expose-Headers %q does not expose the token headers", res.Header.Get("Access-Control-Expose-Headers"))
	}
}

// wantProblem checks an RFC 9457 response with the given status and code
// and returns it for further checks.
func wantProblem(t testing.TB, res *testserver.Response, status int, code auth.Code) problemBody {
	t.Helper()
	wantStatus(t, res, status)
	mt, _, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil || mt != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", res.Header.Get("Content-Type"))
	}
	var fields map[string]any
	res.JSON(t, &fields)
	for k := range fields {
		if !slices.Contains([]string{"type", "title", "status", "code", "reason", "detail"}, k) {
			t.Errorf("problem has unexpected member %q: %s", k, res.Body)
		}
	}
	var p problemBody
	res.JSON(t, &p)
	if p.Type != "about:blank" || p.Title != http.StatusText(status) || p.Status != status || p.Code != code || p.Detail == "" {
		t.Errorf("problem %s, want about:blank, %q, %d, %s and a detail", res.Body, http.StatusText(status), status, code)
	}
	if _, ok := fields["reason"]; ok && p.Reason == "" {
		t.Errorf("empty reason not omitted: %s", res.Body)
	}
	return p
}

// register signs an account up through POST /auth/register.
func register(t testing.TB, s *testserver.Server, email, password string) testserver.Tokens {
	t.Helper()
	res := s.Do(t, http.MethodPost, "/auth/register",
		jsonBody(t, map[string]string{"email": email, "password": password, "name": "Test User"}))
	return wantTokens(t, res, http.StatusCreated)
}

// login opens a session through POST /auth/login.
func login(t testing.TB, s *testserver.Server, email, password string) testserver.Tokens {
	t.Helper()
	res := s.Do(t, http.MethodPost, "/auth/login", jsonBody(t, map[string]string{"email": email, "password": password}))
	return wantTokens(t, res, http.StatusOK)
}

// refreshWithHeader rotates through POST /auth/refresh with no body.
func refreshWithHeader(t testing.TB, s *testserver.Server, refresh string) *testserver.Response {
	t.Helper()
	return s.Do(t, http.MethodPost, "/auth/refresh", "", "x-refresh-token", refresh)
}

func bearer(access string) []string { return []string{"Authorization", "Bearer " + access} }
