package tokengatetest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/app"
)

// Conformance runs the wire contract's behaviours (API.md sections 2 to 5:
// token headers, rotation, the grace window, reuse detection, cache
// headers, error shapes) against what newHandler serves of an app built
// with opts, so an app that wraps or extends tokengate learns at once if it
// broke them. newHandler may be nil: the app's handler as it is. Each
// behaviour is a subtest on a server of its own.
func Conformance(t *testing.T, newHandler func(a *app.App) http.Handler, opts ...Option) {
	t.Helper()
	start := func(t *testing.T) *Server {
		o := append([]Option{WithEnv("ACCESS_TOKEN_TTL", "15m"), WithEnv("REFRESH_REUSE_GRACE", "10s")}, opts...)
		if newHandler != nil {
			o = append(o, WithHandler(newHandler))
		}
		return NewServer(t, o...)
	}
	const password = "conformance password"

	t.Run("sign-up answers 201 with the pair in the body and the headers", func(t *testing.T) {
		s := start(t)
		res := s.Do(t, http.MethodPost, "/auth/register", map[string]string{"email": "c1@example.com", "password": password, "name": "C"})
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("POST /auth/register: %d %s", res.StatusCode, res.Body)
		}
		var tok Tokens
		res.Decode(t, &tok)
		wantPair(t, res, tok)
	})

	t.Run("a valid access token is the caller, and never cached", func(t *testing.T) {
		s := start(t)
		tok := s.SignUp(t, "c2@example.com", password, "C")
		res := s.Do(t, http.MethodGet, "/auth/me", nil, "x-access-token", tok.AccessToken)
		var u User
		res.Decode(t, &u)
		if res.StatusCode != http.StatusOK || u.ID != tok.User.ID {
			t.Fatalf("GET /auth/me: %d %s", res.StatusCode, res.Body)
		}
		wantUncacheable(t, res)
		res = s.Do(t, http.MethodGet, "/auth/me", nil, "Authorization", "Bearer "+tok.AccessToken)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /auth/me with Authorization: Bearer: %d %s", res.StatusCode, res.Body)
		}
	})

	t.Run("an expired access token is refreshed by the middleware on any route", func(t *testing.T) {
		s := start(t)
		tok := s.SignUp(t, "c3@example.com", password, "C")
		s.Advance(16 * time.Minute)
		res := s.Do(t, http.MethodGet, "/auth/me", nil, tok.Headers()...)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /auth/me after expiry: %d %s", res.StatusCode, res.Body)
		}
		next := Tokens{AccessToken: res.Header.Get("x-access-token"), RefreshToken: res.Header.Get("x-refresh-token")}
		if next.AccessToken == "" || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
			t.Fatalf("no new pair in the headers: %v", res.Header)
		}
		wantExposed(t, res)
		wantUncacheable(t, res)
		// The new pair works; the expired access token alone does not.
		if res := s.Do(t, http.MethodGet, "/auth/me", nil, "x-access-token", next.AccessToken); res.StatusCode != http.StatusOK {
			t.Errorf("the re-issued access token: %d %s", res.StatusCode, res.Body)
		}
		res = s.Do(t, http.MethodGet, "/auth/me", nil, "x-access-token", tok.AccessToken)
		wantProblem(t, res, http.StatusUnauthorized, "UNAUTHENTICATED", "TOKEN_EXPIRED")
	})

	t.Run("the previous refresh token inside the grace window gets the current pair", func(t *testing.T) {
		s := start(t)
		tok := s.SignUp(t, "c4@example.com", password, "C")
		first := s.Do(t, http.MethodPost, "/auth/refresh", map[string]string{"refreshToken": tok.RefreshToken})
		if first.StatusCode != http.StatusOK {
			t.Fatalf("refresh: %d %s", first.StatusCode, first.Body)
		}
		s.Advance(5 * time.Second)
		again := s.Do(t, http.MethodPost, "/auth/refresh", map[string]string{"refreshToken": tok.RefreshToken})
		if again.StatusCode != http.StatusOK {
			t.Fatalf("the same refresh token inside the grace window: %d %s", again.StatusCode, again.Body)
		}
		var tok2 Tokens
		again.Decode(t, &tok2)
		wantPair(t, again, tok2)
	})

	t.Run("an older refresh token outside the grace window ends the session", func(t *testing.T) {
		s := start(t)
		tok := s.SignUp(t, "c5@example.com", password, "C")
		res := s.Do(t, http.MethodPost, "/auth/refresh", map[string]string{"refreshToken": tok.RefreshToken})
		var next Tokens
		res.Decode(t, &next)
		s.Advance(time.Minute)
		res = s.Do(t, http.MethodPost, "/auth/refresh", map[string]string{"refreshToken": tok.RefreshToken})
		wantProblem(t, res, http.StatusUnauthorized, "UNAUTHENTICATED", "REFRESH_REUSED")
		if got := res.Header.Get("WWW-Authenticate"); !strings.Contains(got, "invalid_token") {
			t.Errorf("WWW-Authenticate %q", got)
		}
		res = s.Do(t, http.MethodPost, "/auth/refresh", map[string]string{"refreshToken": next.RefreshToken})
		wantProblem(t, res, http.StatusUnauthorized, "UNAUTHENTICATED", "SESSION_REVOKED")
	})

	t.Run("log out everywhere stops every refresh token", func(t *testing.T) {
		s := start(t)
		a := s.SignUp(t, "c6@example.com", password, "C")
		b := s.SignIn(t, "c6@example.com", password)
		if res := s.Do(t, http.MethodPost, "/auth/logout-all", nil, "x-access-token", a.AccessToken); res.StatusCode != http.StatusNoContent {
			t.Fatalf("logout-all: %d %s", res.StatusCode, res.Body)
		}
		for _, tok := range []Tokens{a, b} {
			res := s.Do(t, http.MethodPost, "/auth/refresh", map[string]string{"refreshToken": tok.RefreshToken})
			wantProblem(t, res, http.StatusUnauthorized, "UNAUTHENTICATED", "SESSION_REVOKED")
		}
	})

	t.Run("errors have the contract's shapes", func(t *testing.T) {
		s := start(t)
		tok := s.SignUp(t, "c7@example.com", password, "C")
		res := s.Do(t, http.MethodGet, "/auth/me", nil)
		wantProblem(t, res, http.StatusUnauthorized, "UNAUTHENTICATED", "TOKEN_MISSING")
		if got := res.Header.Get("WWW-Authenticate"); got != "Bearer" {
			t.Errorf("WWW-Authenticate %q on a request with no token, want Bearer", got)
		}
		res = s.Do(t, http.MethodPost, "/auth/login", map[string]string{"email": "c7@example.com", "password": "wrong password"})
		wantProblem(t, res, http.StatusUnauthorized, "INVALID_CREDENTIALS", "")
		res = s.Do(t, http.MethodPost, "/auth/login", `{"email":"c7@example.com","email":"x"}`)
		wantProblem(t, res, http.StatusBadRequest, "BAD_USER_INPUT", "")
		res = s.Do(t, http.MethodGet, "/auth/me", nil, "x-access-token", tok.AccessToken, "Authorization", "Bearer other")
		wantProblem(t, res, http.StatusBadRequest, "BAD_REQUEST", "")
		res = s.Do(t, http.MethodGet, "/no/such/route", nil)
		wantProblem(t, res, http.StatusNotFound, "NOT_FOUND", "")

		res = s.GraphQL(t, "{ loggedInUser { id } }", nil)
		var body struct {
			Errors []struct {
				Extensions struct{ Code, Reason string } `json:"extensions"`
			} `json:"errors"`
		}
		res.Decode(t, &body)
		if len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "UNAUTHENTICATED" || body.Errors[0].Extensions.Reason != "TOKEN_MISSING" {
			t.Errorf("GraphQL loggedInUser without a token: %d %s", res.StatusCode, res.Body)
		}
		res = s.Do(t, http.MethodPost, "/graphql", `{"query":"{ __typename }"}`, "x-access-token", tok.AccessToken, "Authorization", "Bearer other")
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(res.Body), `"BAD_REQUEST"`) || strings.Contains(string(res.Body), `"data"`) {
			t.Errorf("a refused GraphQL request: %d %s, want 400 with one GraphQL error and no data", res.StatusCode, res.Body)
		}
	})

	t.Run("GraphQL re-issues tokens in the headers too", func(t *testing.T) {
		s := start(t)
		tok := s.SignUp(t, "c8@example.com", password, "C")
		res := s.GraphQL(t, `mutation($t: String) { refresh(refreshToken: $t) { accessToken refreshToken } }`, map[string]any{"t": tok.RefreshToken})
		var body struct {
			Data struct{ Refresh Tokens } `json:"data"`
		}
		res.Decode(t, &body)
		wantPair(t, res, body.Data.Refresh)
	})
}

func wantPair(t *testing.T, res *Response, tok Tokens) {
	t.Helper()
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("no tokens in the body: %s", res.Body)
	}
	if res.Header.Get("x-access-token") != tok.AccessToken || res.Header.Get("x-refresh-token") != tok.RefreshToken {
		t.Errorf("the headers do not carry the body's tokens: %v", res.Header)
	}
	wantExposed(t, res)
	wantUncacheable(t, res)
}

func wantExposed(t *testing.T, res *Response) {
	t.Helper()
	exposed := strings.ToLower(res.Header.Get("Access-Control-Expose-Headers"))
	for _, h := range []string{"x-access-token", "x-refresh-token"} {
		if !strings.Contains(exposed, h) {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, h)
		}
	}
}

func wantUncacheable(t *testing.T, res *Response) {
	t.Helper()
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	vary := strings.ToLower(strings.Join(res.Header.Values("Vary"), ","))
	for _, h := range []string{"authorization", "x-access-token", "x-refresh-token"} {
		if !strings.Contains(vary, h) {
			t.Errorf("Vary %q lacks %s", vary, h)
		}
	}
	if res.Header.Get("ETag") != "" {
		t.Errorf("an ETag on a response to a request with tokens: %q", res.Header.Get("ETag"))
	}
}

func wantProblem(t *testing.T, res *Response, status int, code, reason string) {
	t.Helper()
	if res.StatusCode != status || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%d %q %s, want a %d problem+json", res.StatusCode, res.Header.Get("Content-Type"), res.Body, status)
		return
	}
	var p struct{ Code, Reason string }
	res.Decode(t, &p)
	if p.Code != code || p.Reason != reason {
		t.Errorf("code %q reason %q, want %q %q: %s", p.Code, p.Reason, code, reason, res.Body)
	}
}
