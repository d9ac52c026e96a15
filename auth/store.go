package auth

import (
	"context"
	"time"
)

// Store is the persistence the domain needs. Both stores (SQLite and
// PostgreSQL) implement it and pass the same contract suite
// (store/storetest). Errors are ErrNotFound, ErrEmailTaken or
// STORE_UNAVAILABLE (see Unavailable) where documented; anything else is an
// internal failure. Times are stored with at least microsecond precision and
// returned in UTC.
type Store interface {
	// CreateUser inserts u. It returns ErrEmailTaken when an account with the
	// same e-mail exists, compared by EmailKey.
	CreateUser(ctx context.Context, u User) error
	// UserByEmail finds a user by e-mail, compared by EmailKey, or returns
	// ErrNotFound.
	UserByEmail(ctx context.Context, email string) (User, error)
	// UserByID returns ErrNotFound when there is no such user.
	UserByID(ctx context.Context, id string) (User, error)
	// SetPasswordHash replaces a user's hash without touching the token
	// counter (a cost upgrade at sign-in), but only while the stored hash is
	// still oldHash: a password changed meanwhile must not be overwritten by
	// a re-hash of the old one. ErrNotFound when no user has that id and
	// that hash.
	SetPasswordHash(ctx context.Context, userID string, oldHash, newHash []byte) error
	// ChangePassword, in one transaction, replaces the hash, increments the
	// token counter, revokes every other session of the user, and advances
	// keep's generation (RotatedAt = now). It returns the updated user and
	// session; ErrNotFound when keep is not a live session of the user.
	ChangePassword(ctx context.Context, userID, keepSessionID string, hash []byte, now time.Time) (User, Session, error)
	// RevokeUser increments the user's token counter and revokes all of the
	// user's sessions, in one transaction. ErrNotFound for no such user.
	RevokeUser(ctx context.Context, userID string, now time.Time) error

	// CreateSession inserts s and, in the same transaction, revokes the
	// user's oldest live sessions beyond maxLive (0: no cap).
	CreateSession(ctx context.Context, s Session, maxLive int) error
	// RotateSession is the refresh check: ONE atomic statement that advances
	// the session's generation if and only if the user's token counter equals
	// r.TokenVersion, the session is the user's, is not revoked, has not
	// expired at r.Now, and its generation equals r.Generation or
	// r.Generation-1. It then sets the generation to r.Generation+1,
	// RotatedAt and LastUsedAt to r.Now, ExpiresAt to the earlier of
	// r.ExpiresAt and MaxExpiresAt, and UserAgent/IP when given. ok is false,
	// with a nil error, when any condition fails.
	//
	// r.Generation-1 is the lost-rotation rule: a token one generation ahead
	// of the store was issued by this server for a rotation the store then
	// lost (a crash before its commit reached disk), so it is current. A
	// store may therefore commit a rotation without waiting for the disk,
	// provided a crash can lose at most one rotation of any session; every
	// other write stays durable. A token two or more ahead never matches.
	RotateSession(ctx context.Context, r Rotation) (rotated Rotated, ok bool, err error)
	// SessionState explains a failed rotation: the session and its user (for
	// the current token counter). ErrNotFound for no such session.
	SessionState(ctx context.Context, sessionID string) (Session, User, error)
	// RevokeSession revokes one live session of userID. ErrNotFound when it
	// is not the user's or is no longer live.
	RevokeSession(ctx context.Context, userID, sessionID string, now time.Time) error
	// EndSession revokes a session whatever its owner; used when a reused
	// refresh token proves the session stolen. Revoking twice is not an error.
	EndSession(ctx context.Context, sessionID string, now time.Time) error
	// ListSessions returns the user's live sessions at now, newest first.
	ListSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// PruneSessions deletes sessions that expired or were revoked before
	// cutoff and returns how many went.
	PruneSessions(ctx context.Context, cutoff time.Time) (int64, error)

	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error
}

// Rotation is the input of Store.RotateSession.
type Rotation struct {
	SessionID    string
	UserID       string
	TokenVersion int64
	Generation   int64
	Now          time.Time
	ExpiresAt    time.Time
	UserAgent    string
	IP           string
}

// Rotated is what a successful rotation returns, read in the same statement.
type Rotated struct {
	Session Session
	User    User
}
