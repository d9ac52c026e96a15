package token_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/token"
)

func refreshHeader() map[string]any { return map[string]any{"alg": "HS256", "typ": "rt+jwt"} }

func refreshClaims() map[string]any {
	return with(accessClaims(), "ver", 1, "gen", 2, "exp", epoch.Add(time.Hour).Unix())
}

// TestForgedRefreshTokensAreRejected is TestForgedAccessTokensAreRejected
// for the refresh verifier, which guards the store: a refresh token only
// reaches the database once it verifies.
func TestForgedRefreshTokensAreRejected(t *testing.T) {
	c, _ := newCodec(t)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	valid := forge(refreshHeader(), refreshClaims(), jwt.SigningMethodHS256, refreshSecret)
	if _, err := c.VerifyRefresh(valid); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
	parts := strings.Split(valid, ".")
	var flipped []string
	for i := range parts[2] {
		// Every character of the signature, one bit each.
		b := []byte(parts[2])
		b[i] ^= 0x01
		flipped = append(flipped, parts[0]+"."+parts[1]+"."+string(b))
	}

	cases := map[string]string{
		"alg none":                 forge(with(refreshHeader(), "alg", "none"), refreshClaims(), nil, nil),
		"alg None":                 forge(with(refreshHeader(), "alg", "None"), refreshClaims(), nil, nil),
		"alg NONE":                 forge(with(refreshHeader(), "alg", "NONE"), refreshClaims(), nil, nil),
		"alg nOnE":                 forge(with(refreshHeader(), "alg", "nOnE"), refreshClaims(), nil, nil),
		"alg none with signature":  b64(with(refreshHeader(), "alg", "none")) + "." + parts[1] + "." + parts[2],
		"empty signature":          parts[0] + "." + parts[1] + ".",
		"alg HS384":                forge(with(refreshHeader(), "alg", "HS384"), refreshClaims(), jwt.SigningMethodHS384, refreshSecret),
		"alg HS512":                forge(with(refreshHeader(), "alg", "HS512"), refreshClaims(), jwt.SigningMethodHS512, refreshSecret),
		"alg ES256":                forge(with(refreshHeader(), "alg", "ES256"), refreshClaims(), jwt.SigningMethodES256, ecKey),
		"alg RS256, HMAC bytes":    b64(with(refreshHeader(), "alg", "RS256")) + "." + parts[1] + "." + parts[2],
		"alg EdDSA, HMAC bytes":    b64(with(refreshHeader(), "alg", "EdDSA")) + "." + parts[1] + "." + parts[2],
		"access secret":            forge(refreshHeader(), refreshClaims(), jwt.SigningMethodHS256, accessSecret),
		"typ at+jwt":               forge(with(refreshHeader(), "typ", "at+jwt"), refreshClaims(), jwt.SigningMethodHS256, refreshSecret),
		"crit header":              forge(with(refreshHeader(), "crit", []string{"gen"}), refreshClaims(), jwt.SigningMethodHS256, refreshSecret),
		"kid header, attacker key": forge(with(refreshHeader(), "kid", "../../dev/null"), refreshClaims(), jwt.SigningMethodHS256, []byte("attacker-key-attacker-key-attacker!!")),
		"nbf beyond leeway":        forge(refreshHeader(), with(refreshClaims(), "nbf", epoch.Add(time.Minute).Unix()), jwt.SigningMethodHS256, refreshSecret),
		"iat beyond leeway":        forge(refreshHeader(), with(refreshClaims(), "iat", epoch.Add(time.Minute).Unix()), jwt.SigningMethodHS256, refreshSecret),
		"exp as string":            forge(refreshHeader(), with(refreshClaims(), "exp", "2099-01-01"), jwt.SigningMethodHS256, refreshSecret),
		"exp 1e309": signRaw(b64(refreshHeader())+"."+b64(`{"iss":"tokengate","aud":"tokengate","sub":"u","sid":"s","ver":1,"gen":2,"iat":1893553445,"exp":1e309}`),
			refreshSecret),
		"padded segments":      parts[0] + "==." + parts[1] + "." + parts[2],
		"std base64 alphabet":  strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/",
		"non-canonical base64": nonCanonical(valid),
		"100000 dots":          strings.Repeat(".", 100000),
		"non UTF-8":            "\xff\xfe." + parts[1] + "." + parts[2],
		// Duplicate JSON keys: the parser keeps the last; either order is refused.
		"duplicate alg, none last":  signRaw(b64(`{"alg":"HS256","typ":"rt+jwt","alg":"none"}`)+"."+parts[1], refreshSecret),
		"duplicate alg, none first": b64(`{"alg":"none","typ":"rt+jwt","alg":"HS256"}`) + "." + parts[1] + ".",
		"duplicate typ, access last": signRaw(b64(`{"alg":"HS256","typ":"rt+jwt","typ":"at+jwt"}`)+"."+parts[1],
			refreshSecret),
	}
	for i, f := range flipped {
		cases[fmt.Sprintf("flipped bit in signature character %d", i)] = f
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := c.VerifyRefresh(raw)
			var ae *auth.Error
			if !errors.As(err, &ae) || ae.Code != auth.CodeUnauthenticated || ae.Reason != auth.ReasonTokenInvalid {
				t.Fatalf("VerifyRefresh = %v, want UNAUTHENTICATED TOKEN_INVALID", err)
			}
		})
	}
}

// TestDuplicateHeaderKeysCannotSmuggleAnAlgorithm: whichever "alg" a
// lenient reader would take, the access verifier refuses the token.
func TestDuplicateHeaderKeysCannotSmuggleAnAlgorithm(t *testing.T) {
	c, _ := newCodec(t)
	valid := forge(accessHeader(), accessClaims(), jwt.SigningMethodHS256, accessSecret)
	payload := strings.Split(valid, ".")[1]
	for name, raw := range map[string]string{
		"none last, signed":         signRaw(b64(`{"alg":"HS256","typ":"at+jwt","alg":"none"}`)+"."+payload, accessSecret),
		"none first, unsigned":      b64(`{"alg":"none","typ":"at+jwt","alg":"HS256"}`) + "." + payload + ".",
		"HS512 last, HS256-signed":  signRaw(b64(`{"alg":"HS256","typ":"at+jwt","alg":"HS512"}`)+"."+payload, accessSecret),
		"typ refresh last":          signRaw(b64(`{"alg":"HS256","typ":"at+jwt","typ":"rt+jwt"}`)+"."+payload, accessSecret),
		"over 8 KiB of kid, signed": forge(with(accessHeader(), "kid", strings.Repeat("k", 10<<10)), accessClaims(), jwt.SigningMethodHS256, accessSecret),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.VerifyAccess(raw); !errors.Is(err, auth.Unauthenticated(auth.ReasonTokenInvalid)) {
				t.Fatalf("VerifyAccess = %v, want TOKEN_INVALID", err)
			}
		})
	}
	if len(forge(with(accessHeader(), "kid", strings.Repeat("k", 10<<10)), accessClaims(), nil, nil)) <= token.MaxTokenBytes {
		t.Fatal("the 10 KB kid case no longer exceeds MaxTokenBytes")
	}
}
