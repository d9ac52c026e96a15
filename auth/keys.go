package auth

import (
	"context"
	"time"
)

// SigningKey is one access-token signing key as the store keeps it. Its
// state (next, current, previous, retired) is not stored: it follows from
// its times and those of the other keys, so every instance reading the same
// rows at the same time agrees on it without coordination (see KeyStates).
type SigningKey struct {
	// ID is the key's kid: its RFC 7638 JWK thumbprint.
	ID string
	// Alg is the JOSE algorithm the key signs with (ES256, EdDSA, RS256).
	Alg string
	// Public is the public key, PKIX DER.
	Public []byte
	// SealedPrivate is the private key (PKCS #8 DER) sealed with AES-256-GCM
	// under KEY_ENCRYPTION_KEY; the store never sees it in the clear.
	SealedPrivate []byte
	CreatedAt     time.Time
	// ActivatesAt is when the key starts to sign. Before it the key is next;
	// from it until a later key activates, current.
	ActivatesAt time.Time
	// RetiredAt is when the key was taken out of the set by an operator (or
	// by the schedule); the zero time while it is not.
	RetiredAt time.Time
}

// KeyChanges is what one locked step of the key schedule writes: new keys,
// and for existing keys (by ID) a new ActivatesAt or RetiredAt.
type KeyChanges struct {
	Insert []SigningKey
	// Activate sets ActivatesAt of existing keys, by ID.
	Activate map[string]time.Time
	// Retire sets RetiredAt of existing keys, by ID.
	Retire map[string]time.Time
}

// Empty reports whether the changes write nothing.
func (c KeyChanges) Empty() bool {
	return len(c.Insert) == 0 && len(c.Activate) == 0 && len(c.Retire) == 0
}

// KeyStore keeps the signing keys. Every instance on one database reads
// the same schedule from it.
type KeyStore interface {
	// SigningKeys returns every stored key, retired ones included, oldest
	// ActivatesAt first. STORE_UNAVAILABLE when the database cannot be
	// reached.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// ChangeSigningKeys runs decide on the keys as they are inside one
	// exclusive section (an advisory lock on PostgreSQL, the write lock on
	// SQLite) and writes the changes it returns, so two instances deciding
	// at once never both create a key: the second sees the first's. decide
	// may be called with the keys of another instance's finished step; its
	// error aborts the step unchanged. Other instances are told of a
	// non-empty change (NOTIFY on PostgreSQL). STORE_UNAVAILABLE when the
	// database cannot be reached; NOT_FOUND for an unknown ID in the
	// changes.
	ChangeSigningKeys(ctx context.Context, decide func(keys []SigningKey) (KeyChanges, error)) error
}

// KeyWatcher is implemented by a KeyStore that can tell an instance when
// another one changed the keys (PostgreSQL's LISTEN). WatchSigningKeys
// calls changed after every change until ctx ends; it returns ctx's error,
// or another when it cannot listen (the caller then falls back to polling).
type KeyWatcher interface {
	WatchSigningKeys(ctx context.Context, changed func()) error
}
