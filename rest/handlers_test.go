package rest_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/ratelimit"
	"github.com/tokengate/tokengate/store/sqlite"
)

const password = testserver.Password

func TestFullFlowRegisterMeSessionsRefreshLogoutLogoutAll(t *testing.T) {
	s := newServer(t)

	reg := register(t, s, "ada@example.com", password)
	if reg.User.Email != "ada@example.com" || reg.User.Name != "Test User" || reg.User.ID == "" {
		t.Fatalf("register user %+v", reg.User)
	}

	res := s.Do(t, http.MethodGet, "/auth/me", "", bearer(reg.AccessToken)...)
	wantStatus(t, res, http.StatusOK)
	var me testserver.User
	res.JSON(t, &me)
	if me != reg.User {
		t.Fatalf("me %+v, want %+v", me, reg.User)
	}

	res = s.Do(t, http.MethodGet, "/auth/sessions", "", "x-access-token", reg.AccessToken)
	wantStatus(t, res, http.StatusOK)
	var sessions []testserver.Session
	res.JSON(t, &sessions)
	if len(sessions) != 1 || !sessions[0].Current {
		t.Fatalf("sessions %s, want one current session", res.Body)
	}

	// Explicit refresh with the token in the body, no token headers.
	res = s.Do(t, http.MethodPost, "/auth/refresh", jsonBody(t, map[string]string{"refreshToken": reg.RefreshToken}))
	viaBody := wantTokens(t, res, http.StatusOK)
	if viaBody.RefreshToken == reg.RefreshToken {
		t.Fatal("refresh returned the same refresh token")
	}

	// Explicit refresh with the header and no body.
	viaHeader := wantTokens(t, refreshWithHeader(t, s, viaBody.RefreshToken), http.StatusOK)
	if viaHeader.User.ID != reg.User.ID {
		t.Fatalf("refreshed user %+v", viaHeader.User)
	}

	res = s.Do(t, http.MethodPost, "/auth/logout", "", bearer(viaHeader.AccessToken)...)
	wantStatus(t, res, http.StatusNoContent)
	if len(res.Body) != 0 {
		t.Errorf("204 with body %q", res.Body)
	}
	p := wantProblem(t, refreshWithHeader(t, s, viaHeader.RefreshToken), http.StatusUnauthorized, auth.CodeUnauthenticated)
	if p.Reason != auth.ReasonSessionRevoked {
		t.Errorf("refresh after logout: reason %q, want SESSION_REVOKED", p.Reason)
	}

	first := login(t, s, "ada@example.com", password)
	second := login(t, s, "ada@example.com", password)
	res = s.Do(t, http.MethodPost, "/auth/logout-all", "", bearer(first.AccessToken)...)
	wantStatus(t, res, http.StatusNoContent)
	for _, tb := range []testserver.Tokens{first, second} {
		p := wantProblem(t, refreshWithHeader(t, s, tb.RefreshToken), http.StatusUnauthorized, auth.CodeUnauthenticated)
		if p.Reason != auth.ReasonSessionRevoked {
			t.Errorf("refresh after logout-all: reason %q, want SESSION_REVOKED", p.Reason)
		}
	}
}

func TestEveryTokenResponseCarriesTheTokensInHeaders(t *testing.T) {
	s := newServer(t)
	register(t, s, "grace@example.com", password) // register checks its own response
	li := login(t, s, "grace@example.com", password)
	res := s.Do(t, http.MethodPost, "/auth/refresh", jsonBody(t, map[string]string{"refreshToken": li.RefreshToken}))
	rb := wantTokens(t, res, http.StatusOK)
	rh := wantTokens(t, refreshWithHeader(t, s, rb.RefreshToken), http.StatusOK)
	res = s.Do(t, http.MethodPost, "/auth/password",
		jsonBody(t, map[string]string{"currentPassword": password, "newPassword": "a new password"}), bearer(rh.AccessToken)...)
	wantTokens(t, res, http.StatusOK)
}

func TestResponseShapesAreExactAndExposeNoSecrets(t *testing.T) {
	s := newServer(t)
	res := s.Do(t, http.MethodPost, "/auth/register",
		jsonBody(t, map[string]string{"email": "shape@example.com", "password": password, "name": "Shape"}))
	wantStatus(t, res, http.StatusCreated)
	var tokens map[string]any
	res.JSON(t, &tokens)
	wantKeys(t, "Tokens", tokens, "accessToken", "refreshToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "user")
	wantKeys(t, "User", tokens["user"].(map[string]any), "id", "email", "name", "createdAt", "emailVerified")
	wantUTC(t, tokens["accessTokenExpiresAt"], tokens["refreshTokenExpiresAt"], tokens["user"].(map[string]any)["createdAt"])
	access := tokens["accessToken"].(string)

	res = s.Do(t, http.MethodGet, "/auth/me", "", bearer(access)...)
	wantStatus(t, res, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var me map[string]any
	res.JSON(t, &me)
	wantKeys(t, "User", me, "id", "email", "name", "createdAt", "emailVerified")

	// No User-Agent this time: the session's userAgent is null, not "".
	// A minute later, so "newest first" has an order to show.
	s.Clock.Advance(time.Minute)
	login := s.Do(t, http.MethodPost, "/auth/login",
		jsonBody(t, map[string]string{"email": "shape@example.com", "password": password}), "User-Agent", "")
	lt := wantTokens(t, login, http.StatusOK)
	res = s.Do(t, http.MethodGet, "/auth/sessions", "", bearer(lt.AccessToken)...)
	wantStatus(t, res, http.StatusOK)
	var list []map[string]any
	res.JSON(t, &list)
	if len(list) != 2 {
		t.Fatalf("sessions %s, want 2", res.Body)
	}
	for _, sess := range list {
		wantKeys(t, "Session", sess, "id", "createdAt", "lastUsedAt", "expiresAt", "userAgent", "ip", "current")
		wantUTC(t, sess["createdAt"], sess["lastUsedAt"], sess["expiresAt"])
		if sess["ip"] == nil {
			t.Errorf("session %v has no ip", sess)
		}
	}
	// Newest first: the login without a User-Agent is the current session.
	if list[0]["current"] != true || list[0]["userAgent"] != nil {
		t.Errorf("newest session %v, want current with userAgent null", list[0])
	}
	if list[1]["current"] != false || list[1]["userAgent"] != "Go-http-client/1.1" {
		t.Errorf("older session %v, want not current with the Go client's user agent", list[1])
	}
}

func wantKeys(t testing.TB, what string, m map[string]any, keys ...string) {
	t.Helper()
	if len(m) != len(keys) {
		t.Errorf("%s has members %v, want exactly %v", what, m, keys)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q: %v", what, k, m)
		}
	}
}

func wantUTC(t testing.TB, values ...any) {
	t.Helper()
	for _, v := range values {
		s, _ := v.(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil || !strings.HasSuffix(s, "Z") {
			t.Errorf("time %v is not RFC 3339 in UTC", v)
		}
	}
}

func TestInvalidCredentialsIsIdenticalForUnknownEmailAndWrongPassword(t *testing.T) {
	s := newServer(t)
	register(t, s, "known@example.com", password)

	unknown := s.Do(t, http.MethodPost, "/auth/login", jsonBody(t, map[string]string{"email": "nobody@example.com", "password": password}))
	wrong := s.Do(t, http.MethodPost, "/auth/login", jsonBody(t, map[string]string{"email": "known@example.com", "password": "not the password"}))
	wantProblem(t, unknown, http.StatusUnauthorized, auth.CodeInvalidCredentials)
	wantProblem(t, wrong, http.StatusUnauthorized, auth.CodeInvalidCredentials)
	if !bytes.Equal(unknown.Body, wrong.Body) {
		t.Errorf("bodies differ:\nunknown e-mail: %s\nwrong password: %s", unknown.Body, wrong.Body)
	}
	for _, h := range []string{"WWW-Authenticate", "Content-Type", "Cache-Control"} {
		if unknown.Header.Get(h) != wrong.Header.Get(h) {
			t.Errorf("%s differs: %q vs %q", h, unknown.Header.Get(h), wrong.Header.Get(h))
		}
	}
}

func TestEmailTakenIgnoresCase(t *testing.T) {
	s := newServer(t)
	register(t, s, "Case@Example.com", password)
	res := s.Do(t, http.MethodPost, "/auth/register",
		jsonBody(t, map[string]string{"email": "cASE@example.COM", "password": password, "name": "Other"}))
	wantProblem(t, res, http.StatusConflict, auth.CodeEmailTaken)
}

func TestPasswordOutsideThePolicyIsBadUserInput(t *testing.T) {
	s := newServer(t)
	register(t, s, "policy@example.com", password)
	for name, pw := range map[string]string{
		"73 bytes": strings.Repeat("p", 73),
		"1 MB":     strings.Repeat("p", 1_000_000),
		"7 bytes":  "1234567",
	} {
		t.Run(name, func(t *testing.T) {
			res := s.Do(t, http.MethodPost, "/auth/register",
				jsonBody(t, map[string]string{"email": "new@example.com", "password": pw, "name": "New"}))
			wantProblem(t, res, http.StatusBadRequest, auth.CodeBadUserInput)
			res = s.Do(t, http.MethodPost, "/auth/login",
				jsonBody(t, map[string]string{"email": "policy@example.com", "password": pw}))
			if name == "7 bytes" {
				// Too short is a wrong password at login, not a policy breach:
				// the policy may have changed since the account was made.
				wantProblem(t, res, http.StatusUnauthorized, auth.CodeInvalidCredentials)
				return
			}
			wantProblem(t, res, http.StatusBadRequest, auth.CodeBadUserInput)
		})
	}
	// 72 bytes is bcrypt's limit and still accepted, multi-byte runes too.
	register(t, s, "max@example.com", strings.Repeat("é", 36))
	login(t, s, "max@example.com", strings.Repeat("é", 36))
}

func TestUnicodePasswordsAreAccepted(t *testing.T) {
	s := newServer(t)
	for i, pw := range []string{"pässwörd-ünïcødé", "密码密码密码", "🔐🔑🗝️✨ emoji", "\u00a0nbsp and\ttab\u200b"} {
		email := "unicode" + string(rune('a'+i)) + "@example.com"
		register(t, s, email, pw)
		login(t, s, email, pw)
		res := s.Do(t, http.MethodPost, "/auth/login", jsonBody(t, map[string]string{"email": email, "password": pw + "x"}))
		wantProblem(t, res, http.StatusUnauthorized, auth.CodeInvalidCredentials)
	}
	// A surrogate pair escape is the same password as the raw character.
	res := s.Do(t, http.MethodPost, "/auth/login", `{"email":"unicodec@example.com","password":"\ud83d\udd10🔑🗝️✨ emoji"}`)
	wantTokens(t, res, http.StatusOK)
}

func TestSQLMetacharactersAreStoredAndReturnedIntact(t *testing.T) {
	s := newServer(t)
	email := "o'brien%_*/=?#{|}~-x@example.com"
	name := `Robert'); DROP TABLE users;-- "quoted" \ %_`
	pw := `' OR '1'='1'; --\%_"`
	res := s.Do(t, http.MethodPost, "/auth/register", jsonBody(t, map[string]string{"email": email, "password": pw, "name": name}))
	reg := wantTokens(t, res, http.StatusCreated)
	if reg.User.Email != email || reg.User.Name != name {
		t.Fatalf("registered %q %q, want %q %q", reg.User.Email, reg.User.Name, email, name)
	}
	li := login(t, s, email, pw)
	res = s.Do(t, http.MethodGet, "/auth/me", "", bearer(li.AccessToken)...)
	wantStatus(t, res, http.StatusOK)
	var me testserver.User
	res.JSON(t, &me)
	if me.Email != email || me.Name != name {
		t.Fatalf("me %q %q, want %q %q", me.Email, me.Name, email, name)
	}
	// LIKE wildcards in a stored address must not match other addresses.
	for _, other := range []string{"o'brienXY*/=?#{|}~-x@example.com", "o'brien%_*/=?#{|}~-x@example.co"} {
		res := s.Do(t, http.MethodPost, "/auth/login", jsonBody(t, map[string]string{"email": other, "password": pw}))
		wantProblem(t, res, http.StatusUnauthorized, auth.CodeInvalidCredentials)
	}
}

func TestExpiredAccessTokenIsRefreshedByTheMiddlewareOnRESTRoutes(t *testing.T) {
	s := newServer(t)
	reg := register(t, s, "mw@example.com", password)
	s.Clock.Advance(16 * time.Minute)

	res := s.Do(t, http.MethodGet, "/auth/me", "", "x-access-token", reg.AccessToken, "x-refresh-token", reg.RefreshToken)
	wantStatus(t, res, http.StatusOK)
	access, refresh := wantHeaderTokens(t, res)
	if access == reg.AccessToken || refresh == reg.RefreshToken {
		t.Fatal("the middleware did not issue new tokens")
	}
	var me testserver.User
	res.JSON(t, &me)
	if me.ID != reg.User.ID {
		t.Fatalf("me %+v, want %s", me, reg.User.ID)
	}

	// The new pair works; the expired access token alone does not.
	wantStatus(t, s.Do(t, http.MethodGet, "/auth/me", "", bearer(access)...), http.StatusOK)
	p := wantProblem(t, s.Do(t, http.MethodGet, "/auth/me", "", bearer(reg.AccessToken)...), http.StatusUnauthorized, auth.CodeUnauthenticated)
	if p.Reason != auth.ReasonTokenExpired {
		t.Errorf("reason %q, want TOKEN_EXPIRED", p.Reason)
	}

	// An explicit refresh in a request the middleware already rotated
	// returns that rotation's tokens instead of rotating twice.
	s.Clock.Advance(16 * time.Minute)
	res = s.Do(t, http.MethodPost, "/auth/refresh", "", "x-access-token", access, "x-refresh-token", refresh)
	tb := wantTokens(t, res, http.StatusOK)
	wantTokens(t, refreshWithHeader(t, s, tb.RefreshToken), http.StatusOK)
}

func TestRevokingAnotherUsersSessionIsNotFoundAndLeavesItWorking(t *testing.T) {
	s := newServer(t)
	alice := register(t, s, "alice@example.com", password)
	bob := register(t, s, "bob@example.com", password)

	res := s.Do(t, http.MethodGet, "/auth/sessions", "", bearer(alice.AccessToken)...)
	wantStatus(t, res, http.StatusOK)
	var sessions []testserver.Session
	res.JSON(t, &sessions)
	if len(sessions) != 1 {
		t.Fatalf("alice's sessions %s", res.Body)
	}
	aliceSession := sessions[0].ID

	for _, id := range []string{aliceSession, "00000000-0000-0000-0000-000000000000", "not-a-uuid"} {
		res = s.Do(t, http.MethodDelete, "/auth/sessions/"+id, "", bearer(bob.AccessToken)...)
		wantProblem(t, res, http.StatusNotFound, auth.CodeNotFound)
	}
	wantTokens(t, refreshWithHeader(t, s, alice.RefreshToken), http.StatusOK)

	// Her own other session she can end.
	other := login(t, s, "alice@example.com", password)
	res = s.Do(t, http.MethodGet, "/auth/sessions", "", bearer(other.AccessToken)...)
	res.JSON(t, &sessions)
	var otherID string
	for _, sess := range sessions {
		if sess.Current {
			otherID = sess.ID
		}
	}
	res = s.Do(t, http.MethodDelete, "/auth/sessions/"+otherID, "", bearer(alice.AccessToken)...)
	wantStatus(t, res, http.StatusNoContent)
	wantProblem(t, refreshWithHeader(t, s, other.RefreshToken), http.StatusUnauthorized, auth.CodeUnauthenticated)
}

func TestChangePasswordRevokesOtherSessionsAndOldRefreshTokens(t *testing.T) {
	s := newServer(t)
	const newPassword = "an entirely new password"
	a := register(t, s, "change@example.com", password)
	b := login(t, s, "change@example.com", password)

	res := s.Do(t, http.MethodPost, "/auth/password",
		jsonBody(t, map[string]string{"currentPassword": "wrong password", "newPassword": newPassword}), bearer(a.AccessToken)...)
	wantProblem(t, res, http.StatusUnauthorized, auth.CodeInvalidCredentials)

	res = s.Do(t, http.MethodPost, "/auth/password",
		jsonBody(t, map[string]string{"currentPassword": password, "newPassword": newPassword}), bearer(a.AccessToken)...)
	changed := wantTokens(t, res, http.StatusOK)

	for name, old := range map[string]string{"other session": b.RefreshToken, "own old refresh token": a.RefreshToken} {
		p := wantProblem(t, refreshWithHeader(t, s, old), http.StatusUnauthorized, auth.CodeUnauthenticated)
		if p.Reason != auth.ReasonSessionRevoked {
			t.Errorf("%s: reason %q, want SESSION_REVOKED", name, p.Reason)
		}
	}
	wantTokens(t, refreshWithHeader(t, s, changed.RefreshToken), http.StatusOK)

	res = s.Do(t, http.MethodPost, "/auth/login", jsonBody(t, map[string]string{"email": "change@example.com", "password": password}))
	wantProblem(t, res, http.StatusUnauthorized, auth.CodeInvalidCredentials)
	login(t, s, "change@example.com", newPassword)
}

func TestUnauthenticatedChallengeDependsOnWhetherATokenWasSent(t *testing.T) {
	s := newServer(t)
	reg := register(t, s, "chal@example.com", password)

	res := s.Do(t, http.MethodGet, "/auth/me", "")
	p := wantProblem(t, res, http.StatusUnauthorized, auth.CodeUnauthenticated)
	if got := res.Header.Get("WWW-Authenticate"); got != "Bearer" {
		t.Errorf("no token sent: WWW-Authenticate %q, want Bearer", got)
	}
	if p.Reason != auth.ReasonTokenMissing {
		t.Errorf("reason %q, want TOKEN_MISSING", p.Reason)
	}

	for name, headers := range map[string][]string{
		"garbage bearer":             bearer("not.a.token"),
		"garbage x-access":           {"x-access-token", "garbage"},
		"refresh as access":          bearer(reg.RefreshToken),
		"garbage x-refresh":          {"x-refresh-token", "garbage"},
		"access as refresh":          {"x-refresh-token", reg.AccessToken},
		"invalid access and refresh": {"x-access-token", "garbage", "x-refresh-token", "garbage"},
	} {
		t.Run(name, func(t *testing.T) {
			res := s.Do(t, http.MethodGet, "/auth/me", "", headers...)
			wantProblem(t, res, http.StatusUnauthorized, auth.CodeUnauthenticated)
			if got := res.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
				t.Errorf("token sent: WWW-Authenticate %q", got)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
		})
	}

	// A refresh token in the body is a token sent too.
	res = s.Do(t, http.MethodPost, "/auth/refresh", `{"refreshToken":"garbage"}`)
	p = wantProblem(t, res, http.StatusUnauthorized, auth.CodeUnauthenticated)
	if got := res.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` || p.Reason != auth.ReasonTokenInvalid {
		t.Errorf("body token: WWW-Authenticate %q reason %q", got, p.Reason)
	}
	// Explicit refresh with no token anywhere.
	res = s.Do(t, http.MethodPost, "/auth/refresh", "")
	wantProblem(t, res, http.StatusUnauthorized, auth.CodeUnauthenticated)
	if got := res.Header.Get("WWW-Authenticate"); got != "Bearer" {
		t.Errorf("no token: WWW-Authenticate %q, want Bearer", got)
	}
}

func TestConflictingAccessTokenAndAuthorizationIsBadRequest(t *testing.T) {
	s := newServer(t)
	a := register(t, s, "conflict@example.com", password)
	b := login(t, s, "conflict@example.com", password)
	res := s.Do(t, http.MethodGet, "/auth/me", "", "x-access-token", a.AccessToken, "Authorization", "Bearer "+b.AccessToken)
	wantProblem(t, res, http.StatusBadRequest, auth.CodeBadRequest)
	// The same token twice is no conflict.
	res = s.Do(t, http.MethodGet, "/auth/me", "", "x-access-token", a.AccessToken, "Authorization", "Bearer "+a.AccessToken)
	wantStatus(t, res, http.StatusOK)
}

func TestRateLimitedIs429WithRetryAfter(t *testing.T) {
	s := testserver.New(t, testserver.Options{Limits: auth.Limits{
		IP: ratelimit.New(ratelimit.Rate{N: 1, Per: time.Hour}, time.Now),
	}})
	register(t, s, "limited@example.com", password)
	res := s.Do(t, http.MethodPost, "/auth/login", jsonBody(t, map[string]string{"email": "limited@example.com", "password": password}))
	wantProblem(t, res, http.StatusTooManyRequests, auth.CodeRateLimited)
	if got := res.Header.Get("Retry-After"); got == "" || got == "0" || strings.Trim(got, "0123456789") != "" {
		t.Errorf("Retry-After %q, want whole seconds ≥ 1", got)
	}
}

func TestHealthzIsAlwaysOK(t *testing.T) {
	st := openStore(t)
	s := testserver.New(t, testserver.Options{Store: st})
	for _, closed := range []bool{false, true} {
		if closed {
			st.Close()
		}
		res := s.Do(t, http.MethodGet, "/healthz", "")
		wantStatus(t, res, http.StatusOK)
		if string(res.Body) != `{"status":"ok"}` {
			t.Errorf("healthz body %s", res.Body)
		}
	}
}

func TestReadyzIs200WhileTheStoreAnswersElse503(t *testing.T) {
	st := openStore(t)
	s := testserver.New(t, testserver.Options{Store: st})
	res := s.Do(t, http.MethodGet, "/readyz", "")
	wantStatus(t, res, http.StatusOK)
	if string(res.Body) != `{"status":"ready"}` {
		t.Errorf("readyz body %s", res.Body)
	}

	st.Close()
	res = s.Do(t, http.MethodGet, "/readyz", "")
	wantProblem(t, res, http.StatusServiceUnavailable, auth.CodeStoreUnavailable)
	if got := res.Header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2", got)
	}
}

func TestReadyzGivesUpOnAHungCheck(t *testing.T) {
	hung := make(chan struct{})
	t.Cleanup(func() { close(hung) })
	ready := func(ctx context.Context) error {
		<-hung // ignores ctx: the worst kind of driver
		return nil
	}
	h := newReadyz(t, ready)
	ctx, cancel := context.WithCancel(context.Background())
	// The probe's own deadline is 2s; a request cancelled sooner shows the
	// handler returns without the check.
	cancel()
	res := serve(t, h, httptest.NewRequestWithContext(ctx, http.MethodGet, "/readyz", nil))
	wantProblem(t, res, http.StatusServiceUnavailable, auth.CodeStoreUnavailable)
}

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestUnknownRouteIs404AndWrongMethodIs405(t *testing.T) {
	s := newServer(t)
	wantProblem(t, s.Do(t, http.MethodGet, "/auth/nope", ""), http.StatusNotFound, auth.CodeNotFound)
	wantProblem(t, s.Do(t, http.MethodGet, "/nope", ""), http.StatusNotFound, auth.CodeNotFound)

	res := s.Do(t, http.MethodGet, "/auth/login", "")
	wantProblem(t, res, http.StatusMethodNotAllowed, auth.CodeBadRequest)
	if got := res.Header.Values("Allow"); len(got) != 1 || got[0] != http.MethodPost {
		t.Errorf("Allow %v, want [POST]", got)
	}
	res = s.Do(t, http.MethodPut, "/auth/sessions/x", "")
	wantProblem(t, res, http.StatusMethodNotAllowed, auth.CodeBadRequest)
	if got := res.Header.Values("Allow"); len(got) != 1 || got[0] != http.MethodDelete {
		t.Errorf("Allow %v, want [DELETE]", got)
	}
}
