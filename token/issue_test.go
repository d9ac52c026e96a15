package token_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/token"
)

// The codec writes its tokens by hand for speed; golang-jwt writing the
// same claims through RegisteredClaims must produce the same token, byte
// for byte: header, claims in their order and encoding, and signature.
func TestIssuedClaimsAreRegisteredClaims(t *testing.T) {
	type accessClaims struct {
		jwt.RegisteredClaims
		SessionID    string `json:"sid"`
		TokenVersion int64  `json:"ver"`
	}
	type refreshClaims struct {
		jwt.RegisteredClaims
		SessionID    string `json:"sid"`
		TokenVersion int64  `json:"ver"`
		Generation   int64  `json:"gen"`
	}
	viaJWT := func(typ string, claims jwt.Claims, secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
		tok.Header["typ"] = typ
		tok.Header["kid"] = token.SecretID(secret)
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// jti is random: read it back from the token made by hand.
	jtiOf := func(tok string) string {
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			ID string `json:"jti"`
		}
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		return c.ID
	}

	for _, names := range [][3]string{
		{"tokengate", "tokengate", "user-1"},
		// encoding/json's escaping (HTML characters, quotes, non-ASCII)
		// must be the same either way.
		{`https://auth.example.com/<a&b>`, `app "one"`, "ünïcode-\u2028-user"},
	} {
		iss, aud, sub := names[0], names[1], names[2]
		now := time.Date(2031, 5, 6, 7, 8, 9, 987654321, time.UTC)
		codec := token.New(token.Config{
			AccessSecret: accessSecret, RefreshSecret: refreshSecret,
			Issuer: iss, Audience: aud, AccessTTL: 15 * time.Minute,
			Now: func() time.Time { return now },
		})
		registered := func(exp time.Time, jti string) jwt.RegisteredClaims {
			return jwt.RegisteredClaims{
				Issuer: iss, Subject: sub, Audience: jwt.ClaimStrings{aud},
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp), ID: jti,
			}
		}

		access, exp, err := codec.IssueAccess(sub, "session-1", 5)
		if err != nil {
			t.Fatal(err)
		}
		if want := now.Add(15 * time.Minute).Truncate(time.Second); !exp.Equal(want) || exp.Location() != time.UTC {
			t.Errorf("access expiry %v, want %v in UTC", exp, want)
		}
		want := viaJWT("at+jwt", &accessClaims{registered(now.Add(15*time.Minute), jtiOf(access)), "session-1", 5}, accessSecret)
		if access != want {
			t.Errorf("access token by hand\n%s\nvia golang-jwt\n%s", access, want)
		}

		refreshExp := now.Add(168 * time.Hour).Add(123 * time.Millisecond)
		refresh, err := codec.IssueRefresh(auth.RefreshClaims{
			UserID: sub, SessionID: "session-1", TokenVersion: 7, Generation: 42, ExpiresAt: refreshExp,
		})
		if err != nil {
			t.Fatal(err)
		}
		want = viaJWT("rt+jwt", &refreshClaims{registered(refreshExp, jtiOf(refresh)), "session-1", 7, 42}, refreshSecret)
		if refresh != want {
			t.Errorf("refresh token by hand\n%s\nvia golang-jwt\n%s", refresh, want)
		}
	}
}
