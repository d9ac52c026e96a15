package tokengatetest_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/tokengatetest"
)

// The recovery flows end to end over REST and GraphQL: the mail is read
// from the outbox, as a person would read it.
func TestPasswordResetOverREST(t *testing.T) {
	s := tokengatetest.NewServer(t)
	old := s.SignUp(t, "Reset@Example.com", "correct horse battery", "R")
	other := s.SignIn(t, "reset@example.com", "correct horse battery")

	for _, email := range []string{"reset@example.com", "nobody@example.com"} {
		res := s.Do(t, http.MethodPost, "/auth/password/forgot", map[string]string{"email": email})
		if res.StatusCode != http.StatusAccepted || len(res.Body) != 0 {
			t.Fatalf("forgot %s: %d %q", email, res.StatusCode, res.Body)
		}
	}
	m := s.LastMailTo(t, "Reset@Example.com")
	if m.Token == "" || !strings.Contains(m.Link, "/reset-password#token=") {
		t.Fatalf("reset mail: %+v", m)
	}
	for _, sent := range s.Outbox(t) {
		if strings.EqualFold(sent.To, "nobody@example.com") {
			t.Errorf("a mail went to an address without an account: %+v", sent)
		}
	}

	res := s.Do(t, http.MethodPost, "/auth/password/reset", map[string]string{"token": m.Token, "newPassword": "short"})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(res.Body), "BAD_USER_INPUT") {
		t.Fatalf("reset with a bad password: %d %s", res.StatusCode, res.Body)
	}
	res = s.Do(t, http.MethodPost, "/auth/password/reset", map[string]string{"token": m.Token, "newPassword": "a brand new password"})
	if res.StatusCode != http.StatusOK || res.Header.Get("x-access-token") == "" {
		t.Fatalf("reset: %d %s", res.StatusCode, res.Body)
	}
	var fresh tokengatetest.Tokens
	res.Decode(t, &fresh)
	if !fresh.User.EmailVerified {
		t.Error("a reset did not mark the address verified")
	}
	// Every earlier session ended; the link is used up.
	for _, tok := range []tokengatetest.Tokens{old, other} {
		res := s.Do(t, http.MethodPost, "/auth/refresh", map[string]string{"refreshToken": tok.RefreshToken})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(res.Body), "SESSION_REVOKED") {
			t.Errorf("an earlier session after the reset: %d %s", res.StatusCode, res.Body)
		}
	}
	res = s.Do(t, http.MethodPost, "/auth/password/reset", map[string]string{"token": m.Token, "newPassword": "yet another password"})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(res.Body), `"LINK_INVALID"`) {
		t.Errorf("the link again: %d %s", res.StatusCode, res.Body)
	}
	s.SignIn(t, "reset@example.com", "a brand new password")
	if notice := s.LastMailTo(t, "Reset@Example.com"); notice.Token != "" {
		t.Errorf("no password-changed notice after the reset: %+v", notice)
	}
}

func TestForgotPasswordAnswersTheSameWithAndWithoutAnAccount(t *testing.T) {
	s := tokengatetest.NewServer(t)
	s.SignUp(t, "known@example.com", "correct horse battery", "K")
	a := s.Do(t, http.MethodPost, "/auth/password/forgot", map[string]string{"email": "known@example.com"})
	b := s.Do(t, http.MethodPost, "/auth/password/forgot", map[string]string{"email": "unknown@example.com"})
	if a.StatusCode != b.StatusCode || string(a.Body) != string(b.Body) {
		t.Fatalf("%d %q against %d %q", a.StatusCode, a.Body, b.StatusCode, b.Body)
	}
	for name := range a.Header {
		if name == "Date" || name == "X-Request-Id" {
			continue
		}
		if a.Header.Get(name) != b.Header.Get(name) {
			t.Errorf("header %s: %q against %q", name, a.Header.Get(name), b.Header.Get(name))
		}
	}
	if len(a.Header) != len(b.Header) {
		t.Errorf("headers %v against %v", a.Header, b.Header)
	}
}

func TestEmailVerificationOverGraphQL(t *testing.T) {
	s := tokengatetest.NewServer(t)
	tok := s.SignUp(t, "verify@example.com", "correct horse battery", "V")
	res := s.GraphQL(t, `mutation { requestEmailVerification }`, nil, "x-access-token", tok.AccessToken)
	if !strings.Contains(string(res.Body), `"requestEmailVerification":true`) {
		t.Fatalf("request: %s", res.Body)
	}
	m := s.LastMailTo(t, "verify@example.com")
	if !strings.Contains(m.Link, "/verify-email#token=") {
		t.Fatalf("verification mail: %+v", m)
	}
	// The link proves the mailbox: no access token is needed.
	res = s.GraphQL(t, `mutation($t: String!) { verifyEmail(token: $t) { email emailVerified } }`, map[string]any{"t": m.Token})
	if !strings.Contains(string(res.Body), `"emailVerified":true`) {
		t.Fatalf("verify: %s", res.Body)
	}
	res = s.GraphQL(t, `{ loggedInUser { emailVerified } }`, nil, "x-access-token", tok.AccessToken)
	if !strings.Contains(string(res.Body), `"emailVerified":true`) {
		t.Errorf("loggedInUser: %s", res.Body)
	}
	res = s.GraphQL(t, `mutation($t: String!) { verifyEmail(token: $t) { email } }`, map[string]any{"t": m.Token})
	if !strings.Contains(string(res.Body), `"LINK_INVALID"`) {
		t.Errorf("the link again: %s", res.Body)
	}
}

func TestExpiredLinksAreInvalid(t *testing.T) {
	s := tokengatetest.NewServer(t)
	s.SignUp(t, "late@example.com", "correct horse battery", "L")
	s.Do(t, http.MethodPost, "/auth/password/forgot", map[string]string{"email": "late@example.com"})
	m := s.LastMailTo(t, "late@example.com")
	s.Advance(31 * time.Minute)
	res := s.Do(t, http.MethodPost, "/auth/password/reset", map[string]string{"token": m.Token, "newPassword": "a brand new password"})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(res.Body), `"LINK_INVALID"`) {
		t.Errorf("an expired link: %d %s", res.StatusCode, res.Body)
	}
}

func TestDeleteAccount(t *testing.T) {
	s := tokengatetest.NewServer(t)
	tok := s.SignUp(t, "gone@example.com", "correct horse battery", "G")
	res := s.Do(t, http.MethodDelete, "/auth/me", map[string]string{"password": "wrong password"}, "x-access-token", tok.AccessToken)
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(res.Body), "INVALID_CREDENTIALS") {
		t.Fatalf("wrong password: %d %s", res.StatusCode, res.Body)
	}
	res = s.Do(t, http.MethodDelete, "/auth/me", map[string]string{"password": "correct horse battery"}, "x-access-token", tok.AccessToken)
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.StatusCode, res.Body)
	}
	res = s.Do(t, http.MethodPost, "/auth/refresh", map[string]string{"refreshToken": tok.RefreshToken})
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(res.Body), "SESSION_REVOKED") {
		t.Errorf("the refresh token after deletion: %d %s", res.StatusCode, res.Body)
	}
	s.SignUp(t, "gone@example.com", "correct horse battery", "G again")
}

// REFRESH_TOKEN_SECRET rotates by listing the new secret first and keeping
// the old one: a reset link mailed before the rotation still resets the
// password on a server started with both, as its refresh tokens still
// refresh.
func TestAResetLinkOutlivesARefreshSecretRotation(t *testing.T) {
	db := tokengatetest.WithEnv("DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "tokengate.db"))
	before := tokengatetest.NewServer(t, db)
	tok := before.SignUp(t, "rotate@example.com", "correct horse battery", "R")
	if res := before.Do(t, http.MethodPost, "/auth/password/forgot", map[string]string{"email": "rotate@example.com"}); res.StatusCode != http.StatusAccepted {
		t.Fatalf("forgot: %d %s", res.StatusCode, res.Body)
	}
	link := before.LastMailTo(t, "rotate@example.com")
	before.App.Close()

	after := tokengatetest.NewServer(t, db, tokengatetest.WithEnv("REFRESH_TOKEN_SECRET",
		"tokengatetest-refresh-secret-rotated-0123456789,tokengatetest-refresh-secret-0123456789"))
	after.Advance(16 * time.Minute)
	if res := after.GraphQL(t, `{loggedInUser{email}}`, nil, tok.Headers()...); res.Header.Get("x-refresh-token") == "" {
		t.Fatalf("a refresh token of the old secret after the rotation: %d %s", res.StatusCode, res.Body)
	}
	res := after.Do(t, http.MethodPost, "/auth/password/reset", map[string]string{"token": link.Token, "newPassword": "a brand new password"})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("a reset link of the old secret after the rotation: %d %s", res.StatusCode, res.Body)
	}
}
