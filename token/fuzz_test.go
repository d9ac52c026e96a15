package token_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds arbitrary strings to both verifiers. Neither may panic,
// and nothing but the exact valid tokens of the seed corpus may verify: any
// mutation of a real token (base64 variants included) must be refused. The
// valid seeds are built deterministically because fuzz workers are separate
// processes that must agree on them.
func FuzzVerify(f *testing.F) {
	c, _ := newCodec(f)
	validAccess := forge(accessHeader(), accessClaims(), jwt.SigningMethodHS256, accessSecret)
	validRefresh := forge(map[string]any{"alg": "HS256", "typ": "rt+jwt"},
		with(accessClaims(), "ver", 1, "gen", 2), jwt.SigningMethodHS256, refreshSecret)
	f.Add(validAccess)
	f.Add(validRefresh)
	f.Add(forge(map[string]any{"alg": "none", "typ": "at+jwt"}, accessClaims(), nil, nil))
	f.Add("a.b.c")
	f.Add("....")
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := c.VerifyAccess(raw); err == nil && raw != validAccess {
			t.Fatalf("VerifyAccess accepted a token it did not issue: %q", raw)
		}
		if _, err := c.VerifyRefresh(raw); err == nil && raw != validRefresh {
			t.Fatalf("VerifyRefresh accepted a token it did not issue: %q", raw)
		}
	})
}
