package resolvers_test

import (
	"testing"
	"time"

	"github.com/tokengate/tokengate/internal/testserver"
)

const sessionsQuery = `{ sessions { id createdAt lastUsedAt expiresAt userAgent ip current } }`

func TestLogoutEndsOnlyItsOwnSession(t *testing.T) {
	s := newServer(t)
	a := s.SignUp(t, "grace@example.com")
	b := s.SignIn(t, "grace@example.com")

	var out struct{ Logout bool }
	data(t, s, &out, `mutation { logout }`, nil, access(a.AccessToken)...)
	if !out.Logout {
		t.Fatal("logout returned false")
	}
	if refreshWorks(t, s, a.RefreshToken) {
		t.Error("the logged-out session can still refresh")
	}
	if !refreshWorks(t, s, b.RefreshToken) {
		t.Error("the other session was ended too")
	}
}

func TestLogoutAnonymous(t *testing.T) {
	s := newServer(t)
	fails(t, s, "UNAUTHENTICATED", "TOKEN_MISSING", `mutation { logout }`, nil)
}

func TestLogoutAllEndsEverySession(t *testing.T) {
	s := newServer(t)
	a := s.SignUp(t, "grace@example.com")
	b := s.SignIn(t, "grace@example.com")

	var out struct{ LogoutAll bool }
	data(t, s, &out, `mutation { logoutAll }`, nil, access(a.AccessToken)...)
	if !out.LogoutAll {
		t.Fatal("logoutAll returned false")
	}
	for name, rt := range map[string]string{"own": a.RefreshToken, "other": b.RefreshToken} {
		_, body := refreshByArg(t, s, rt)
		if len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "UNAUTHENTICATED" || body.Errors[0].Extensions.Reason != "SESSION_REVOKED" {
			t.Errorf("%s session's refresh after logoutAll: %+v", name, body.Errors)
		}
	}
}

func TestRevokeSession(t *testing.T) {
	s := newServer(t)
	mine := s.SignUp(t, "grace@example.com")
	myOther := s.SignIn(t, "grace@example.com")
	theirs := s.SignUp(t, "ada@example.com")
	const revoke = `mutation($id: ID!) { revokeSession(id: $id) }`

	t.Run("another user's session is NOT_FOUND", func(t *testing.T) {
		fails(t, s, "NOT_FOUND", "", revoke, map[string]any{"id": theirs.SessionID}, access(mine.AccessToken)...)
		if !refreshWorks(t, s, theirs.RefreshToken) {
			t.Error("another user's session was ended")
		}
	})
	t.Run("an unknown session is NOT_FOUND", func(t *testing.T) {
		fails(t, s, "NOT_FOUND", "", revoke, map[string]any{"id": "no-such-session"}, access(mine.AccessToken)...)
	})
	t.Run("own session", func(t *testing.T) {
		var out struct{ RevokeSession bool }
		data(t, s, &out, revoke, map[string]any{"id": myOther.SessionID}, access(mine.AccessToken)...)
		if !out.RevokeSession {
			t.Fatal("revokeSession returned false")
		}
		if refreshWorks(t, s, myOther.RefreshToken) {
			t.Error("the revoked session can still refresh")
		}
		if !refreshWorks(t, s, mine.RefreshToken) {
			t.Error("the caller's own session was ended")
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		fails(t, s, "UNAUTHENTICATED", "TOKEN_MISSING", revoke, map[string]any{"id": mine.SessionID})
	})
}

func TestSessionsNewestFirstWithCurrent(t *testing.T) {
	s := newServer(t)
	first := s.SignUp(t, "grace@example.com")
	s.Clock.Advance(time.Minute)
	// Through the API, so the session records the client.
	second, _ := loginGQL(t, s, "grace@example.com", testserver.Password, "User-Agent", "tokengate-test/1.0")
	s.Clock.Advance(time.Minute)
	third := s.SignIn(t, "grace@example.com")
	s.SignUp(t, "ada@example.com") // someone else's, never listed

	var out struct{ Sessions []testserver.Session }
	data(t, s, &out, sessionsQuery, nil, access(second.AccessToken)...)
	got := out.Sessions
	if len(got) != 3 {
		t.Fatalf("got %d sessions, want 3: %+v", len(got), got)
	}
	if got[0].ID != third.SessionID || got[2].ID != first.SessionID {
		t.Errorf("not newest first: %+v", got)
	}
	for i, sess := range got {
		if sess.Current != (i == 1) {
			t.Errorf("session %d current = %v", i, sess.Current)
		}
	}
	if !got[2].CreatedAt.Equal(testserver.Epoch) || !got[0].CreatedAt.Equal(testserver.Epoch.Add(2*time.Minute)) {
		t.Errorf("createdAt %v .. %v", got[0].CreatedAt, got[2].CreatedAt)
	}
	if !got[1].ExpiresAt.After(got[1].LastUsedAt) {
		t.Errorf("expiresAt %v not after lastUsedAt %v", got[1].ExpiresAt, got[1].LastUsedAt)
	}
	if ua := got[1].UserAgent; ua == nil || *ua != "tokengate-test/1.0" {
		t.Errorf("userAgent %v", ua)
	}
	if got[1].IP == nil || *got[1].IP == "" {
		t.Errorf("ip %v", got[1].IP)
	}
	// Sessions started without a client have nothing to show: null, not "".
	if got[0].UserAgent != nil || got[0].IP != nil {
		t.Errorf("unknown client shown as %v %v", got[0].UserAgent, got[0].IP)
	}
}

func TestSessionsAnonymous(t *testing.T) {
	s := newServer(t)
	fails(t, s, "UNAUTHENTICATED", "TOKEN_MISSING", sessionsQuery, nil)
}

func TestChangePassword(t *testing.T) {
	s := newServer(t)
	mine := s.SignUp(t, "grace@example.com")
	other := s.SignIn(t, "grace@example.com")
	const change = `mutation($cur: String!, $new: String!) { changePassword(currentPassword: $cur, newPassword: $new) { ` + tokenFields + ` } }`

	t.Run("wrong current password", func(t *testing.T) {
		fails(t, s, "INVALID_CREDENTIALS", "", change, map[string]any{"cur": "not the password", "new": "a new password"}, access(mine.AccessToken)...)
	})
	t.Run("new password outside the policy", func(t *testing.T) {
		fails(t, s, "BAD_USER_INPUT", "", change, map[string]any{"cur": testserver.Password, "new": "short"}, access(mine.AccessToken)...)
	})

	var out struct{ ChangePassword testserver.Tokens }
	data(t, s, &out, change, map[string]any{"cur": testserver.Password, "new": "a new password"}, access(mine.AccessToken)...)
	fresh := out.ChangePassword

	var me struct{ LoggedInUser testserver.User }
	data(t, s, &me, meQuery, nil, access(fresh.AccessToken)...)
	if me.LoggedInUser.ID != mine.User.ID {
		t.Errorf("new access token is for %+v", me.LoggedInUser)
	}
	if refreshWorks(t, s, mine.RefreshToken) {
		t.Error("the caller's refresh token from before the change still works")
	}
	if refreshWorks(t, s, other.RefreshToken) {
		t.Error("another session survived the change")
	}
	if !refreshWorks(t, s, fresh.RefreshToken) {
		t.Error("the refresh token from changePassword does not work")
	}
	fails(t, s, "INVALID_CREDENTIALS", "", `mutation { login(email: "grace@example.com", password: "`+testserver.Password+`") { accessToken } }`, nil)
	loginGQL(t, s, "grace@example.com", "a new password")
}
