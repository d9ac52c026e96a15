package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Refresh is the explicit refresh operation (REST POST /auth/refresh,
// GraphQL refresh): it spends the client's per-IP budget, then rotates raw.
// The transports call it through edge.RefreshOnce, which keeps a request
// from being rotated twice.
func (s *Service) Refresh(ctx context.Context, raw string) (Tokens, error) {
	if raw == "" {
		return Tokens{}, Unauthenticated(ReasonTokenMissing)
	}
	if err := s.spend(BudgetIP, s.limits.IP, ipBudgetKey(ClientFromContext(ctx).IP)); err != nil {
		return Tokens{}, err
	}
	return s.Rotate(ctx, raw)
}

// Rotate verifies a refresh token, checks and advances its session in one
// store statement, and issues a new pair. Concurrent calls with the same
// token in this process share one store round trip and one result.
func (s *Service) Rotate(ctx context.Context, raw string) (Tokens, error) {
	claims, err := s.tokens.VerifyRefresh(raw)
	if err != nil {
		s.obs.Refresh(refreshFailure(err))
		return Tokens{}, err
	}
	client := ClientFromContext(ctx)
	v, err, _ := s.flights.Do(raw, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rotateTimeout)
		defer cancel()
		t, err := s.rotate(ctx, claims, client)
		if err != nil {
			s.obs.Refresh(refreshFailure(err))
		}
		return t, err
	})
	if err != nil {
		return Tokens{}, err
	}
	return v.(Tokens), nil
}

func (s *Service) rotate(ctx context.Context, claims RefreshClaims, client Client) (Tokens, error) {
	if err := s.check(BudgetRefresh, s.limits.Refresh, claims.SessionID); err != nil {
		return Tokens{}, err
	}
	if s.knownRevoked(ctx, claims) {
		// The view knows the session or the counter ended: no store write,
		// and the attempt still spends the session's budget.
		charge(s.limits.Refresh, claims.SessionID)
		s.obs.Refresh(refreshFailure(Unauthenticated(ReasonSessionRevoked)))
		return Tokens{}, Unauthenticated(ReasonSessionRevoked)
	}
	ticket := s.userTicket()
	now := s.now().UTC()
	r, ok, err := s.store.RotateSession(ctx, Rotation{
		SessionID:    claims.SessionID,
		UserID:       claims.UserID,
		TokenVersion: claims.TokenVersion,
		Generation:   claims.Generation,
		Now:          now,
		ExpiresAt:    now.Add(s.policy.RefreshTTL),
		UserAgent:    client.UserAgent,
		IP:           client.IP,
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("rotate session: %w", err)
	}
	if ok {
		// Checked before the statement; concurrent rotations may overdraw by
		// a few, which a budget tolerates.
		charge(s.limits.Refresh, claims.SessionID)
		s.obs.Refresh(RefreshRotated)
		s.remember(r.User, ticket)
		return s.issue(r.User, r.Session)
	}
	t, err := s.explainRotation(ctx, claims, now)
	if err != nil && ErrorOf(err).Code == CodeUnauthenticated {
		// A refused token spends the budget too, so replaying one costs the
		// store no more than the budget allows; a grace answer does not.
		charge(s.limits.Refresh, claims.SessionID)
	}
	return t, err
}

// explainRotation decides what a refused rotation was: the previous
// generation inside the grace window (answered with the current
// generation's tokens), reuse of an older one (the session is ended), or a
// revoked or expired session.
func (s *Service) explainRotation(ctx context.Context, claims RefreshClaims, now time.Time) (Tokens, error) {
	sess, u, err := s.store.SessionState(ctx, claims.SessionID)
	if errors.Is(err, ErrNotFound) {
		return Tokens{}, Unauthenticated(ReasonSessionRevoked)
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("explain rotation: %w", err)
	}
	switch {
	case sess.UserID != claims.UserID:
		return Tokens{}, Unauthenticated(ReasonTokenInvalid)
	case u.TokenVersion != claims.TokenVersion || !sess.RevokedAt.IsZero():
		return Tokens{}, Unauthenticated(ReasonSessionRevoked)
	case !sess.Live(now):
		return Tokens{}, Unauthenticated(ReasonTokenExpired)
	case claims.Generation == sess.Generation-1 && now.Sub(sess.RotatedAt) <= s.policy.ReuseGrace:
		s.obs.Refresh(RefreshGrace)
		return s.issue(u, sess)
	case claims.Generation < sess.Generation:
		if err := s.store.EndSession(ctx, sess.ID, now); err != nil {
			return Tokens{}, fmt.Errorf("end reused session: %w", err)
		}
		s.sessionEnded(sess.ID, now)
		s.log.WarnContext(ctx, "refresh token reused outside the grace window; session ended",
			"user", sess.UserID, "session", sess.ID, "generation", claims.Generation, "current", sess.Generation)
		return Tokens{}, Unauthenticated(ReasonRefreshReused)
	default:
		return Tokens{}, Unauthenticated(ReasonTokenInvalid)
	}
}

// Logout ends the caller's session. Ending an already ended session is not
// an error.
func (s *Service) Logout(ctx context.Context) error {
	c, err := RequireCaller(ctx)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	err = s.store.RevokeSession(ctx, c.UserID, c.SessionID, now)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("logout: %w", err)
	}
	s.sessionEnded(c.SessionID, now)
	return nil
}

// LogoutAll increments the caller's token counter: every refresh token
// issued before stops working, on every device.
func (s *Service) LogoutAll(ctx context.Context) error {
	c, err := RequireCaller(ctx)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if err := s.store.RevokeUser(ctx, c.UserID, now); err != nil {
		return fmt.Errorf("logout all: %w", err)
	}
	// The store raised the counter past the caller's; a bound from below is
	// enough here, and the log brings the exact one.
	s.userRevoked(c.UserID, c.TokenVersion+1, now)
	return nil
}

// RevokeSession ends one of the caller's sessions. A session that is not
// the caller's is NOT_FOUND, the same as one that does not exist.
func (s *Service) RevokeSession(ctx context.Context, sessionID string) error {
	c, err := RequireCaller(ctx)
	if err != nil {
		return err
	}
	if !plausibleID(sessionID) {
		// No session has such an id; asking the store would only make it
		// refuse the bytes (PostgreSQL's text type cannot hold a NUL).
		return &Error{Code: CodeNotFound, Message: "no such session"}
	}
	now := s.now().UTC()
	err = s.store.RevokeSession(ctx, c.UserID, sessionID, now)
	if errors.Is(err, ErrNotFound) {
		return &Error{Code: CodeNotFound, Message: "no such session", Err: err}
	}
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	s.sessionEnded(sessionID, now)
	return nil
}

// Sessions lists the caller's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context) ([]Session, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.store.ListSessions(ctx, c.UserID, s.now().UTC())
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return list, nil
}

// PruneSessions deletes sessions that ended more than retain ago.
func (s *Service) PruneSessions(ctx context.Context, retain time.Duration) (int64, error) {
	return s.store.PruneSessions(ctx, s.now().UTC().Add(-retain))
}

func (s *Service) startSession(ctx context.Context, u User) (Tokens, error) {
	now := s.now().UTC()
	client := ClientFromContext(ctx)
	maxExpiry := now.Add(s.policy.SessionMaxAge)
	sess := Session{
		ID:           uuid.NewString(),
		UserID:       u.ID,
		Generation:   1,
		CreatedAt:    now,
		LastUsedAt:   now,
		RotatedAt:    now,
		ExpiresAt:    earliest(now.Add(s.policy.RefreshTTL), maxExpiry),
		MaxExpiresAt: maxExpiry,
		UserAgent:    client.UserAgent,
		IP:           client.IP,
	}
	if err := s.store.CreateSession(ctx, sess, s.policy.MaxSessionsPerUser); err != nil {
		return Tokens{}, fmt.Errorf("create session: %w", err)
	}
	return s.issue(u, sess)
}

// issue signs a pair for the session's current generation. The refresh
// token expires with the session's sliding expiry.
func (s *Service) issue(u User, sess Session) (Tokens, error) {
	access, accessExp, err := s.tokens.IssueAccess(u.ID, sess.ID, u.TokenVersion)
	if err != nil {
		return Tokens{}, fmt.Errorf("issue access token: %w", err)
	}
	refresh, err := s.tokens.IssueRefresh(RefreshClaims{
		UserID:       u.ID,
		SessionID:    sess.ID,
		TokenVersion: u.TokenVersion,
		Generation:   sess.Generation,
		ExpiresAt:    sess.ExpiresAt,
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("issue refresh token: %w", err)
	}
	return Tokens{
		AccessToken:          access,
		RefreshToken:         refresh,
		AccessTokenExpiresAt: accessExp,
		// JWT times are whole seconds; report what the token says.
		RefreshTokenExpiresAt: sess.ExpiresAt.Truncate(time.Second),
		User:                  u,
		SessionID:             sess.ID,
	}, nil
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// plausibleID reports whether id could name a row: ids are printable
// UTF-8, never empty, never long.
func plausibleID(id string) bool {
	return id != "" && len(id) <= 128 && utf8.ValidString(id) && !strings.ContainsRune(id, 0)
}
