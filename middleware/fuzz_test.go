package middleware_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
)

// The account and session every fuzz process creates, so that the seed
// tokens (fixed bytes, checked in) verify and name a real session in each
// worker process.
const (
	fuzzUser    = "fuzz-user"
	fuzzSession = "fuzz-session"
)

// fuzzToken signs a token for the fuzz session with the test stack's keys.
// It is deterministic: the seeds in testdata were made with it.
func fuzzToken(typ string, secret []byte, extra jwt.MapClaims) string {
	claims := jwt.MapClaims{
		"iss": "tokengate", "aud": "tokengate", "sub": fuzzUser, "sid": fuzzSession, "jti": "fuzz",
		"iat": testserver.Epoch.Unix(), "exp": testserver.Epoch.Add(15 * time.Minute).Unix(),
	}
	for k, v := range extra {
		claims[k] = v
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["typ"] = typ
	s, err := t.SignedString(secret)
	if err != nil {
		panic(err)
	}
	return s
}

// Header layouts: which token headers a fuzz input sends, and which twice.
const (
	sendAccess = 1 << iota
	sendAccessTwice
	sendRefresh
	sendRefreshTwice
	sendAuthorization
	sendAuthorizationTwice
)

// FuzzValidateTokensHeaders sends arbitrary x-access-token, x-refresh-token
// and Authorization headers, each absent, present or repeated, through the
// whole router (server.New: recoverer, client IP, CORS, validate-tokens)
// to GET /auth/me over a real store. Whatever arrives:
//   - the answer is never a 5xx (a panic would be a 500);
//   - a repeated token header is always a 400;
//   - the request is answered as the fuzz user only if one of the values
//     it sent verifies with the real keys;
//   - new tokens are issued only for a refresh value that verifies.
func FuzzValidateTokensHeaders(f *testing.F) {
	s := testserver.New(f, testserver.Options{})
	ctx := context.Background()
	if err := s.Store.CreateUser(ctx, auth.User{ID: fuzzUser, Email: "fuzz@example.com", Name: "Fuzz",
		PasswordHash: []byte("unused"), CreatedAt: testserver.Epoch}); err != nil {
		f.Fatal(err)
	}
	if err := s.Store.CreateSession(ctx, auth.Session{ID: fuzzSession, UserID: fuzzUser, Generation: 1,
		CreatedAt: testserver.Epoch, LastUsedAt: testserver.Epoch, RotatedAt: testserver.Epoch,
		ExpiresAt: testserver.Epoch.Add(168 * time.Hour), MaxExpiresAt: testserver.Epoch.Add(720 * time.Hour)}, 0); err != nil {
		f.Fatal(err)
	}
	access := fuzzToken("at+jwt", testserver.AccessSecret, nil)
	refresh := fuzzToken("rt+jwt", testserver.RefreshSecret, jwt.MapClaims{"ver": 0, "gen": 1,
		"exp": testserver.Epoch.Add(168 * time.Hour).Unix()})
	f.Add(access, "", "", uint8(sendAccess))
	f.Add("", refresh, "", uint8(sendRefresh))
	f.Add("", "", "Bearer "+access, uint8(sendAuthorization))
	f.Add(access, refresh, "bearer "+access, uint8(sendAccess|sendRefresh|sendAuthorization))
	f.Add(refresh, access, "Basic "+access, uint8(sendAccess|sendRefresh|sendAuthorization))
	f.Add(access, refresh, "", uint8(sendAccessTwice|sendRefresh))

	h := s.HTTP.Config.Handler
	f.Fuzz(func(t *testing.T, accessValue, refreshValue, authorization string, layout uint8) {
		req := httptest.NewRequest(http.MethodGet, "/auth/me", nil)
		repeated := false
		for _, hd := range []struct {
			name        string
			value       string
			send, twice uint8
		}{
			{"X-Access-Token", accessValue, sendAccess, sendAccessTwice},
			{"X-Refresh-Token", refreshValue, sendRefresh, sendRefreshTwice},
			{"Authorization", authorization, sendAuthorization, sendAuthorizationTwice},
		} {
			if layout&(hd.send|hd.twice) != 0 {
				req.Header[hd.name] = []string{hd.value}
			}
			if layout&hd.twice != 0 {
				req.Header[hd.name] = append(req.Header[hd.name], hd.value)
				repeated = true
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, req.Header, rec.Body)
		}
		if repeated && rec.Code != http.StatusBadRequest {
			t.Fatalf("a repeated token header answered %d: %q", rec.Code, req.Header)
		}
		verifies := func(raw string, refresh bool) bool {
			var err error
			if refresh {
				_, err = s.Codec.VerifyRefresh(raw)
			} else {
				_, err = s.Codec.VerifyAccess(raw)
			}
			return err == nil
		}
		sentAccess := layout&sendAccess != 0 && verifies(strings.TrimSpace(accessValue), false)
		sentBearer := layout&sendAuthorization != 0 && verifies(bearerValue(authorization), false)
		sentRefresh := layout&sendRefresh != 0 && verifies(strings.TrimSpace(refreshValue), true)
		if rec.Header().Get("X-Refresh-Token") != "" && !sentRefresh {
			t.Fatalf("tokens issued without a verifying refresh token: %q", req.Header)
		}
		if rec.Code == http.StatusOK {
			var me struct{ ID string }
			if err := json.Unmarshal(rec.Body.Bytes(), &me); err != nil || me.ID != fuzzUser {
				t.Fatalf("200 with %s (%v)", rec.Body, err)
			}
			if !sentAccess && !sentBearer && !sentRefresh {
				t.Fatalf("authenticated with no token that verifies: %q", req.Header)
			}
		}
	})
}

// bearerValue extracts the token of an Authorization header the way RFC 6750
// reads it, or "" for another scheme.
func bearerValue(authz string) string {
	const prefix = "bearer "
	if len(authz) <= len(prefix) || !strings.EqualFold(authz[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(authz[len(prefix):])
}
