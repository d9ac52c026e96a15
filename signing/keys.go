// Package signing keeps the access-token signing keys (API.md section 8):
// it generates them, seals their private halves under KEY_ENCRYPTION_KEY,
// runs the schedule next → current → previous → retired in the store, and
// installs each moment's keys into the token codec. The schedule is a pure
// function of the stored times (schedule.go), so every instance reading
// the same rows agrees on it; only creating a key or moving one takes the
// store's lock.
package signing

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/token"
)

// MinKEKBytes is the shortest KEY_ENCRYPTION_KEY accepted.
const MinKEKBytes = 32

// sealVersion prefixes every sealed key, so the format can change later.
const sealVersion = 1

// ErrWrongKEK is returned when a stored private key does not open under
// the configured KEY_ENCRYPTION_KEY: start-up stops rather than sign with
// anything else.
var ErrWrongKEK = errors.New("KEY_ENCRYPTION_KEY: does not decrypt the signing keys in the store; it is not the key they were sealed with")

// sealer seals private keys with AES-256-GCM under a key derived from
// KEY_ENCRYPTION_KEY, binding each to its kid so a sealed key cannot be
// moved to another row.
type sealer struct{ aead cipher.AEAD }

func newSealer(kek []byte) (*sealer, error) {
	if len(kek) < MinKEKBytes {
		return nil, fmt.Errorf("KEY_ENCRYPTION_KEY: must be at least %d bytes", MinKEKBytes)
	}
	// The configured value may be text of any length; SHA-256 makes it the
	// 32 bytes AES-256 takes.
	k := sha256.Sum256(kek)
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(kid string, plain []byte) []byte {
	out := make([]byte, 1, 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce) // never fails (crypto/rand)
	out = append(out, nonce...)
	return s.aead.Seal(out, nonce, plain, []byte(kid))
}

func (s *sealer) open(kid string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return nil, fmt.Errorf("signing key %s: not a sealed key", kid)
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(kid))
	if err != nil {
		return nil, ErrWrongKEK
	}
	return plain, nil
}

// generate makes a new key pair for alg with the standard library.
func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case token.ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case token.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case token.RS256:
		return rsa.GenerateKey(rand.Reader, token.MinRSABits)
	}
	return nil, fmt.Errorf("ACCESS_TOKEN_ALG: %q has no key pair", alg)
}

// newKey generates a key for alg that starts to sign at activates, sealed.
func (s *sealer) newKey(alg string, now, activates time.Time) (auth.SigningKey, error) {
	priv, err := generate(alg)
	if err != nil {
		return auth.SigningKey{}, err
	}
	kid, err := token.Thumbprint(priv.Public())
	if err != nil {
		return auth.SigningKey{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return auth.SigningKey{}, fmt.Errorf("encode public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return auth.SigningKey{}, fmt.Errorf("encode private key: %w", err)
	}
	return auth.SigningKey{
		ID: kid, Alg: alg, Public: pub, SealedPrivate: s.seal(kid, der),
		CreatedAt: now, ActivatesAt: activates,
	}, nil
}

// publicKey parses a stored public key.
func publicKey(k auth.SigningKey) (token.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(k.Public)
	if err != nil {
		return token.PublicKey{}, fmt.Errorf("signing key %s: public key: %w", k.ID, err)
	}
	return token.PublicKey{ID: k.ID, Alg: k.Alg, Key: pub}, nil
}

// privateKey opens a stored private key.
func (s *sealer) privateKey(k auth.SigningKey) (token.PrivateKey, error) {
	der, err := s.open(k.ID, k.SealedPrivate)
	if err != nil {
		return token.PrivateKey{}, err
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return token.PrivateKey{}, fmt.Errorf("signing key %s: private key: %w", k.ID, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return token.PrivateKey{}, fmt.Errorf("signing key %s: %T cannot sign", k.ID, priv)
	}
	return token.PrivateKey{ID: k.ID, Alg: k.Alg, Key: signer}, nil
}
