package auth

import (
	"context"
	"time"
)

// UserCache is the per-instance copy of users this instance signed in,
// refreshed or served, from which the caller's own account is answered
// while the store is down (API.md section 9). A ticket taken before a
// store read makes Put refuse the copy if the user changed or was deleted
// in between, so a deleted user is never served.
type UserCache interface {
	Ticket() uint64
	Put(u User, ticket uint64) bool
	Get(id string) (User, bool)
}

// WithRevocation makes the Service check every access token against
// checker (the instance's revocation view: a map lookup, no I/O while the
// view is current) and report every revocation it makes to sink, so the
// view of this instance refuses the ended tokens at once; users, which may
// be nil, keeps copies of the users it serves.
func WithRevocation(checker RevocationChecker, sink RevocationSink, users UserCache) Option {
	return func(s *Service) {
		s.revChecker, s.revSink, s.users = checker, sink, users
	}
}

// Authenticate is the access path: the token's signature and claims, then
// the revocation view. A revoked token is UNAUTHENTICATED with reason
// SESSION_REVOKED, so the middleware goes on to the refresh token.
func (s *Service) Authenticate(ctx context.Context, raw string) (AccessClaims, error) {
	c, err := s.tokens.VerifyAccess(raw)
	if err != nil {
		return AccessClaims{}, err
	}
	if s.revChecker != nil {
		if err := s.revChecker.CheckAccess(ctx, c.UserID, c.SessionID, c.TokenVersion); err != nil {
			return AccessClaims{}, err
		}
	}
	return c, nil
}

// AccessLapsed reports whether raw is an access token past its expiry,
// read without its signature (TokenCodec.AccessLapsed): the middleware
// skips verifying one when a refresh token decides the request anyway.
func (s *Service) AccessLapsed(raw string) bool { return s.tokens.AccessLapsed(raw) }

// sessionEnded tells the view that a session ended, so its access tokens
// are refused on this instance at once (the store's log brings it to the
// others).
func (s *Service) sessionEnded(sessionID string, at time.Time) {
	if s.revSink != nil {
		s.revSink.RevokeSession(sessionID, at)
	}
}

// userRevoked tells the view that the user's tokens with a counter below
// minVersion are no longer valid (DeletedVersion: none of them).
func (s *Service) userRevoked(userID string, minVersion int64, at time.Time) {
	if s.revSink != nil {
		s.revSink.RevokeUser(userID, minVersion, at)
		s.revSink.UserChanged(userID)
	}
}

// userChanged says a user's row changed without revoking anything (an
// address verified), so this instance's copy of it is dropped; other
// instances hear it from the store.
func (s *Service) userChanged(userID string) {
	if s.revSink != nil {
		s.revSink.UserChanged(userID)
	}
}

// knownRevoked reports, from the view, that a refresh token's session or
// counter is revoked, so its refresh needs no store write.
func (s *Service) knownRevoked(ctx context.Context, c RefreshClaims) bool {
	return s.revChecker != nil && s.revChecker.CheckAccess(ctx, c.UserID, c.SessionID, c.TokenVersion) != nil
}

// userTicket is taken before a read of the user; remember keeps the copy
// read after it.
func (s *Service) userTicket() uint64 {
	if s.users == nil {
		return 0
	}
	return s.users.Ticket()
}

func (s *Service) remember(u User, ticket uint64) {
	if s.users != nil {
		s.users.Put(u, ticket)
	}
}
