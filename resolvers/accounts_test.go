package resolvers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/internal/testserver"
)

const meQuery = `{ loggedInUser { id email name createdAt } }`

func TestRegisterThenLoggedInUser(t *testing.T) {
	s := newServer(t)
	reg, _ := registerGQL(t, s, "  Ada@Example.com ", testserver.Password, " Ada Lovelace ")
	if reg.User.Email != "Ada@Example.com" || reg.User.Name != "Ada Lovelace" || reg.User.ID == "" {
		t.Fatalf("registered user %+v", reg.User)
	}
	if !reg.User.CreatedAt.Equal(testserver.Epoch) {
		t.Errorf("createdAt %v, want %v", reg.User.CreatedAt, testserver.Epoch)
	}
	if !reg.AccessTokenExpiresAt.After(testserver.Epoch) || !reg.RefreshTokenExpiresAt.After(reg.AccessTokenExpiresAt) {
		t.Errorf("expiries access %v refresh %v", reg.AccessTokenExpiresAt, reg.RefreshTokenExpiresAt)
	}

	var out struct{ LoggedInUser testserver.User }
	res := data(t, s, &out, meQuery, nil, access(reg.AccessToken)...)
	if out.LoggedInUser != reg.User {
		t.Errorf("loggedInUser %+v, want %+v", out.LoggedInUser, reg.User)
	}
	// Times are RFC 3339 in UTC on the wire.
	if !strings.Contains(string(res.Body), `"createdAt":"2030-01-02T03:04:05Z"`) {
		t.Errorf("createdAt not RFC 3339 UTC: %s", res.Body)
	}
}

func TestLogin(t *testing.T) {
	s := newServer(t)
	s.SignUp(t, "grace@example.com")
	tokens, _ := loginGQL(t, s, "GRACE@example.com", testserver.Password)
	if tokens.User.Email != "grace@example.com" {
		t.Fatalf("login user %+v", tokens.User)
	}
	var out struct{ LoggedInUser testserver.User }
	data(t, s, &out, meQuery, nil, access(tokens.AccessToken)...)
	if out.LoggedInUser.ID != tokens.User.ID {
		t.Errorf("loggedInUser %+v, want %+v", out.LoggedInUser, tokens.User)
	}
}

func TestWrongPasswordAndUnknownEmailGiveTheSameError(t *testing.T) {
	s := newServer(t)
	s.SignUp(t, "grace@example.com")
	const login = `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }`
	_, wrong := fails(t, s, "INVALID_CREDENTIALS", "", login, map[string]any{"e": "grace@example.com", "p": "not the password"})
	_, unknown := fails(t, s, "INVALID_CREDENTIALS", "", login, map[string]any{"e": "nobody@example.com", "p": testserver.Password})
	if wrong.Message != unknown.Message || wrong.Message == "" {
		t.Errorf("messages differ: wrong password %q, unknown e-mail %q", wrong.Message, unknown.Message)
	}
}

func TestEmailTakenIsCaseInsensitive(t *testing.T) {
	s := newServer(t)
	s.SignUp(t, "grace@example.com")
	fails(t, s, "EMAIL_TAKEN", "", `mutation { register(email: "GRACE@Example.COM", password: "another password", name: "G") { accessToken } }`, nil)
}

func TestBadUserInput(t *testing.T) {
	s := newServer(t)
	const register = `mutation($e: String!, $p: String!, $n: String!) { register(email: $e, password: $p, name: $n) { accessToken } }`
	for _, tc := range []struct {
		name            string
		email, pw, user string
	}{
		{"bad e-mail", "not-an-email", testserver.Password, "Name"},
		{"e-mail with a display name", "Grace <grace@example.com>", testserver.Password, "Name"},
		{"short password", "a@example.com", "7 bytes", "Name"},
		{"73-byte password", "a@example.com", strings.Repeat("p", 73), "Name"},
		{"empty name", "a@example.com", testserver.Password, ""},
		{"blank name", "a@example.com", testserver.Password, "   "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, e := fails(t, s, "BAD_USER_INPUT", "", register, map[string]any{"e": tc.email, "p": tc.pw, "n": tc.user})
			if e.Message == "" || strings.Contains(e.Message, "BAD_USER_INPUT") {
				t.Errorf("message %q is not the public message", e.Message)
			}
			if res.Header.Get("x-access-token") != "" {
				t.Errorf("tokens issued for a refused registration")
			}
		})
	}
	t.Run("72-byte password is accepted", func(t *testing.T) {
		registerGQL(t, s, "long@example.com", strings.Repeat("p", 72), "Name")
	})
}

func TestLoggedInUserAnonymous(t *testing.T) {
	s := newServer(t)
	res, _ := fails(t, s, "UNAUTHENTICATED", "TOKEN_MISSING", meQuery, nil)
	if !strings.Contains(string(res.Body), `"data":null`) {
		t.Errorf("data should be null for a failed non-null root field: %s", res.Body)
	}
}

func TestLoggedInUserWithExpiredAccessToken(t *testing.T) {
	s := newServer(t)
	tokens := s.SignUp(t, "grace@example.com")
	// Past the 15-minute lifetime and the codec's 30s leeway.
	s.Clock.Advance(16 * time.Minute)
	fails(t, s, "UNAUTHENTICATED", "TOKEN_EXPIRED", meQuery, nil, access(tokens.AccessToken)...)
}

func TestInvalidAccessTokenIsTokenInvalid(t *testing.T) {
	s := newServer(t)
	tokens := s.SignUp(t, "grace@example.com")
	// A refresh token is never accepted as an access token.
	fails(t, s, "UNAUTHENTICATED", "TOKEN_INVALID", meQuery, nil, access(tokens.RefreshToken)...)
}
