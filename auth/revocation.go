package auth

import (
	"context"
	"math"
	"time"
)

// DeletedVersion is the MinVersion of a revocation that ends every token of
// a user whatever its counter: the user was deleted.
const DeletedVersion int64 = math.MaxInt64

// Revocation is one entry of the store's revocation log: a session that
// ended (SessionID set), or a user whose tokens below MinVersion stopped
// being valid (SessionID empty). At is when it happened; an access token
// issued before At expires by At + ACCESS_TOKEN_TTL + leeway, after which
// the entry cannot matter any more.
type Revocation struct {
	SessionID  string
	UserID     string
	MinVersion int64
	At         time.Time
}

// RevocationSink receives revocations: the in-memory revocation view
// implements it, and whatever feeds the view (the PostgreSQL listener, the
// SQLite follower, the Service itself) calls it. Its methods are safe to
// call concurrently and never block on I/O.
type RevocationSink interface {
	// RevokeSession records that sessionID ended at at.
	RevokeSession(sessionID string, at time.Time)
	// RevokeUser records that the user's tokens with a counter below
	// minVersion stopped being valid at at (DeletedVersion: all of them).
	RevokeUser(userID string, minVersion int64, at time.Time)
	// UserChanged says the user's row changed (or was deleted), so a copy
	// of it held in memory is out of date.
	UserChanged(userID string)
	// Confirm records that every revocation the store had committed at
	// asOf has been delivered.
	Confirm(asOf time.Time)
}

// RevocationCursor is where a reader of the revocation log stopped; each
// store gives it its own meaning. The zero cursor reads from the start.
type RevocationCursor int64

// RevocationLog is the store's record of revocations, written by the store
// in the same transaction as the change that caused it (on both stores by
// triggers, so every path that ends a session or raises a counter feeds
// it). Errors are STORE_UNAVAILABLE (see Unavailable) or internal.
type RevocationLog interface {
	// ReadRevocations calls fn with each revocation at or after since that
	// the log may hold past cursor, oldest first, and returns the cursor to
	// pass next time (on error, the cursor it was given). It may deliver an
	// entry again; applying one twice is harmless. Every revocation
	// committed before the call is delivered by it or was by an earlier
	// call. fn must not block.
	ReadRevocations(ctx context.Context, cursor RevocationCursor, since time.Time, fn func(Revocation)) (RevocationCursor, error)
	// PruneRevocations deletes entries older than cutoff (now minus the
	// access-token lifetime and leeway) and returns how many went.
	PruneRevocations(ctx context.Context, cutoff time.Time) (int64, error)
	// AccessRevoked is the access path's check when the view cannot vouch
	// for itself: one indexed read that reports whether sessionID has
	// ended, or its user's counter has passed ver, or either is gone.
	AccessRevoked(ctx context.Context, sessionID string, ver int64) (bool, error)
}

// RevocationChecker is what the access path asks about a verified access
// token before trusting it. Implementations do no I/O unless their view
// is stale.
type RevocationChecker interface {
	// CheckAccess returns nil when the token's session and counter are
	// not revoked, or Unauthenticated(ReasonSessionRevoked) when they are.
	CheckAccess(ctx context.Context, userID, sessionID string, ver int64) error
}
