package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// LinkKind says what a link in an e-mail does.
type LinkKind string

// The two kinds of link. A newer link of one kind supersedes the user's
// older ones of that kind only.
const (
	LinkPasswordReset     LinkKind = "password_reset"
	LinkEmailVerification LinkKind = "email_verification"
)

// Link is a pending link as the store keeps it: its public id and the keyed
// hash of its secret, never the token itself.
type Link struct {
	ID        string
	TokenHash []byte
	UserID    string
	Kind      LinkKind
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Token layout: 16 random bytes of public id (to find the row) followed by
// 32 random bytes of secret (256 bits, only ever compared through its
// keyed hash), base64url without padding: 64 characters.
const (
	linkIDBytes     = 16
	linkSecretBytes = 32
	linkTokenLen    = 64
)

// MinLinkKeyBytes is the least key material NewLinkKey accepts.
const MinLinkKeyBytes = 32

// LinkKey is the server key that link tokens are hashed under and queued
// e-mails are sealed with. Two keys are derived from the secret it is made
// from, one per use, so neither use can stand in for the other.
type LinkKey struct {
	mac  []byte
	aead cipher.AEAD
}

// NewLinkKey derives a LinkKey from secret, which must be at least
// MinLinkKeyBytes long and stay the same across restarts and instances:
// links and queued mail made under another key are refused.
func NewLinkKey(secret []byte) (*LinkKey, error) {
	if len(secret) < MinLinkKeyBytes {
		return nil, fmt.Errorf("link key: at least %d bytes needed, got %d", MinLinkKeyBytes, len(secret))
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("tokengate outbox seal v1"))
	if err != nil {
		return nil, fmt.Errorf("link key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("link key: %w", err)
	}
	return &LinkKey{mac: derive("tokengate link hash v1"), aead: aead}, nil
}

// newLinkToken returns a fresh token and its public id.
func newLinkToken() (token, id string, secret []byte, err error) {
	b := make([]byte, linkIDBytes+linkSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", nil, fmt.Errorf("link token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b[:linkIDBytes]), b[linkIDBytes:], nil
}

// parseLinkToken splits a token into its id and secret; ok is false for
// anything that is not a token this server could have made.
func parseLinkToken(token string) (id string, secret []byte, ok bool) {
	if len(token) != linkTokenLen {
		return "", nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != linkIDBytes+linkSecretBytes {
		return "", nil, false
	}
	return base64.RawURLEncoding.EncodeToString(b[:linkIDBytes]), b[linkIDBytes:], true
}

// hashLink is the keyed hash the store keeps. It binds the secret to the
// id and the kind, so a stored hash cannot be replayed under another row or
// a reset token used as a verification one.
func (k *LinkKey) hashLink(kind LinkKind, id string, secret []byte) []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte("link\x00" + string(kind) + "\x00" + id + "\x00"))
	m.Write(secret)
	return m.Sum(nil)
}

// budgetKey is what the e-mail budget is kept under: a keyed hash of the
// e-mail key, so the store names no address, not even one without an
// account.
func (k *LinkKey) budgetKey(emailKey string) []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte("budget\x00" + emailKey))
	return m.Sum(nil)
}

// seal encrypts a queued mail's payload (it carries the link's token),
// bound to the mail's id.
func (k *LinkKey) seal(mailID string, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal mail: %w", err)
	}
	return k.aead.Seal(nonce, nonce, plaintext, []byte(mailID)), nil
}

// errSealed is a payload that does not open under this key.
var errSealed = errors.New("mail payload does not open under this link key")

func (k *LinkKey) open(mailID string, sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return nil, errSealed
	}
	out, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(mailID))
	if err != nil {
		return nil, errSealed
	}
	return out, nil
}
