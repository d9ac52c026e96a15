package teststores_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/internal/teststores"
)

// losingStore is a real store that can lose rotations the way a crash
// does: the client is answered as if the rotation had committed, and the
// store keeps the generation it had.
type losingStore struct {
	auth.Store
	mu   sync.Mutex
	lose int // how many of the next rotations to lose
}

func (l *losingStore) RotateSession(ctx context.Context, r auth.Rotation) (auth.Rotated, bool, error) {
	l.mu.Lock()
	lose := l.lose > 0
	if lose {
		l.lose--
	}
	l.mu.Unlock()
	if !lose {
		return l.Store.RotateSession(ctx, r)
	}
	// What the statement would have returned had its commit survived.
	sess, u, err := l.Store.SessionState(ctx, r.SessionID)
	if err != nil {
		return auth.Rotated{}, false, err
	}
	sess.Generation = r.Generation + 1
	sess.RotatedAt, sess.LastUsedAt = r.Now, r.Now
	sess.ExpiresAt = r.ExpiresAt
	if sess.MaxExpiresAt.Before(sess.ExpiresAt) {
		sess.ExpiresAt = sess.MaxExpiresAt
	}
	return auth.Rotated{Session: sess, User: u}, true, nil
}

func (l *losingStore) loseNext(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lose = n
}

// signups keeps the accounts of the subtests on one store apart.
var signups int

// lostStack is the domain over st with rotations that can be lost, and a
// signed-up user's first tokens.
func lostStack(t *testing.T, st auth.Store) (*testserver.Stack, *losingStore, auth.Tokens) {
	t.Helper()
	losing := &losingStore{Store: st}
	s := testserver.NewStack(t, testserver.Options{Store: losing})
	signups++
	return s, losing, s.SignUp(t, fmt.Sprintf("ada%d@example.com", signups))
}

func rotate(t *testing.T, s *testserver.Stack, tok auth.Tokens) auth.Tokens {
	t.Helper()
	next, err := s.Service.Rotate(context.Background(), tok.RefreshToken)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	return next
}

func generation(t *testing.T, s *testserver.Stack, tok auth.Tokens) int64 {
	t.Helper()
	c, err := s.Codec.VerifyRefresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("VerifyRefresh: %v", err)
	}
	return c.Generation
}

func wantReason(t *testing.T, what string, err error, reason auth.Reason) {
	t.Helper()
	var e *auth.Error
	if !errors.As(err, &e) || e.Code != auth.CodeUnauthenticated || e.Reason != reason {
		t.Errorf("%s: got %v, want UNAUTHENTICATED (%s)", what, err, reason)
	}
}

// The lost-rotation rule, through the domain: what a client sees after a
// crash lost the rotation that gave it its refresh token.
func TestLostRotation(t *testing.T) {
	teststores.Each(t, func(t *testing.T, st auth.Store) {
		t.Run("a token one generation ahead is current", func(t *testing.T) {
			s, losing, t0 := lostStack(t, st)
			losing.loseNext(1)
			t1 := rotate(t, s, t0) // the store lost this one
			s.Clock.Advance(time.Minute)
			t2 := rotate(t, s, t1)
			if g0, g2 := generation(t, s, t0), generation(t, s, t2); g2 != g0+2 {
				t.Errorf("generation after the recovered rotation = %d, want %d", g2, g0+2)
			}
			s.Clock.Advance(time.Minute)
			rotate(t, s, t2)
		})
		t.Run("a token two generations ahead is TOKEN_INVALID and ends nothing", func(t *testing.T) {
			s, losing, t0 := lostStack(t, st)
			losing.loseNext(2)
			t2 := rotate(t, s, rotate(t, s, t0))
			s.Clock.Advance(time.Minute)
			_, err := s.Service.Rotate(context.Background(), t2.RefreshToken)
			wantReason(t, "two ahead", err, auth.ReasonTokenInvalid)
			// The store's own generation still rotates: nothing was revoked.
			rotate(t, s, t0)
		})
		t.Run("an older token after the recovery is reuse and ends the session", func(t *testing.T) {
			s, losing, t0 := lostStack(t, st)
			losing.loseNext(1)
			t1 := rotate(t, s, t0)
			s.Clock.Advance(time.Minute)
			t2 := rotate(t, s, t1)
			s.Clock.Advance(time.Minute) // past the grace window
			_, err := s.Service.Rotate(context.Background(), t0.RefreshToken)
			wantReason(t, "the generation the store had lost back to", err, auth.ReasonRefreshReused)
			_, err = s.Service.Rotate(context.Background(), t2.RefreshToken)
			wantReason(t, "the current token after the reuse", err, auth.ReasonSessionRevoked)
		})
		t.Run("the recovered token again within the grace window gets the current generation", func(t *testing.T) {
			s, losing, t0 := lostStack(t, st)
			losing.loseNext(1)
			t1 := rotate(t, s, t0)
			s.Clock.Advance(time.Minute)
			t2 := rotate(t, s, t1)
			s.Clock.Advance(time.Second) // within REFRESH_REUSE_GRACE
			again := rotate(t, s, t1)
			if g, want := generation(t, s, again), generation(t, s, t2); g != want {
				t.Errorf("grace answer carries generation %d, want the current %d", g, want)
			}
			s.Clock.Advance(time.Minute)
			_, err := s.Service.Rotate(context.Background(), t1.RefreshToken)
			wantReason(t, "the recovered token outside the grace window", err, auth.ReasonRefreshReused)
		})
	})
}
