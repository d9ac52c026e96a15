package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// The JOSE algorithms an access token may be signed with (ACCESS_TOKEN_ALG).
const (
	ES256 = "ES256"
	EdDSA = "EdDSA"
	RS256 = "RS256"
	HS256 = "HS256"
)

// MinRSABits is the smallest RSA modulus accepted for RS256.
const MinRSABits = 2048

// PrivateKey is the key that signs access tokens: the schedule's current key.
type PrivateKey struct {
	// ID is the kid written into every token it signs.
	ID  string
	Alg string
	Key crypto.Signer
}

// PublicKey is a key access tokens are verified with and that the JWKS
// publishes.
type PublicKey struct {
	ID  string
	Alg string
	Key crypto.PublicKey
}

// AccessKeys is the key material of one moment of the schedule: the one key
// that signs and every published key (next, current and previous), each of
// which verifies. A token whose kid is not among Published is refused.
type AccessKeys struct {
	Signer    PrivateKey
	Published []PublicKey
}

// signerKey is the signing key, prepared once: its encoded header and the
// key boxed as golang-jwt's Sign takes it.
type signerKey struct {
	header string
	method jwt.SigningMethod
	key    any
	sigLen int
}

// verifyKey is one key a token may name by kid.
type verifyKey struct {
	alg string
	key any
}

// keySet is an immutable snapshot of the keys of one token type. The codec
// holds it behind an atomic pointer and swaps it whole, so a verification
// sees one consistent set without locking.
type keySet struct {
	signer *signerKey
	byID   map[string]*verifyKey
	// noKid verifies tokens without a kid: only the HS256 secrets' first
	// key, for tokens issued before tokens carried one.
	noKid *verifyKey
	// jwks is the published set, encoded once, and its entity tag.
	jwks []byte
	etag string
	// cache holds the access tokens this set verified; nil for HS256,
	// whose check costs about what a lookup does. A new set starts empty,
	// so a retired key's tokens leave the cache with it.
	cache *verifiedCache
}

// secretSet builds the HS256 set of a list of secrets: the first signs,
// every one verifies, each under its secretID.
func secretSet(typ string, secrets [][]byte) *keySet {
	ks := &keySet{byID: make(map[string]*verifyKey, len(secrets)), jwks: emptyJWKS}
	ks.etag = etagOf(ks.jwks)
	for i, s := range secrets {
		var boxed any = s
		vk := &verifyKey{alg: HS256, key: boxed}
		id := SecretID(s)
		ks.byID[id] = vk
		if i == 0 {
			ks.noKid = vk
			ks.signer = &signerKey{
				header: encodedHeader(HS256, id, typ),
				method: jwt.SigningMethodHS256,
				key:    boxed,
				sigLen: sha256.Size,
			}
		}
	}
	return ks
}

// SecretID is the kid of an HS256 secret: an HMAC of a fixed label under
// the secret, which names the secret without revealing anything about it.
func SecretID(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("tokengate secret id"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

var emptyJWKS = []byte(`{"keys":[]}`)

// asymmetricSet builds the set of an AccessKeys after checking that every
// key is what its Alg says and carries its thumbprint as ID.
func asymmetricSet(keys AccessKeys, maxCached int) (*keySet, error) {
	ks := &keySet{byID: make(map[string]*verifyKey, len(keys.Published))}
	if maxCached >= 0 {
		ks.cache = newVerifiedCache(maxCached)
	}
	jwks := make([]JWK, 0, len(keys.Published))
	for _, pk := range keys.Published {
		if err := checkKey(pk.Alg, pk.Key); err != nil {
			return nil, fmt.Errorf("key %s: %w", pk.ID, err)
		}
		tp, err := Thumbprint(pk.Key)
		if err != nil {
			return nil, err
		}
		if tp != pk.ID {
			return nil, fmt.Errorf("key %s: its id is not its thumbprint %s", pk.ID, tp)
		}
		if _, dup := ks.byID[pk.ID]; dup {
			return nil, fmt.Errorf("key %s is published twice", pk.ID)
		}
		ks.byID[pk.ID] = &verifyKey{alg: pk.Alg, key: pk.Key}
		j, err := PublicJWK(pk)
		if err != nil {
			return nil, err
		}
		jwks = append(jwks, j)
	}
	s := keys.Signer
	if s.Key == nil {
		return nil, errors.New("no signing key")
	}
	if vk := ks.byID[s.ID]; vk == nil || vk.alg != s.Alg || !publicEqual(s.Key.Public(), vk.key) {
		return nil, fmt.Errorf("signing key %s is not one of the published keys", s.ID)
	}
	method := jwt.GetSigningMethod(s.Alg)
	sigLen := 64
	if k, ok := s.Key.(*rsa.PrivateKey); ok {
		sigLen = k.Size()
	}
	var boxed any = s.Key
	if k, ok := s.Key.(ed25519.PrivateKey); ok {
		// golang-jwt's EdDSA signer takes the crypto.Signer.
		boxed = crypto.Signer(k)
	}
	ks.signer = &signerKey{header: encodedHeader(s.Alg, s.ID, typeAccess), method: method, key: boxed, sigLen: sigLen}
	body, err := json.Marshal(JWKSet{Keys: jwks})
	if err != nil {
		return nil, fmt.Errorf("encode jwks: %w", err)
	}
	ks.jwks, ks.etag = body, etagOf(body)
	return ks, nil
}

func publicEqual(a crypto.PublicKey, b any) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}

// checkKey reports whether pub is a key of the kind alg signs with.
func checkKey(alg string, pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if alg == ES256 && k.Curve == elliptic.P256() {
			return nil
		}
	case ed25519.PublicKey:
		if alg == EdDSA && len(k) == ed25519.PublicKeySize {
			return nil
		}
	case *rsa.PublicKey:
		if alg == RS256 && k.N.BitLen() >= MinRSABits {
			return nil
		}
	}
	return fmt.Errorf("a %T is not an %s key", pub, alg)
}

// JWK is a public JSON Web Key as the JWKS publishes it (RFC 7517): only
// public members exist in this type, so a private one cannot be written.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

// JWKSet is the body of GET /.well-known/jwks.json.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK returns the JWK of a published key.
func PublicJWK(pk PublicKey) (JWK, error) {
	j, err := members(pk.Key)
	if err != nil {
		return JWK{}, err
	}
	j.Kid, j.Use, j.Alg = pk.ID, "sig", pk.Alg
	return j, nil
}

var b64 = base64.RawURLEncoding

// members returns the kty and key members of a public key.
func members(pub crypto.PublicKey) (JWK, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return JWK{}, errors.New("only P-256 EC keys are supported")
		}
		e, err := k.ECDH()
		if err != nil {
			return JWK{}, fmt.Errorf("ec key: %w", err)
		}
		raw := e.Bytes() // 0x04 || X || Y, each 32 bytes
		return JWK{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(raw[1:33]), Y: b64.EncodeToString(raw[33:])}, nil
	case ed25519.PublicKey:
		return JWK{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(k)}, nil
	case *rsa.PublicKey:
		return JWK{Kty: "RSA", N: b64.EncodeToString(k.N.Bytes()), E: b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())}, nil
	}
	return JWK{}, fmt.Errorf("unsupported public key %T", pub)
}

// Thumbprint is the RFC 7638 JWK thumbprint of a public key: SHA-256 of
// its required members in lexicographic order, base64url. It is the kid of
// every asymmetric key.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	j, err := members(pub)
	if err != nil {
		return "", err
	}
	var canonical string
	// The members are base64url or fixed names: none needs escaping.
	switch j.Kty {
	case "EC":
		canonical = `{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
	case "OKP":
		canonical = `{"crv":"` + j.Crv + `","kty":"OKP","x":"` + j.X + `"}`
	case "RSA":
		canonical = `{"e":"` + j.E + `","kty":"RSA","n":"` + j.N + `"}`
	}
	sum := sha256.Sum256([]byte(canonical))
	return b64.EncodeToString(sum[:]), nil
}
