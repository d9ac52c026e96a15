package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/token"
)

// asymKey is a key pair and its PublicKey and PrivateKey as the codec
// takes them.
type asymKey struct {
	priv crypto.Signer
	pub  token.PublicKey
	sign token.PrivateKey
}

func newKey(t testing.TB, alg string) asymKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case token.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case token.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case token.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	kid, err := token.Thumbprint(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return asymKey{priv, token.PublicKey{ID: kid, Alg: alg, Key: priv.Public()}, token.PrivateKey{ID: kid, Alg: alg, Key: priv}}
}

// newAsymCodec returns an ES256 codec signing with current and publishing
// every key given.
func newAsymCodec(t testing.TB, current asymKey, others ...asymKey) (*token.Codec, *clock) {
	t.Helper()
	clk := &clock{t: epoch}
	c := token.New(token.Config{
		AccessAlg: current.pub.Alg, RefreshSecret: refreshSecret,
		Issuer: "tokengate", Audience: "tokengate", AccessTTL: 15 * time.Minute, Now: clk.Now,
	})
	set := token.AccessKeys{Signer: current.sign, Published: []token.PublicKey{current.pub}}
	for _, k := range others {
		set.Published = append(set.Published, k.pub)
	}
	if err := c.SetAccessKeys(set); err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func es256Header(kid string) map[string]any {
	return map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": kid}
}

func TestAsymmetricTokensVerifyByKid(t *testing.T) {
	for _, alg := range []string{token.ES256, token.EdDSA, token.RS256} {
		t.Run(alg, func(t *testing.T) {
			cur, prev := newKey(t, alg), newKey(t, alg)
			c, _ := newAsymCodec(t, cur, prev)
			at, _, err := c.IssueAccess("user-1", "session-1", 4)
			if err != nil {
				t.Fatal(err)
			}
			var h map[string]any
			mustDecode(t, strings.Split(at, ".")[0], &h)
			if h["alg"] != alg || h["kid"] != cur.pub.ID || h["typ"] != "at+jwt" || len(h) != 3 {
				t.Fatalf("header %v", h)
			}
			got, err := c.VerifyAccess(at)
			if err != nil || got.UserID != "user-1" || got.SessionID != "session-1" || got.TokenVersion != 4 {
				t.Fatalf("VerifyAccess = %+v, %v", got, err)
			}
			// A standard library verifies it with the public key alone.
			if _, err := jwt.Parse(at, func(*jwt.Token) (any, error) { return cur.priv.Public(), nil },
				jwt.WithValidMethods([]string{alg}), jwt.WithTimeFunc(func() time.Time { return epoch })); err != nil {
				t.Fatalf("golang-jwt refused the token: %v", err)
			}
			// The other published key's tokens verify too.
			method := jwt.GetSigningMethod(alg)
			h["kid"] = prev.pub.ID
			if _, err := c.VerifyAccess(forge(h, accessClaims(), method, prev.priv)); err != nil {
				t.Fatalf("token of a published key refused: %v", err)
			}
		})
	}
}

// TestAsymmetricForgeriesAreRefused is the issue's list: an unknown kid,
// the refresh secret's kid, an alg not matching the key (HS256 keyed with
// the public key's bytes, none), and headers naming a key from outside.
func TestAsymmetricForgeriesAreRefused(t *testing.T) {
	cur, other, stranger := newKey(t, token.ES256), newKey(t, token.ES256), newKey(t, token.ES256)
	ed := newKey(t, token.EdDSA)
	c, _ := newAsymCodec(t, cur, other)
	pubDER, err := x509.MarshalPKIXPublicKey(cur.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := c.JWKS()
	var refreshKid string
	rt, _ := c.IssueRefresh(auth.RefreshClaims{UserID: "u", SessionID: "s", ExpiresAt: epoch.Add(time.Hour)})
	var rh map[string]any
	mustDecode(t, strings.Split(rt, ".")[0], &rh)
	refreshKid = rh["kid"].(string)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a key URL was fetched")
	}))
	defer srv.Close()
	claims := accessClaims()
	valid := forge(es256Header(cur.pub.ID), claims, jwt.SigningMethodES256, cur.priv)
	if _, err := c.VerifyAccess(valid); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	parts := strings.Split(valid, ".")
	strangerJWK, _ := token.PublicJWK(stranger.pub)
	for name, raw := range map[string]string{
		"unknown kid":                        forge(es256Header(stranger.pub.ID), claims, jwt.SigningMethodES256, stranger.priv),
		"unknown kid, signed by the current": forge(es256Header(stranger.pub.ID), claims, jwt.SigningMethodES256, cur.priv),
		"no kid":                             forge(with(es256Header(""), "kid", nil), claims, jwt.SigningMethodES256, cur.priv),
		"kid not a string":                   forge(with(es256Header(""), "kid", 7), claims, jwt.SigningMethodES256, cur.priv),
		"refresh secret's kid, HS256":        forge(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": refreshKid}, claims, jwt.SigningMethodHS256, refreshSecret),
		"HS256 keyed with the public key":    forge(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": cur.pub.ID}, claims, jwt.SigningMethodHS256, pubDER),
		"HS256 keyed with the JWKS":          forge(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": cur.pub.ID}, claims, jwt.SigningMethodHS256, jwks),
		"alg none":                           forge(map[string]any{"alg": "none", "typ": "at+jwt", "kid": cur.pub.ID}, claims, nil, nil),
		"alg none, real signature":           b64(map[string]any{"alg": "none", "typ": "at+jwt", "kid": cur.pub.ID}) + "." + parts[1] + "." + parts[2],
		"alg EdDSA on an ES256 key":          forge(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": cur.pub.ID}, claims, jwt.SigningMethodEdDSA, ed.priv),
		"alg ES384":                          forge(map[string]any{"alg": "ES384", "typ": "at+jwt", "kid": cur.pub.ID}, claims, nil, nil) + parts[2],
		"jwk header with its own key":        forge(with(es256Header(stranger.pub.ID), "jwk", strangerJWK), claims, jwt.SigningMethodES256, stranger.priv),
		"jwk header, real kid":               forge(with(es256Header(cur.pub.ID), "jwk", strangerJWK), claims, jwt.SigningMethodES256, cur.priv),
		"jku header":                         forge(with(es256Header(cur.pub.ID), "jku", srv.URL), claims, jwt.SigningMethodES256, cur.priv),
		"x5u header":                         forge(with(es256Header(cur.pub.ID), "x5u", srv.URL), claims, jwt.SigningMethodES256, cur.priv),
		"x5c header":                         forge(with(es256Header(cur.pub.ID), "x5c", []string{"MII="}), claims, jwt.SigningMethodES256, cur.priv),
		"typ rt+jwt":                         forge(with(es256Header(cur.pub.ID), "typ", "rt+jwt"), claims, jwt.SigningMethodES256, cur.priv),
		"signature of another key":           parts[0] + "." + parts[1] + "." + strings.Split(forge(es256Header(cur.pub.ID), claims, jwt.SigningMethodES256, other.priv), ".")[2],
		"no sid":                             forge(es256Header(cur.pub.ID), with(claims, "sid", nil), jwt.SigningMethodES256, cur.priv),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.VerifyAccess(raw); !errors.Is(err, auth.Unauthenticated(auth.ReasonTokenInvalid)) {
				t.Fatalf("VerifyAccess = %v, want TOKEN_INVALID", err)
			}
		})
	}
	// An access token is never a refresh token, whatever its kid.
	if _, err := c.VerifyRefresh(valid); err == nil {
		t.Fatal("an access token verified as a refresh token")
	}
}

func TestHS256AccessKidIsNotTheRefreshKid(t *testing.T) {
	c, _ := newCodec(t)
	at, _, _ := c.IssueAccess("u", "s", 0)
	rt, _ := c.IssueRefresh(auth.RefreshClaims{UserID: "u", SessionID: "s", ExpiresAt: epoch.Add(time.Hour)})
	var ah, rh map[string]any
	mustDecode(t, strings.Split(at, ".")[0], &ah)
	mustDecode(t, strings.Split(rt, ".")[0], &rh)
	if ah["kid"] == rh["kid"] || ah["kid"] != token.SecretID(accessSecret) {
		t.Fatalf("kids %v and %v", ah["kid"], rh["kid"])
	}
	for _, kid := range []any{ah["kid"], rh["kid"]} {
		if strings.Contains(string(accessSecret)+string(refreshSecret), kid.(string)) {
			t.Fatal("a kid is part of a secret")
		}
	}
	// The refresh secret's kid on an access token signed with the access
	// secret: refused, the kid names no access key.
	forged := forge(with(accessHeader(), "kid", rh["kid"]), accessClaims(), jwt.SigningMethodHS256, accessSecret)
	if _, err := c.VerifyAccess(forged); err == nil {
		t.Fatal("access token with the refresh secret's kid accepted")
	}
}

func TestRefreshSecretsRotate(t *testing.T) {
	old := []byte("old-refresh-secret-old-refresh-secret-0123")
	clk := &clock{t: epoch}
	cfg := token.Config{AccessSecret: accessSecret, RefreshSecret: old, Issuer: "tokengate", Audience: "tokengate", AccessTTL: time.Minute, Now: clk.Now}
	before := token.New(cfg)
	rc := auth.RefreshClaims{UserID: "u", SessionID: "s", TokenVersion: 1, Generation: 1, ExpiresAt: epoch.Add(time.Hour)}
	oldToken, _ := before.IssueRefresh(rc)

	cfg.RefreshSecret, cfg.RefreshSecrets = refreshSecret, [][]byte{old}
	after := token.New(cfg)
	if _, err := after.VerifyRefresh(oldToken); err != nil {
		t.Fatalf("a token of the old secret was refused after the rotation: %v", err)
	}
	newToken, _ := after.IssueRefresh(rc)
	if _, err := before.VerifyRefresh(newToken); err == nil {
		t.Fatal("the new secret is not the one signing")
	}
	// The old secret's kid with the new secret's signature: refused.
	var oh map[string]any
	mustDecode(t, strings.Split(oldToken, ".")[0], &oh)
	parts := strings.Split(newToken, ".")
	swapped := signRaw(b64(with(refreshHeader(), "kid", oh["kid"]))+"."+parts[1], refreshSecret)
	if _, err := after.VerifyRefresh(swapped); err == nil {
		t.Fatal("a kid was answered with another secret")
	}
	// Once the old secret is dropped its tokens fail.
	cfg.RefreshSecrets = nil
	if _, err := token.New(cfg).VerifyRefresh(oldToken); err == nil {
		t.Fatal("a dropped secret's token verified")
	}
}

// TestJWKSHasPublicMembersOnly parses the set and checks every member of
// every key against the public ones of its type.
func TestJWKSHasPublicMembersOnly(t *testing.T) {
	allowed := map[string][]string{
		"EC":  {"kty", "kid", "use", "alg", "crv", "x", "y"},
		"OKP": {"kty", "kid", "use", "alg", "crv", "x"},
		"RSA": {"kty", "kid", "use", "alg", "n", "e"},
	}
	for _, alg := range []string{token.ES256, token.EdDSA, token.RS256} {
		t.Run(alg, func(t *testing.T) {
			cur, next := newKey(t, alg), newKey(t, alg)
			c, _ := newAsymCodec(t, cur, next)
			body, _ := c.JWKS()
			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(body, &set); err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != 2 {
				t.Fatalf("%d keys", len(set.Keys))
			}
			for _, k := range set.Keys {
				kty, _ := k["kty"].(string)
				for m := range k {
					if !slices.Contains(allowed[kty], m) {
						t.Errorf("%s key has member %q", kty, m)
					}
				}
				if k["use"] != "sig" || k["alg"] != alg {
					t.Errorf("key %v", k)
				}
				if kid := k["kid"]; kid != cur.pub.ID && kid != next.pub.ID {
					t.Errorf("kid %v is not a published key's thumbprint", kid)
				}
			}
		})
	}
	// HS256: the secret is never published.
	c, _ := newCodec(t)
	if body, _ := c.JWKS(); string(body) != `{"keys":[]}` {
		t.Fatalf("HS256 JWKS = %s", body)
	}
}

// RFC 7638 section 3.1's example key and thumbprint.
func TestThumbprintIsRFC7638(t *testing.T) {
	n := "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	var key rsa.PublicKey
	key.N, key.E = bigFromB64(t, n), 65537
	got, err := token.Thumbprint(&key)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint %s, want %s", got, want)
	}
}

func TestSetAccessKeysRefusesInconsistentSets(t *testing.T) {
	es, ed := newKey(t, token.ES256), newKey(t, token.EdDSA)
	c, _ := newAsymCodec(t, es)
	wrongID := es.pub
	wrongID.ID = "chosen-by-hand"
	wrongAlg := es.pub
	wrongAlg.Alg = token.RS256
	for name, set := range map[string]token.AccessKeys{
		"signer not published": {Signer: es.sign, Published: []token.PublicKey{ed.pub}},
		"id not thumbprint":    {Signer: token.PrivateKey{ID: wrongID.ID, Alg: token.ES256, Key: es.priv}, Published: []token.PublicKey{wrongID}},
		"alg not the key's":    {Signer: es.sign, Published: []token.PublicKey{wrongAlg}},
		"no signer":            {Published: []token.PublicKey{es.pub}},
		"signer's key differs": {Signer: token.PrivateKey{ID: es.pub.ID, Alg: token.ES256, Key: newKey(t, token.ES256).priv}, Published: []token.PublicKey{es.pub}},
	} {
		if err := c.SetAccessKeys(set); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	hs, _ := newCodec(t)
	if err := hs.SetAccessKeys(token.AccessKeys{Signer: es.sign, Published: []token.PublicKey{es.pub}}); err == nil {
		t.Error("an HS256 codec took asymmetric keys")
	}
}

func TestAsymmetricCodecWithoutKeysDoesNotSign(t *testing.T) {
	c := token.New(token.Config{AccessAlg: token.ES256, RefreshSecret: refreshSecret, Issuer: "i", Audience: "a", AccessTTL: time.Minute, Now: time.Now})
	if _, _, err := c.IssueAccess("u", "s", 0); err == nil {
		t.Fatal("signed without a key")
	}
}
