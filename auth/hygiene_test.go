package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/pgtest"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/store/postgres"
	"github.com/tokengate/tokengate/store/sqlite"
)

// onEachStore runs fn with a service over SQLite in memory and over a fresh
// PostgreSQL database, with policy tuned by tweak and an injected clock.
func onEachStore(t *testing.T, tweak func(*auth.Policy), fn func(t *testing.T, s *testserver.Stack)) {
	t.Helper()
	run := func(t *testing.T, st auth.Store) {
		p := auth.DefaultPolicy()
		p.BcryptCost = bcrypt.MinCost
		tweak(&p)
		fn(t, testserver.NewStack(t, testserver.Options{Store: st, Policy: &p}))
	}
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		run(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		run(t, st)
	})
}

func as(t auth.Tokens) context.Context {
	return auth.NewContextWithCaller(context.Background(), auth.Caller{UserID: t.User.ID, SessionID: t.SessionID})
}

// pruneRetention is the retention run.go's background job prunes with.
const pruneRetention = 24 * time.Hour

// TestPruningDeletesOnlySessionsEndedLongAgo runs the background job's
// operation (Service.PruneSessions with the job's retention) over a
// timeline of sessions ending in every way, on an injected clock.
func TestPruningDeletesOnlySessionsEndedLongAgo(t *testing.T) {
	onEachStore(t, func(*auth.Policy) {}, func(t *testing.T, s *testserver.Stack) {
		ctx := context.Background()
		prune := func(want int64, gone, kept map[string]auth.Tokens) {
			t.Helper()
			n, err := s.Service.PruneSessions(ctx, pruneRetention)
			if err != nil || n != want {
				t.Errorf("pruned %d sessions (%v), want %d", n, err, want)
			}
			for name, tok := range gone {
				if _, _, err := s.Store.SessionState(ctx, tok.SessionID); !errors.Is(err, auth.ErrNotFound) {
					t.Errorf("%s session: %v, want it pruned", name, err)
				}
			}
			for name, tok := range kept {
				if _, _, err := s.Store.SessionState(ctx, tok.SessionID); err != nil {
					t.Errorf("%s session: %v, want it kept", name, err)
				}
			}
		}

		loggedOut := s.SignUp(t, "ada@example.com")
		expiring := s.SignIn(t, "ada@example.com") // never refreshed: ends at +168h
		revokedWithUser := s.SignUp(t, "bob@example.com")
		if err := s.Service.Logout(as(loggedOut)); err != nil {
			t.Fatal(err)
		}
		if err := s.Service.LogoutAll(as(revokedWithUser)); err != nil {
			t.Fatal(err)
		}
		s.Clock.Advance(time.Hour)
		prune(0, nil, map[string]auth.Tokens{"logged out 1h ago": loggedOut, "revoked with its user 1h ago": revokedWithUser})

		s.Clock.Advance(time.Hour) // +2h
		recentlyEnded := s.SignIn(t, "ada@example.com")
		s.Clock.Advance(23 * time.Hour) // +25h
		if err := s.Service.Logout(as(recentlyEnded)); err != nil {
			t.Fatal(err)
		}
		s.Clock.Advance(30 * time.Minute) // +25h30m
		prune(2,
			map[string]auth.Tokens{"logged out 25h30m ago": loggedOut, "revoked with its user 25h30m ago": revokedWithUser},
			map[string]auth.Tokens{"live until +168h": expiring, "logged out 30m ago": recentlyEnded})
		// The refresh token of a pruned session is still well signed and
		// unexpired: it is refused as revoked, never an internal error.
		if _, err := s.Service.Rotate(ctx, loggedOut.RefreshToken); auth.ErrorOf(err).Reason != auth.ReasonSessionRevoked {
			t.Errorf("refresh of a pruned session: %v, want SESSION_REVOKED", err)
		}

		s.Clock.Advance(164*time.Hour + 30*time.Minute) // +190h
		live := s.SignIn(t, "ada@example.com")
		s.Clock.Advance(3 * time.Hour) // +193h: expiring ended 25h ago
		prune(2,
			map[string]auth.Tokens{"expired 25h ago": expiring, "logged out 168h ago": recentlyEnded},
			map[string]auth.Tokens{"live": live})
		if _, err := s.Service.Rotate(ctx, live.RefreshToken); err != nil {
			t.Errorf("refresh of the live session after pruning: %v", err)
		}
		// Accounts are never pruned.
		for _, email := range []string{"ada@example.com", "bob@example.com"} {
			if _, err := s.Store.UserByEmail(ctx, email); err != nil {
				t.Errorf("user %s after pruning: %v", email, err)
			}
		}
	})
}

// TestLiveSessionsAreCappedOldestFirst signs one user in more often than
// the cap allows: the oldest sessions end, the newest stay, and another
// user's sessions are untouched.
func TestLiveSessionsAreCappedOldestFirst(t *testing.T) {
	const limit = 3
	onEachStore(t, func(p *auth.Policy) { p.MaxSessionsPerUser = limit }, func(t *testing.T, s *testserver.Stack) {
		ctx := context.Background()
		other := s.SignUp(t, "bob@example.com")
		signIns := []auth.Tokens{s.SignUp(t, "ada@example.com")}
		for range limit + 1 {
			s.Clock.Advance(time.Minute)
			signIns = append(signIns, s.SignIn(t, "ada@example.com"))
		}
		newest := signIns[len(signIns)-1]
		list, err := s.Service.Sessions(as(newest))
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != limit {
			t.Fatalf("%d live sessions, want %d", len(list), limit)
		}
		for i, sess := range list {
			if want := signIns[len(signIns)-1-i].SessionID; sess.ID != want {
				t.Errorf("live session %d is %s, want %s (newest first)", i, sess.ID, want)
			}
		}
		for i, tok := range signIns {
			_, err := s.Service.Rotate(ctx, tok.RefreshToken)
			if ended := i < len(signIns)-limit; ended {
				if auth.ErrorOf(err).Reason != auth.ReasonSessionRevoked {
					t.Errorf("sign-in %d, beyond the cap: %v, want SESSION_REVOKED", i, err)
				}
			} else if err != nil {
				t.Errorf("sign-in %d, within the cap: %v", i, err)
			}
		}
		if _, err := s.Service.Rotate(ctx, other.RefreshToken); err != nil {
			t.Errorf("another user's session: %v", err)
		}
	})
}
