package resolvers_test

import (
	"context"
	"testing"
	"time"

	"github.com/tokengate/tokengate/internal/testserver"
)

// generation returns the rotation generation a refresh token names.
func generation(t testing.TB, s *testserver.Server, refreshToken string) int64 {
	t.Helper()
	c, err := s.Codec.VerifyRefresh(refreshToken)
	if err != nil {
		t.Fatalf("verify refresh token: %v", err)
	}
	return c.Generation
}

// storedGeneration returns the session's generation in the store.
func storedGeneration(t testing.TB, s *testserver.Server, sessionID string) int64 {
	t.Helper()
	sess, _, err := s.Store.SessionState(context.Background(), sessionID)
	if err != nil {
		t.Fatalf("session state: %v", err)
	}
	return sess.Generation
}

func TestTokensAreAlsoInResponseHeaders(t *testing.T) {
	s := newServer(t)

	reg, res := registerGQL(t, s, "grace@example.com", testserver.Password, "Grace")
	t.Run("register", func(t *testing.T) { wantTokenHeaders(t, res, reg) })

	login, res := loginGQL(t, s, "grace@example.com", testserver.Password)
	t.Run("login", func(t *testing.T) { wantTokenHeaders(t, res, login) })

	t.Run("refresh", func(t *testing.T) {
		var out struct{ Refresh testserver.Tokens }
		res := data(t, s, &out, `mutation($rt: String) { refresh(refreshToken: $rt) { `+tokenFields+` } }`, map[string]any{"rt": login.RefreshToken})
		wantTokenHeaders(t, res, out.Refresh)
	})

	t.Run("changePassword", func(t *testing.T) {
		var out struct{ ChangePassword testserver.Tokens }
		res := data(t, s, &out, `mutation { changePassword(currentPassword: "`+testserver.Password+`", newPassword: "a new password") { `+tokenFields+` } }`,
			nil, access(reg.AccessToken)...)
		wantTokenHeaders(t, res, out.ChangePassword)
	})
}

func TestIssuedTokensStayWhenTheOperationFails(t *testing.T) {
	s := newServer(t)
	s.SignUp(t, "grace@example.com")
	// login succeeds, then logout fails (the request carried no token), and
	// the non-null error wipes data: the tokens survive only in the headers.
	res, body := exec(t, s, `mutation { login(email: "grace@example.com", password: "`+testserver.Password+`") { accessToken } logout }`, nil)
	if len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "UNAUTHENTICATED" {
		t.Fatalf("errors %+v", body.Errors)
	}
	at := res.Header.Get("x-access-token")
	if at == "" || res.Header.Get("x-refresh-token") == "" {
		t.Fatalf("issued tokens missing from the headers: %v", res.Header)
	}
	var out struct{ LoggedInUser testserver.User }
	data(t, s, &out, meQuery, nil, access(at)...)
}

func TestRefreshMutationByArgument(t *testing.T) {
	s := newServer(t)
	old := s.SignUp(t, "grace@example.com")
	var out struct{ Refresh testserver.Tokens }
	data(t, s, &out, `mutation($rt: String) { refresh(refreshToken: $rt) { `+tokenFields+` } }`, map[string]any{"rt": old.RefreshToken})
	if out.Refresh.RefreshToken == old.RefreshToken || out.Refresh.User.ID != old.User.ID {
		t.Fatalf("refresh returned %+v", out.Refresh)
	}
	if g := generation(t, s, out.Refresh.RefreshToken); g != 2 {
		t.Errorf("generation %d, want 2", g)
	}
}

func TestRefreshMutationByHeader(t *testing.T) {
	s := newServer(t)
	old := s.SignUp(t, "grace@example.com")
	// A valid access token lets the request through without a rotation; the
	// explicit refresh then rotates the x-refresh-token it was sent.
	var out struct{ Refresh testserver.Tokens }
	res := data(t, s, &out, `mutation { refresh { `+tokenFields+` } }`, nil,
		"x-access-token", old.AccessToken, "x-refresh-token", old.RefreshToken)
	wantTokenHeaders(t, res, out.Refresh)
	if g := generation(t, s, out.Refresh.RefreshToken); g != 2 {
		t.Errorf("generation %d, want 2", g)
	}
}

func TestRefreshWithoutAnyToken(t *testing.T) {
	s := newServer(t)
	fails(t, s, "UNAUTHENTICATED", "TOKEN_MISSING", `mutation { refresh { accessToken } }`, nil)
}

func TestMiddlewareRefreshesAGraphQLQuery(t *testing.T) {
	s := newServer(t)
	old := s.SignUp(t, "grace@example.com")
	s.Clock.Advance(16 * time.Minute)

	var out struct{ LoggedInUser testserver.User }
	res := data(t, s, &out, meQuery, nil, "x-access-token", old.AccessToken, "x-refresh-token", old.RefreshToken)
	if out.LoggedInUser.ID != old.User.ID {
		t.Fatalf("loggedInUser %+v", out.LoggedInUser)
	}
	at, rt := res.Header.Get("x-access-token"), res.Header.Get("x-refresh-token")
	if at == "" || rt == "" || at == old.AccessToken || rt == old.RefreshToken {
		t.Fatalf("no new tokens in the headers: %v", res.Header)
	}
	if g := generation(t, s, rt); g != 2 {
		t.Errorf("generation %d, want 2", g)
	}
	data(t, s, &out, meQuery, nil, access(at)...)
}

func TestRequestRotatedByMiddlewareAndRefreshRotatesOnce(t *testing.T) {
	for _, tc := range []struct {
		name, query string
	}{
		{"header only", `mutation { refresh { ` + tokenFields + ` } }`},
		{"same token as argument", `mutation($rt: String) { refresh(refreshToken: $rt) { ` + tokenFields + ` } }`},
		{"twice in one operation", `mutation($rt: String) { refresh(refreshToken: $rt) { ` + tokenFields + ` } again: refresh { accessToken } }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			old := s.SignUp(t, "grace@example.com")
			s.Clock.Advance(16 * time.Minute)

			var out struct{ Refresh testserver.Tokens }
			res := data(t, s, &out, tc.query, map[string]any{"rt": old.RefreshToken},
				"x-access-token", old.AccessToken, "x-refresh-token", old.RefreshToken)
			wantTokenHeaders(t, res, out.Refresh)
			if g := generation(t, s, out.Refresh.RefreshToken); g != 2 {
				t.Errorf("returned generation %d, want 2", g)
			}
			if g := storedGeneration(t, s, old.SessionID); g != 2 {
				t.Errorf("stored generation %d, want 2: rotated more than once", g)
			}
		})
	}
}

func TestRefreshArgumentConflictingWithRotatedHeader(t *testing.T) {
	s := newServer(t)
	old := s.SignUp(t, "grace@example.com")
	other := s.SignIn(t, "grace@example.com")
	s.Clock.Advance(16 * time.Minute)
	res, _ := fails(t, s, "BAD_REQUEST", "", `mutation($rt: String) { refresh(refreshToken: $rt) { accessToken } }`,
		map[string]any{"rt": other.RefreshToken}, "x-access-token", old.AccessToken, "x-refresh-token", old.RefreshToken)
	// The middleware's rotation happened and stays on the response.
	if res.Header.Get("x-refresh-token") == "" {
		t.Errorf("rotated tokens dropped from a failed operation")
	}
}
