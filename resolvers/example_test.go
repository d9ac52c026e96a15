package resolvers_test

import (
	"testing"
	"time"

	"github.com/tokengate/tokengate/internal/testserver"
)

const profileStatsQuery = `{ myProfileStats { memberSince activeSessions currentSessionSince } }`

func TestExampleFieldRefusesAnonymousCallers(t *testing.T) {
	s := newServer(t)
	for name, headers := range map[string][]string{
		"no token":      nil,
		"invalid token": {"x-access-token", "not-a-token"},
	} {
		t.Run(name, func(t *testing.T) {
			_, body := exec(t, s, profileStatsQuery, nil, headers...)
			if len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "UNAUTHENTICATED" {
				t.Fatalf("errors %+v, want one UNAUTHENTICATED", body.Errors)
			}
			want := map[string]string{"no token": "TOKEN_MISSING", "invalid token": "TOKEN_INVALID"}[name]
			if got := body.Errors[0].Extensions.Reason; got != want {
				t.Errorf("reason %q, want %q", got, want)
			}
		})
	}
}

func TestExampleFieldAnswersTheCaller(t *testing.T) {
	s := newServer(t)
	s.SignUp(t, "ada@example.com")
	s.Clock.Advance(time.Hour)
	second := s.SignIn(t, "ada@example.com")

	var got struct {
		MyProfileStats struct {
			MemberSince         time.Time  `json:"memberSince"`
			ActiveSessions      int        `json:"activeSessions"`
			CurrentSessionSince *time.Time `json:"currentSessionSince"`
		} `json:"myProfileStats"`
	}
	data(t, s, &got, profileStatsQuery, nil, "x-access-token", second.AccessToken)
	stats := got.MyProfileStats
	if !stats.MemberSince.Equal(testserver.Epoch) {
		t.Errorf("memberSince %v, want %v", stats.MemberSince, testserver.Epoch)
	}
	if stats.ActiveSessions != 2 {
		t.Errorf("activeSessions %d, want 2", stats.ActiveSessions)
	}
	if stats.CurrentSessionSince == nil || !stats.CurrentSessionSince.Equal(testserver.Epoch.Add(time.Hour)) {
		t.Errorf("currentSessionSince %v, want the second sign-in", stats.CurrentSessionSince)
	}
}

// TestExampleFieldAfterLogoutAll is the README's example, which follows
// its walk-through's "log out everywhere": the sessions logoutAll ended
// are not counted, the one signed in after it is.
func TestExampleFieldAfterLogoutAll(t *testing.T) {
	s := newServer(t)
	first := s.SignUp(t, "ada@example.com")
	s.SignIn(t, "ada@example.com")
	var out struct{ LogoutAll bool }
	data(t, s, &out, `mutation { logoutAll }`, nil, "x-access-token", first.AccessToken)
	if !out.LogoutAll {
		t.Fatal("logoutAll answered false")
	}
	again := s.SignIn(t, "ada@example.com")

	var got struct {
		MyProfileStats struct {
			ActiveSessions int `json:"activeSessions"`
		} `json:"myProfileStats"`
	}
	data(t, s, &got, profileStatsQuery, nil, "x-access-token", again.AccessToken)
	if n := got.MyProfileStats.ActiveSessions; n != 1 {
		t.Errorf("activeSessions %d after logoutAll and one new sign-in, want 1", n)
	}
}
