package rest_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
)

const jsonType = "application/json"

func TestBadBodiesAre4xxProblemsNever5xx(t *testing.T) {
	s := newServer(t)
	valid := `"email":"body@example.com","password":"correct horse battery","name":"Body"`
	tenMB := strings.Repeat("x", 10<<20)
	for _, tc := range []struct {
		name        string
		contentType string
		body        func() io.Reader
		status      int
		code        auth.Code
		detail      string
	}{
		{"malformed JSON", jsonType, text(`{"email":"a@example.com",`), 400, auth.CodeBadUserInput, "malformed JSON at byte"},
		{"missing colon", jsonType, text(`{"email" "a@example.com"}`), 400, auth.CodeBadUserInput, "malformed JSON at byte 10"},
		{"bare word", jsonType, text(`hello`), 400, auth.CodeBadUserInput, "must be a JSON object"},
		{"trailing object", jsonType, text(`{` + valid + `} {}`), 400, auth.CodeBadUserInput, "unexpected data after the JSON object"},
		{"trailing garbage", jsonType, text(`{` + valid + `}x`), 400, auth.CodeBadUserInput, "unexpected data after the JSON object"},
		{"duplicate key", jsonType, text(`{` + valid + `,"email":"evil@example.com"}`), 400, auth.CodeBadUserInput, `duplicate field "email"`},
		{"duplicate key by case", jsonType, text(`{` + valid + `,"EMAIL":"evil@example.com"}`), 400, auth.CodeBadUserInput, `unknown field "EMAIL"`},
		{"unknown field", jsonType, text(`{` + valid + `,"admin":true}`), 400, auth.CodeBadUserInput, `unknown field "admin"`},
		{"overlong unknown field", jsonType, text(`{"` + strings.Repeat("k", 1000) + `":1}`), 400, auth.CodeBadUserInput, "unknown field (name too long)"},
		{"wrong type", jsonType, text(`{"email":42,"password":"correct horse battery","name":"Body"}`), 400, auth.CodeBadUserInput, "email must be a JSON string, not number"},
		{"object for a string", jsonType, text(`{"password":{"a":1}}`), 400, auth.CodeBadUserInput, "password must be a JSON string, not object"},
		{"non-UTF-8", jsonType, text("{\"email\":\"body@example.com\",\"password\":\"correct \xff horse\",\"name\":\"Body\"}"), 400, auth.CodeBadUserInput, "not valid UTF-8"},
		{"unpaired high surrogate", jsonType, text(`{"email":"body@example.com","password":"\ud800correct horse","name":"Body"}`), 400, auth.CodeBadUserInput, "surrogate"},
		{"unpaired low surrogate", jsonType, text(`{"email":"body@example.com","password":"correct horse\udc00","name":"Body"}`), 400, auth.CodeBadUserInput, "surrogate"},
		{"high surrogate at the end", jsonType, text(`{"name":"\ud800"}`), 400, auth.CodeBadUserInput, "surrogate"},
		{"empty body", jsonType, text(``), 400, auth.CodeBadUserInput, "must be a JSON object"},
		{"null", jsonType, text(`null`), 400, auth.CodeBadUserInput, "must be a JSON object"},
		{"array", jsonType, text(`[{` + valid + `}]`), 400, auth.CodeBadUserInput, "must be a JSON object"},
		{"deep nesting", jsonType, text(`{"name":` + strings.Repeat("[", 100_000) + `}`), 400, auth.CodeBadUserInput, "malformed JSON"},
		{"missing fields", jsonType, text(`{}`), 400, auth.CodeBadUserInput, "email is required"},
		{"text/plain", "text/plain", text(`{` + valid + `}`), 400, auth.CodeBadRequest, "Content-Type must be application/json"},
		{"form", "application/x-www-form-urlencoded", text(`email=a`), 400, auth.CodeBadRequest, "Content-Type must be application/json"},
		{"no Content-Type", "", text(`{` + valid + `}`), 400, auth.CodeBadRequest, "Content-Type must be application/json"},
		{"another charset", "application/json; charset=latin1", text(`{` + valid + `}`), 400, auth.CodeBadRequest, "Content-Type must be application/json"},
		{"json-ish type", "application/jsonx", text(`{` + valid + `}`), 400, auth.CodeBadRequest, "Content-Type must be application/json"},
		{"10 MB with length", jsonType, text(`{"name":"` + tenMB + `"}`), 400, auth.CodeBadRequest, "request body exceeds 1 MiB"},
		{"10 MB chunked", jsonType, func() io.Reader {
			// A reader of unknown length makes the client send it chunked.
			return io.MultiReader(strings.NewReader(`{"name":"` + tenMB + `"}`))
		}, 400, auth.CodeBadRequest, "request body exceeds 1 MiB"},
		{"just over 1 MiB", jsonType, text(`{"name":"` + strings.Repeat("x", edge.MaxBodyBytes) + `"}`), 400, auth.CodeBadRequest, "request body exceeds 1 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := send(t, s, http.MethodPost, "/auth/register", tc.contentType, tc.body())
			p := wantProblem(t, res, tc.status, tc.code)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q, want it to contain %q", p.Detail, tc.detail)
			}
		})
	}
}

func text(s string) func() io.Reader {
	return func() io.Reader { return strings.NewReader(s) }
}

func TestEveryBodyRouteDecodesStrictly(t *testing.T) {
	s := newServer(t)
	reg := register(t, s, "strict@example.com", password)
	for _, path := range []string{"/auth/register", "/auth/login", "/auth/refresh", "/auth/password"} {
		for name, body := range map[string]string{
			"malformed": `{"a":`,
			"unknown":   `{"unknown":"x"}`,
			"trailing":  `{} []`,
			"not UTF-8": "{\"x\":\"\xc3\x28\"}",
		} {
			res := s.Do(t, http.MethodPost, path, body, bearer(reg.AccessToken)...)
			p := wantProblem(t, res, http.StatusBadRequest, auth.CodeBadUserInput)
			if p.Detail == "" {
				t.Errorf("%s %s: no detail", path, name)
			}
		}
		res := send(t, s, http.MethodPost, path, "text/plain", strings.NewReader(`{}`), bearer(reg.AccessToken)...)
		wantProblem(t, res, http.StatusBadRequest, auth.CodeBadRequest)
	}
}

func TestJSONWithUTF8CharsetIsAccepted(t *testing.T) {
	s := newServer(t)
	body := jsonBody(t, map[string]string{"email": "charset@example.com", "password": password, "name": "Charset"})
	res := send(t, s, http.MethodPost, "/auth/register", "application/json; charset=UTF-8", strings.NewReader(body))
	wantTokens(t, res, http.StatusCreated)
}

func TestRefreshAcceptsAnEmptyBodyOrAnEmptyObjectAndUsesTheHeader(t *testing.T) {
	s := newServer(t)
	reg := register(t, s, "empty@example.com", password)
	next := wantTokens(t, refreshWithHeader(t, s, reg.RefreshToken), http.StatusOK)
	res := send(t, s, http.MethodPost, "/auth/refresh", jsonType, strings.NewReader(`{}`), "x-refresh-token", next.RefreshToken)
	wantTokens(t, res, http.StatusOK)
}

func TestTokenHeadersSurviveAFailedBodyDecode(t *testing.T) {
	s := newServer(t)
	reg := register(t, s, "survive@example.com", password)
	s.Clock.Advance(16 * time.Minute)
	// The middleware rotates, then the handler refuses the body: the client
	// must still learn its new tokens, or its old refresh token is spent.
	res := send(t, s, http.MethodPost, "/auth/password", jsonType, bytes.NewReader([]byte(`{"x":`)), "x-refresh-token", reg.RefreshToken)
	wantProblem(t, res, http.StatusBadRequest, auth.CodeBadUserInput)
	wantHeaderTokens(t, res)
}
