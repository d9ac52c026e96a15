package tokengatetest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/tokengatetest"
)

const pw = "correct horse battery"

// refused says whether the access token alone is refused as revoked.
func refused(t *testing.T, s *tokengatetest.Server, tok tokengatetest.Tokens) bool {
	t.Helper()
	res := s.Do(t, http.MethodGet, "/auth/me", nil, "x-access-token", tok.AccessToken)
	switch {
	case res.StatusCode == http.StatusOK:
		return false
	case res.StatusCode == http.StatusUnauthorized && strings.Contains(string(res.Body), `"reason":"SESSION_REVOKED"`):
		return true
	}
	t.Fatalf("GET /auth/me: %d %s", res.StatusCode, res.Body)
	return false
}

// TestEveryWayASessionEndsReachesItsAccessTokens: on the instance that did
// it, at once, with no store read on the access path.
func TestEveryWayASessionEndsReachesItsAccessTokens(t *testing.T) {
	t.Run("logout", func(t *testing.T) {
		s := tokengatetest.NewServer(t)
		a := s.SignUp(t, "a@example.com", pw, "A")
		b := s.SignIn(t, "a@example.com", pw)
		if res := s.Do(t, http.MethodPost, "/auth/logout", nil, "x-access-token", a.AccessToken); res.StatusCode != http.StatusNoContent {
			t.Fatalf("logout: %d", res.StatusCode)
		}
		if !refused(t, s, a) || refused(t, s, b) {
			t.Error("want the logged-out session's token refused and the other's not")
		}
		// Refused, the access token gives way to the refresh token, which
		// is refused too: the session has ended.
		res := s.Do(t, http.MethodGet, "/auth/me", nil, a.Headers()...)
		if res.StatusCode != http.StatusUnauthorized || res.Header.Get("x-access-token") != "" {
			t.Errorf("both tokens of an ended session: %d %v", res.StatusCode, res.Header)
		}
	})
	t.Run("revokeSession", func(t *testing.T) {
		s := tokengatetest.NewServer(t)
		a := s.SignUp(t, "a@example.com", pw, "A")
		b := s.SignIn(t, "a@example.com", pw)
		res := s.GraphQL(t, `{ sessions { id current } }`, nil, "x-access-token", a.AccessToken)
		var body struct {
			Data struct {
				Sessions []struct {
					ID      string
					Current bool
				}
			}
		}
		res.Decode(t, &body)
		var other string
		for _, sess := range body.Data.Sessions {
			if !sess.Current {
				other = sess.ID
			}
		}
		if res := s.Do(t, http.MethodDelete, "/auth/sessions/"+other, nil, "x-access-token", a.AccessToken); res.StatusCode != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", res.StatusCode, res.Body)
		}
		if !refused(t, s, b) || refused(t, s, a) {
			t.Error("want the revoked session's token refused and the caller's not")
		}
	})
	t.Run("logoutAll", func(t *testing.T) {
		s := tokengatetest.NewServer(t)
		a := s.SignUp(t, "a@example.com", pw, "A")
		b := s.SignIn(t, "a@example.com", pw)
		if res := s.Do(t, http.MethodPost, "/auth/logout-all", nil, "x-access-token", a.AccessToken); res.StatusCode != http.StatusNoContent {
			t.Fatalf("logout-all: %d", res.StatusCode)
		}
		if !refused(t, s, a) || !refused(t, s, b) {
			t.Error("want every token of the user refused")
		}
		if refused(t, s, s.SignIn(t, "a@example.com", pw)) {
			t.Error("a sign-in after logout-all is refused")
		}
	})
	t.Run("changePassword", func(t *testing.T) {
		s := tokengatetest.NewServer(t)
		a := s.SignUp(t, "a@example.com", pw, "A")
		b := s.SignIn(t, "a@example.com", pw)
		res := s.Do(t, http.MethodPost, "/auth/password", map[string]string{"currentPassword": pw, "newPassword": "another good password"}, "x-access-token", a.AccessToken)
		var next tokengatetest.Tokens
		res.Decode(t, &next)
		if res.StatusCode != http.StatusOK || !refused(t, s, b) || !refused(t, s, a) || refused(t, s, next) {
			t.Errorf("want the old tokens refused and the new pair working (%d)", res.StatusCode)
		}
	})
	t.Run("refresh reuse", func(t *testing.T) {
		s := tokengatetest.NewServer(t)
		a := s.SignUp(t, "a@example.com", pw, "A")
		res := s.Do(t, http.MethodPost, "/auth/refresh", map[string]string{"refreshToken": a.RefreshToken})
		var next tokengatetest.Tokens
		res.Decode(t, &next)
		s.Advance(20 * time.Second) // past the grace window
		s.Do(t, http.MethodPost, "/auth/refresh", map[string]string{"refreshToken": a.RefreshToken})
		if !refused(t, s, next) {
			t.Error("the newest access token of a session ended for reuse still works")
		}
	})
	t.Run("reset and delete", func(t *testing.T) {
		s := tokengatetest.NewServer(t)
		a := s.SignUp(t, "a@example.com", pw, "A")
		s.Do(t, http.MethodPost, "/auth/password/forgot", map[string]string{"email": "a@example.com"})
		res := s.Do(t, http.MethodPost, "/auth/password/reset", map[string]string{"token": s.LastMailTo(t, "a@example.com").Token, "newPassword": "a brand new password"})
		var next tokengatetest.Tokens
		res.Decode(t, &next)
		if !refused(t, s, a) || refused(t, s, next) {
			t.Error("after a reset: want the old token refused, the new one working")
		}
		s.Do(t, http.MethodDelete, "/auth/me", map[string]string{"password": "a brand new password"}, "x-access-token", next.AccessToken)
		if !refused(t, s, next) {
			t.Error("a deleted account's access token still works")
		}
	})
}

// TestRefusedRefreshesSpendTheSessionsBudget: replaying a dead session's
// refresh token is limited like any refresh, and costs the store nothing
// once the view knows the session ended.
func TestRefusedRefreshesSpendTheSessionsBudget(t *testing.T) {
	s := tokengatetest.NewServer(t, tokengatetest.WithEnv("RATE_LIMIT_REFRESH", "3/1h"))
	a := s.SignUp(t, "a@example.com", pw, "A")
	s.Do(t, http.MethodPost, "/auth/logout", nil, "x-access-token", a.AccessToken)
	var codes []int
	for range 5 {
		codes = append(codes, s.Do(t, http.MethodGet, "/healthz", nil, "x-refresh-token", a.RefreshToken).StatusCode)
	}
	if codes[0] != http.StatusOK || codes[4] != http.StatusTooManyRequests {
		t.Errorf("statuses %v: want the budget spent by refused refreshes", codes)
	}
}
