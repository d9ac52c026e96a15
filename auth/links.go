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
// e-mails are sealed with. Two keys are derived from each secret it is made
// from, one per use, so neither use can stand in for the other. New links
// and mail use the first secret's; the older secrets' still check the links
// and open the mail made under them, so rotating the secret neither voids a
// pending reset link nor strands mail still queued.
type LinkKey struct {
	keys []linkSubkey // the current one first
}

type linkSubkey struct {
	mac  []byte
	aead cipher.AEAD
}

// NewLinkKey derives a LinkKey from secret and from the older secrets whose
// links and mail must still be honoured. Each must be at least
// MinLinkKeyBytes long and stay the same across restarts and instances:
// links and queued mail made under any other key are refused.
func NewLinkKey(secret []byte, older ...[]byte) (*LinkKey, error) {
	k := &LinkKey{}
	for _, sec := range append([][]byte{secret}, older...) {
		sub, err := newLinkSubkey(sec)
		if err != nil {
			return nil, err
		}
		k.keys = append(k.keys, sub)
	}
	return k, nil
}

func newLinkSubkey(secret []byte) (linkSubkey, error) {
	if len(secret) < MinLinkKeyBytes {
		return linkSubkey{}, fmt.Errorf("link key: at least %d bytes needed, got %d", MinLinkKeyBytes, len(secret))
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("tokengate outbox seal v1"))
	if err != nil {
		return linkSubkey{}, fmt.Errorf("link key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return linkSubkey{}, fmt.Errorf("link key: %w", err)
	}
	return linkSubkey{mac: derive("tokengate link hash v1"), aead: aead}, nil
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

// hashLink is the keyed hash the store keeps, under the current key. It
// binds the secret to the id and the kind, so a stored hash cannot be
// replayed under another row or a reset token used as a verification one.
func (k *LinkKey) hashLink(kind LinkKind, id string, secret []byte) []byte {
	return k.keys[0].hashLink(kind, id, secret)
}

// linkMatches reports whether stored is the hash of the link under any of
// the keys, each compared in constant time.
func (k *LinkKey) linkMatches(stored []byte, kind LinkKind, id string, secret []byte) bool {
	match := false
	for _, sub := range k.keys {
		match = hmac.Equal(stored, sub.hashLink(kind, id, secret)) || match
	}
	return match
}

func (sub linkSubkey) hashLink(kind LinkKind, id string, secret []byte) []byte {
	m := hmac.New(sha256.New, sub.mac)
	m.Write([]byte("link\x00" + string(kind) + "\x00" + id + "\x00"))
	m.Write(secret)
	return m.Sum(nil)
}

// budgetKey is what the e-mail budget is kept under: a keyed hash of the
// e-mail key, so the store names no address, not even one without an
// account. Only the current key's: a budget under an older secret starts
// afresh when the secret rotates, which costs a sender one more window.
func (k *LinkKey) budgetKey(emailKey string) []byte {
	m := hmac.New(sha256.New, k.keys[0].mac)
	m.Write([]byte("budget\x00" + emailKey))
	return m.Sum(nil)
}

// seal encrypts a queued mail's payload (it carries the link's token),
// bound to the mail's id, under the current key.
func (k *LinkKey) seal(mailID string, plaintext []byte) ([]byte, error) {
	aead := k.keys[0].aead
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal mail: %w", err)
	}
	return aead.Seal(nonce, nonce, plaintext, []byte(mailID)), nil
}

// errSealed is a payload that opens under none of the keys.
var errSealed = errors.New("mail payload does not open under this link key")

func (k *LinkKey) open(mailID string, sealed []byte) ([]byte, error) {
	for _, sub := range k.keys {
		n := sub.aead.NonceSize()
		if len(sealed) < n {
			return nil, errSealed
		}
		if out, err := sub.aead.Open(nil, sealed[:n], sealed[n:], []byte(mailID)); err == nil {
			return out, nil
		}
	}
	return nil, errSealed
}
