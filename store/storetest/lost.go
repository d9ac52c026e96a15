package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// lostCases are the suite's cases for the lost-rotation rule
// (auth.Store.RotateSession): a token one generation ahead of the store
// was issued for a rotation the store then lost, and is current.
func lostCases() []testCase {
	return []testCase{
		{"RotateSession accepts a token one generation ahead (a lost rotation) and moves past it", testRotateLost},
		{"RotateSession after a recovered lost rotation refuses the generations before it", testRotateLostThenOlder},
		{"RotateSession lets exactly one of 20 concurrent rotations of a lost generation succeed", testRotateLostConcurrent},
	}
}

// lose is what a client holds after a rotation the store lost: the same
// session, one generation on.
func lose(sess auth.Session) auth.Session {
	sess.Generation++
	return sess
}

func testRotateLost(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.Generation = 5 })
	now := Base.Add(time.Hour)
	r := rotation(u, lose(sess), now)
	got := mustRotate(t, s, r)

	want := sess
	want.Generation = 7 // the one after the token's, not after the store's
	want.RotatedAt, want.LastUsedAt = now, now
	want.ExpiresAt = r.ExpiresAt
	want.UserAgent, want.IP = r.UserAgent, r.IP
	equalSession(t, "rotated session", got.Session, want)
	equalUser(t, "rotated user", got.User, u)
	state, _ := mustState(t, s, sess.ID)
	equalSession(t, "stored session", state, want)

	// The new generation rotates as usual.
	next := mustRotate(t, s, rotation(u, got.Session, now.Add(time.Minute)))
	if next.Session.Generation != 8 {
		t.Errorf("generation after the next rotation = %d, want 8", next.Session.Generation)
	}
}

func testRotateLostThenOlder(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.Generation = 5 })
	mustRotate(t, s, rotation(u, lose(sess), Base.Add(time.Hour))) // now at 7
	// 6 (the lost one, now one behind) and 5 (the one the store had) are
	// both used: the domain treats them as grace or reuse, and neither
	// rotates again.
	for _, gen := range []int64{6, 5, 4} {
		old := sess
		old.Generation = gen
		if _, ok, err := s.RotateSession(t.Context(), rotation(u, old, Base.Add(2*time.Hour))); ok || err != nil {
			t.Errorf("RotateSession of generation %d with the store at 7 = ok %v, err %v; want refused", gen, ok, err)
		}
	}
	if state, _ := mustState(t, s, sess.ID); state.Generation != 7 {
		t.Errorf("generation = %d, want 7", state.Generation)
	}
}

func testRotateLostConcurrent(t *testing.T, s auth.Store) {
	const callers = 20
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.Generation = 7 })
	r := rotation(u, lose(sess), Base.Add(time.Minute))
	var (
		wins  atomic.Int64
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for range callers {
		wg.Go(func() {
			<-start
			_, ok, err := s.RotateSession(t.Context(), r)
			if err != nil {
				t.Errorf("concurrent RotateSession: %v", err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d of %d concurrent rotations succeeded, want exactly 1", n, callers)
	}
	if state, _ := mustState(t, s, sess.ID); state.Generation != 9 {
		t.Errorf("final generation = %d, want 9", state.Generation)
	}
}
