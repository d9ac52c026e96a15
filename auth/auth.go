// Package auth is tokengate's domain core: users, sessions, the token rules,
// the error codes, and the Store it needs. It imports no other tokengate
// package; the token codec, the stores, the middleware and both API edges
// all point at it.
package auth

import "time"

// Clock returns the current time. Everything that compares against "now"
// takes one, so expiry is tested without waiting.
type Clock func() time.Time

// User is an account. PasswordHash and TokenVersion never leave the domain.
type User struct {
	ID           string
	Email        string
	Name         string
	PasswordHash []byte
	// TokenVersion is the user's token counter. Every refresh token carries
	// the value it was issued under; incrementing it ends every session.
	TokenVersion int64
	CreatedAt    time.Time
	// EmailVerified is set once a link sent to Email was followed
	// (verifyEmail, or a password reset, which proves the mailbox too).
	EmailVerified bool
}

// Session is one signed-in device. Its Generation advances at every
// refresh-token rotation; a refresh token is good only for the generation it
// names (or, within the grace window, the one just before).
type Session struct {
	ID         string
	UserID     string
	Generation int64
	CreatedAt  time.Time
	LastUsedAt time.Time
	// RotatedAt is when Generation last advanced; the grace window for the
	// previous generation is measured from it.
	RotatedAt time.Time
	// ExpiresAt slides forward at every rotation, never past MaxExpiresAt.
	ExpiresAt    time.Time
	MaxExpiresAt time.Time
	// RevokedAt is the zero time while the session is not revoked.
	RevokedAt time.Time
	UserAgent string
	IP        string
}

// Live reports whether the session can still be refreshed at now.
func (s Session) Live(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt) && now.Before(s.MaxExpiresAt)
}

// Tokens is what a sign-in, a refresh or a password change hands the client.
type Tokens struct {
	AccessToken           string
	RefreshToken          string
	AccessTokenExpiresAt  time.Time
	RefreshTokenExpiresAt time.Time
	User                  User
	// SessionID is the session the tokens belong to.
	SessionID string
}

// AccessClaims are the verified contents of an access token.
type AccessClaims struct {
	UserID    string
	SessionID string
	// TokenVersion is the user's token counter when the token was issued
	// (the ver claim), for the revocation view to compare.
	TokenVersion int64
	ExpiresAt    time.Time
}

// RefreshClaims are the verified contents of a refresh token.
type RefreshClaims struct {
	UserID       string
	SessionID    string
	TokenVersion int64
	Generation   int64
	ExpiresAt    time.Time
}

// TokenCodec issues and verifies the two kinds of token. Verification
// errors are *Error values with code UNAUTHENTICATED and reason
// TOKEN_EXPIRED or TOKEN_INVALID. Implementations do no I/O.
type TokenCodec interface {
	IssueAccess(userID, sessionID string, tokenVersion int64) (token string, expiresAt time.Time, err error)
	IssueRefresh(c RefreshClaims) (string, error)
	VerifyAccess(raw string) (AccessClaims, error)
	// AccessLapsed reports, without checking the signature, whether raw is
	// an access token past its exp, which no signature could make valid.
	AccessLapsed(raw string) bool
	VerifyRefresh(raw string) (RefreshClaims, error)
}

// Limiter is one keyed budget of attempts (per account, per IP, per
// session). Check does not spend; Spend does. Both return how long until
// the key has budget again when it has none.
type Limiter interface {
	Check(key string) (retryAfter time.Duration, ok bool)
	Spend(key string) (retryAfter time.Duration, ok bool)
}
