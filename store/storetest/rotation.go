package storetest

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
)

func testRotate(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	now := Base.Add(time.Hour)
	r := rotation(u, sess, now)
	got := mustRotate(t, s, r)

	want := sess
	want.Generation = sess.Generation + 1
	want.RotatedAt, want.LastUsedAt = now, now
	want.ExpiresAt = r.ExpiresAt
	want.UserAgent, want.IP = r.UserAgent, r.IP
	equalSession(t, "rotated session", got.Session, want)
	equalUser(t, "rotated user", got.User, u)

	// What was returned is what was stored.
	state, stateUser := mustState(t, s, sess.ID)
	equalSession(t, "stored session", state, want)
	equalUser(t, "stored user", stateUser, u)
}

func testRotateCapsExpiry(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	// Near the end of its absolute lifetime: still live, but a full
	// refresh TTL from now would pass MaxExpiresAt.
	sess := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.ExpiresAt = s.MaxExpiresAt.Add(-30 * time.Minute) })
	now := sess.MaxExpiresAt.Add(-time.Hour)
	got := mustRotate(t, s, rotation(u, sess, now))
	if !got.Session.ExpiresAt.Equal(sess.MaxExpiresAt) {
		t.Errorf("ExpiresAt = %v, want MaxExpiresAt %v", got.Session.ExpiresAt, sess.MaxExpiresAt)
	}
	if !got.Session.MaxExpiresAt.Equal(sess.MaxExpiresAt) {
		t.Errorf("MaxExpiresAt = %v, want it unchanged at %v", got.Session.MaxExpiresAt, sess.MaxExpiresAt)
	}
}

func testRotateKeepsClient(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	r := rotation(u, sess, Base.Add(time.Minute))
	r.UserAgent, r.IP = "", ""
	got := mustRotate(t, s, r)
	if got.Session.UserAgent != sess.UserAgent || got.Session.IP != sess.IP {
		t.Errorf("user agent %q, IP %q; want them kept as %q, %q", got.Session.UserAgent, got.Session.IP, sess.UserAgent, sess.IP)
	}
	// Only one of them given: only that one changes.
	r = rotation(u, got.Session, Base.Add(2*time.Minute))
	r.UserAgent = ""
	got = mustRotate(t, s, r)
	if got.Session.UserAgent != sess.UserAgent || got.Session.IP != r.IP {
		t.Errorf("user agent %q, IP %q; want %q, %q", got.Session.UserAgent, got.Session.IP, sess.UserAgent, r.IP)
	}
}

func testRotateChain(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	first := mustRotate(t, s, rotation(u, sess, Base.Add(time.Minute)))
	second := mustRotate(t, s, rotation(u, first.Session, Base.Add(2*time.Minute)))
	if second.Session.Generation != sess.Generation+2 {
		t.Errorf("generation after two rotations = %d, want %d", second.Session.Generation, sess.Generation+2)
	}
	for _, old := range []auth.Session{sess, first.Session} {
		_, ok, err := s.RotateSession(t.Context(), rotation(u, old, Base.Add(3*time.Minute)))
		if ok || err != nil {
			t.Errorf("RotateSession of used generation %d = ok %v, err %v; want false, nil", old.Generation, ok, err)
		}
	}
}

func testRotateConcurrent(t *testing.T, s auth.Store) {
	const callers = 20
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.Generation = 7 })
	r := rotation(u, sess, Base.Add(time.Minute))

	var (
		wins  atomic.Int64
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, callers)
	)
	for range callers {
		wg.Go(func() {
			<-start
			_, ok, err := s.RotateSession(t.Context(), r)
			if err != nil {
				errs <- err
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent RotateSession: %v", err)
	}
	if n := wins.Load(); n != 1 {
		t.Errorf("%d of %d concurrent rotations succeeded, want exactly 1", n, callers)
	}
	state, _ := mustState(t, s, sess.ID)
	if state.Generation != sess.Generation+1 {
		t.Errorf("final generation = %d, want %d", state.Generation, sess.Generation+1)
	}
}

// refusal is one way a rotation must fail: change turns an allowed rotation
// into a refused one, after setup has prepared the store.
type refusal struct {
	name   string
	setup  func(t testing.TB, s auth.Store, u auth.User, sess auth.Session)
	change func(r *auth.Rotation, other auth.User)
}

func refusals() []refusal {
	return []refusal{
		{name: "an older generation", change: func(r *auth.Rotation, _ auth.User) { r.Generation-- }},
		// One ahead is a lost rotation (testRotateLost); two ahead was never
		// issued for this store's state.
		{name: "a generation two ahead", change: func(r *auth.Rotation, _ auth.User) { r.Generation += 2 }},
		{name: "a generation three ahead", change: func(r *auth.Rotation, _ auth.User) { r.Generation += 3 }},
		{name: "a lower token version", change: func(r *auth.Rotation, _ auth.User) { r.TokenVersion-- }},
		{name: "a higher token version", change: func(r *auth.Rotation, _ auth.User) { r.TokenVersion++ }},
		{name: "a revoked session",
			setup: func(t testing.TB, s auth.Store, _ auth.User, sess auth.Session) {
				t.Helper()
				if err := s.EndSession(t.Context(), sess.ID, Base.Add(time.Second)); err != nil {
					t.Fatalf("EndSession: %v", err)
				}
			}},
		{name: "a session expiring exactly at now", change: func(r *auth.Rotation, _ auth.User) { r.Now = Base.Add(refreshTTL) }},
		{name: "an expired session", change: func(r *auth.Rotation, _ auth.User) { r.Now = Base.Add(refreshTTL + time.Hour) }},
		{name: "another user's session", change: func(r *auth.Rotation, other auth.User) { r.UserID = other.ID }},
		{name: "an unknown session", change: func(r *auth.Rotation, _ auth.User) { r.SessionID = "no-such-session" }},
		{name: "a stale token version after RevokeUser",
			setup: func(t testing.TB, s auth.Store, u auth.User, sess auth.Session) {
				t.Helper()
				// A new session after the revocation, so the refusal can only
				// come from the counter.
				if err := s.RevokeUser(t.Context(), u.ID, Base.Add(time.Second)); err != nil {
					t.Fatalf("RevokeUser: %v", err)
				}
				if err := s.CreateSession(t.Context(), auth.Session{
					ID: sess.ID + "-after", UserID: u.ID, Generation: sess.Generation,
					CreatedAt: Base.Add(2 * time.Second), LastUsedAt: Base, RotatedAt: Base,
					ExpiresAt: sess.ExpiresAt, MaxExpiresAt: sess.MaxExpiresAt,
				}, 0); err != nil {
					t.Fatalf("CreateSession: %v", err)
				}
			},
			change: func(r *auth.Rotation, _ auth.User) { r.SessionID += "-after" }},
	}
}

// lostRefusals are the refusals again for a token one generation ahead:
// the lost-rotation rule relaxes the generation and nothing else.
func lostRefusals() []refusal {
	var out []refusal
	for _, c := range refusals() {
		if strings.Contains(c.name, "generation") {
			continue
		}
		change := c.change
		c.name += ", one generation ahead"
		c.change = func(r *auth.Rotation, other auth.User) {
			r.Generation++
			if change != nil {
				change(r, other)
			}
		}
		out = append(out, c)
	}
	return out
}

func testRotateRefused(t *testing.T, s auth.Store, c refusal) {
	u := newUser(t, s, "")
	other := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.Generation = 5 })
	theirs := newSession(t, s, other.ID, Base)
	if c.setup != nil {
		c.setup(t, s, u, sess)
	}
	r := rotation(u, sess, Base.Add(time.Hour))
	if c.change != nil {
		c.change(&r, other)
	}
	users := []string{u.ID, other.ID}
	sessions := []string{sess.ID, sess.ID + "-after", theirs.ID}
	before := snapshot(t, s, users, sessions)

	got, ok, err := s.RotateSession(t.Context(), r)
	if ok || err != nil {
		t.Fatalf("RotateSession = %+v, ok %v, err %v; want ok false and a nil error", got, ok, err)
	}
	if after := snapshot(t, s, users, sessions); !reflect.DeepEqual(after, before) {
		t.Errorf("a refused rotation changed the store:\n before %+v\n after  %+v", before, after)
	}
}

// stored is what the store holds about some users and sessions.
type stored struct {
	Users    []auth.User
	Sessions []auth.Session
}

// snapshot reads the given users and sessions; a session that does not
// exist is left out, so callers may name ids that only some cases create.
func snapshot(t testing.TB, s auth.Store, userIDs, sessionIDs []string) stored {
	t.Helper()
	var out stored
	for _, id := range userIDs {
		out.Users = append(out.Users, mustUser(t, s, id))
	}
	for _, id := range sessionIDs {
		sess, _, err := s.SessionState(t.Context(), id)
		switch {
		case errors.Is(err, auth.ErrNotFound):
		case err != nil:
			t.Fatalf("SessionState(%s): %v", id, err)
		default:
			out.Sessions = append(out.Sessions, sess)
		}
	}
	return out
}
