package token_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokengate/tokengate/token"
)

// fixedKeys are deterministic asymmetric keys, so that every fuzz worker
// holds the same ones: an Ed25519 key from a seed and a P-256 key from a
// fixed scalar.
func fixedKeys(t testing.TB) (ed, es asymKey) {
	t.Helper()
	edPriv := ed25519.NewKeyFromSeed([]byte("tokengate-fuzz-ed25519-seed-0032"))
	esPriv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), []byte("tokengate-fuzz-p256-scalar-00032"))
	if err != nil {
		t.Fatal(err)
	}
	edKid, _ := token.Thumbprint(edPriv.Public())
	esKid, _ := token.Thumbprint(esPriv.Public())
	ed = asymKey{edPriv, token.PublicKey{ID: edKid, Alg: token.EdDSA, Key: edPriv.Public()}, token.PrivateKey{ID: edKid, Alg: token.EdDSA, Key: edPriv}}
	es = asymKey{esPriv, token.PublicKey{ID: esKid, Alg: token.ES256, Key: esPriv.Public()}, token.PrivateKey{ID: esKid, Alg: token.ES256, Key: esPriv}}
	return ed, es
}

// FuzzVerify feeds arbitrary strings to the HS256 codec's verifiers and to
// an asymmetric codec publishing an Ed25519 and a P-256 key, where the kid
// picks the key. None may panic, and nothing but the valid tokens of the
// seed corpus may verify: any mutation of a real token (base64 variants,
// another kid, another alg) must be refused. HS256 and Ed25519 signatures
// are deterministic, so those seeds must match exactly; an ECDSA signature
// is randomised (and (r, n-s) is as valid as (r, s)), so an ES256 token is
// held to the exact signed content of its seed. The valid seeds are built
// deterministically because fuzz workers are separate processes that must
// agree on them. A token AccessLapsed calls expired must never verify.
func FuzzVerify(f *testing.F) {
	c, _ := newCodec(f)
	ed, es := fixedKeys(f)
	clk := &clock{t: epoch}
	asym := token.New(token.Config{AccessAlg: token.EdDSA, RefreshSecret: refreshSecret,
		Issuer: "tokengate", Audience: "tokengate", AccessTTL: 15 * time.Minute, Now: clk.Now})
	if err := asym.SetAccessKeys(token.AccessKeys{Signer: ed.sign, Published: []token.PublicKey{ed.pub, es.pub}}); err != nil {
		f.Fatal(err)
	}
	validAccess := forge(with(accessHeader(), "kid", token.SecretID(accessSecret)), accessClaims(), jwt.SigningMethodHS256, accessSecret)
	legacyAccess := forge(accessHeader(), accessClaims(), jwt.SigningMethodHS256, accessSecret)
	validRefresh := forge(map[string]any{"alg": "HS256", "typ": "rt+jwt", "kid": token.SecretID(refreshSecret)},
		with(accessClaims(), "ver", 1, "gen", 2), jwt.SigningMethodHS256, refreshSecret)
	legacyRefresh := forge(map[string]any{"alg": "HS256", "typ": "rt+jwt"},
		with(accessClaims(), "ver", 1, "gen", 2), jwt.SigningMethodHS256, refreshSecret)
	validEd := forge(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": ed.pub.ID}, accessClaims(), jwt.SigningMethodEdDSA, ed.priv)
	validES := forge(es256Header(es.pub.ID), accessClaims(), jwt.SigningMethodES256, es.priv)
	esSigned := validES[:strings.LastIndexByte(validES, '.')]
	for _, s := range []string{validAccess, legacyAccess, validRefresh, legacyRefresh, validEd, validES,
		forge(map[string]any{"alg": "none", "typ": "at+jwt"}, accessClaims(), nil, nil),
		forge(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": es.pub.ID}, accessClaims(), jwt.SigningMethodEdDSA, ed.priv),
		forge(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": ed.pub.ID}, accessClaims(), jwt.SigningMethodES256, es.priv),
		forge(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": ed.pub.ID}, accessClaims(), jwt.SigningMethodHS256, []byte(ed.pub.ID)),
		forge(with(accessHeader(), "kid", token.SecretID(accessSecret)), with(accessClaims(), "exp", epoch.Add(-time.Hour).Unix()), jwt.SigningMethodHS256, accessSecret),
		"a.b.c", "...."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := c.VerifyAccess(raw); err == nil && raw != validAccess && raw != legacyAccess {
			t.Fatalf("VerifyAccess accepted a token it did not issue: %q", raw)
		}
		if _, err := c.VerifyRefresh(raw); err == nil && raw != validRefresh && raw != legacyRefresh {
			t.Fatalf("VerifyRefresh accepted a token it did not issue: %q", raw)
		}
		if _, err := asym.VerifyAccess(raw); err == nil && raw != validEd &&
			!(strings.HasPrefix(raw, esSigned+".") && strings.Count(raw, ".") == 2) {
			t.Fatalf("asymmetric VerifyAccess accepted a token it did not issue: %q", raw)
		}
		if _, err := asym.VerifyRefresh(raw); err == nil && raw != validRefresh && raw != legacyRefresh {
			t.Fatalf("asymmetric VerifyRefresh accepted a token it did not issue: %q", raw)
		}
		// The middleware skips the signature of a lapsed token: no token
		// that reads as lapsed may be one that verifies.
		for _, codec := range []*token.Codec{c, asym} {
			if codec.AccessLapsed(raw) {
				if _, err := codec.VerifyAccess(raw); err == nil {
					t.Fatalf("AccessLapsed said a token that verifies is past its expiry: %q", raw)
				}
			}
		}
	})
}
