package storetest

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
)

func testCreateSessionRoundTrip(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	sess := auth.Session{
		ID:           nextID("session"),
		UserID:       u.ID,
		Generation:   17,
		CreatedAt:    Base.Add(-4 * time.Hour),
		LastUsedAt:   Base.Add(-3 * time.Hour),
		RotatedAt:    Base.Add(-2 * time.Hour),
		ExpiresAt:    Base.Add(5 * time.Hour),
		MaxExpiresAt: Base.Add(6 * time.Hour),
		RevokedAt:    Base.Add(-time.Hour),
		UserAgent:    "curl/8.5.0",
		IP:           "2001:db8::1",
	}
	if err := s.CreateSession(t.Context(), sess, 0); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got, gotUser := mustState(t, s, sess.ID)
	equalSession(t, "SessionState", got, sess)
	equalUser(t, "SessionState user", gotUser, u)

	// The zero RevokedAt means "not revoked" and must come back zero.
	live := newSession(t, s, u.ID, Base)
	got, _ = mustState(t, s, live.ID)
	equalSession(t, "SessionState of a live session", got, live)
}

func testSessionCap(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	var made []auth.Session
	for i := range 4 {
		sess := auth.Session{
			ID: nextID("session"), UserID: u.ID, Generation: 1,
			CreatedAt: Base.Add(time.Duration(i) * time.Minute), LastUsedAt: Base, RotatedAt: Base,
			ExpiresAt: Base.Add(refreshTTL), MaxExpiresAt: Base.Add(maxAge),
		}
		if err := s.CreateSession(t.Context(), sess, 3); err != nil {
			t.Fatalf("CreateSession %d: %v", i, err)
		}
		made = append(made, sess)
	}
	newest := made[3].CreatedAt
	got := ids(mustList(t, s, u.ID, newest))
	want := []string{made[3].ID, made[2].ID, made[1].ID}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("live sessions = %v, want %v", got, want)
	}
	oldest, _ := mustState(t, s, made[0].ID)
	if !oldest.RevokedAt.Equal(newest) {
		t.Errorf("oldest session RevokedAt = %v, want the new session's CreatedAt %v", oldest.RevokedAt, newest)
	}
}

func testNoSessionCap(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	for i := range 5 {
		newSession(t, s, u.ID, Base.Add(time.Duration(i)*time.Minute))
	}
	if got := mustList(t, s, u.ID, Base.Add(time.Hour)); len(got) != 5 {
		t.Errorf("live sessions = %d, want 5", len(got))
	}
}

func testSessionCapCountsLive(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	// The sessions that are over are newer than the live one: a cap that
	// counted them would revoke the live one.
	live := newSession(t, s, u.ID, Base)
	revoked := newSession(t, s, u.ID, Base.Add(time.Minute), func(s *auth.Session) { s.RevokedAt = Base.Add(time.Hour) })
	expired := newSession(t, s, u.ID, Base.Add(2*time.Minute), func(s *auth.Session) { s.ExpiresAt = Base.Add(time.Hour) })
	fresh := auth.Session{
		ID: nextID("session"), UserID: u.ID, Generation: 1,
		CreatedAt: Base.Add(2 * time.Hour), LastUsedAt: Base, RotatedAt: Base,
		ExpiresAt: Base.Add(refreshTTL), MaxExpiresAt: Base.Add(maxAge),
	}
	if err := s.CreateSession(t.Context(), fresh, 2); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got := ids(mustList(t, s, u.ID, fresh.CreatedAt))
	if want := []string{fresh.ID, live.ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("live sessions = %v, want %v", got, want)
	}
	// Sessions that were already over are not revoked (again) by the cap.
	for _, old := range []auth.Session{revoked, expired} {
		state, _ := mustState(t, s, old.ID)
		equalSession(t, "session the cap must not touch", state, old)
	}
}

func testSessionCapConcurrent(t *testing.T, s auth.Store) {
	const signIns, maxLive = 8, 3
	u := newUser(t, s, "")
	sessions := make([]auth.Session, signIns)
	for i := range sessions {
		sessions[i] = auth.Session{
			ID: nextID("session"), UserID: u.ID, Generation: 1,
			CreatedAt: Base.Add(time.Duration(i) * time.Minute), LastUsedAt: Base, RotatedAt: Base,
			ExpiresAt: Base.Add(refreshTTL), MaxExpiresAt: Base.Add(maxAge),
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, signIns)
	for _, sess := range sessions {
		wg.Go(func() {
			<-start
			if err := s.CreateSession(t.Context(), sess, maxLive); err != nil {
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent CreateSession: %v", err)
	}
	// Whatever order they ran in, each cap keeps the newest maxLive of what
	// is live, so the newest maxLive of all survive.
	got := ids(mustList(t, s, u.ID, Base.Add(time.Hour)))
	want := []string{sessions[7].ID, sessions[6].ID, sessions[5].ID}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("live sessions after concurrent sign-ins = %v, want %v", got, want)
	}
}

func testCreateSessionUnknownUser(t *testing.T, s auth.Store) {
	err := s.CreateSession(t.Context(), auth.Session{
		ID: nextID("session"), UserID: "no-such-user", Generation: 1,
		CreatedAt: Base, LastUsedAt: Base, RotatedAt: Base,
		ExpiresAt: Base.Add(refreshTTL), MaxExpiresAt: Base.Add(maxAge),
	}, 3)
	wantErr(t, "CreateSession", err, auth.ErrNotFound)
}

func testCreateSessionDuplicate(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	dup := sess
	dup.Generation = 99
	err := s.CreateSession(t.Context(), dup, 0)
	if err == nil || errors.Is(err, auth.ErrEmailTaken) || errors.Is(err, auth.ErrNotFound) {
		t.Errorf("CreateSession with an existing id: got error %v, want an internal error", err)
	}
	got, _ := mustState(t, s, sess.ID)
	equalSession(t, "the original session", got, sess)
}

func testSessionState(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	if err := s.RevokeUser(t.Context(), u.ID, Base.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeUser: %v", err)
	}
	got, gotUser := mustState(t, s, sess.ID)
	u.TokenVersion++
	equalUser(t, "SessionState user", gotUser, u)
	sess.RevokedAt = Base.Add(time.Minute)
	equalSession(t, "SessionState session", got, sess)
}

func testSessionStateEnded(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	revoked := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.RevokedAt = Base.Add(time.Minute) })
	expired := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.ExpiresAt = Base.Add(time.Minute) })
	for _, sess := range []auth.Session{revoked, expired} {
		got, _ := mustState(t, s, sess.ID)
		equalSession(t, "SessionState", got, sess)
	}
}

func testSessionStateUnknown(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	newSession(t, s, u.ID, Base)
	_, _, err := s.SessionState(t.Context(), "no-such-session")
	wantErr(t, "SessionState", err, auth.ErrNotFound)
}

func testRevokeSession(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	kept := newSession(t, s, u.ID, Base.Add(time.Second))
	now := Base.Add(time.Hour)
	if err := s.RevokeSession(t.Context(), u.ID, sess.ID, now); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	got, _ := mustState(t, s, sess.ID)
	sess.RevokedAt = now
	equalSession(t, "revoked session", got, sess)
	if list := ids(mustList(t, s, u.ID, now)); !reflect.DeepEqual(list, []string{kept.ID}) {
		t.Errorf("live sessions = %v, want only %v", list, kept.ID)
	}
	if _, ok, err := s.RotateSession(t.Context(), rotation(u, sess, now.Add(time.Second))); ok || err != nil {
		t.Errorf("RotateSession of a revoked session = ok %v, err %v; want false, nil", ok, err)
	}
}

func testRevokeSessionForeign(t *testing.T, s auth.Store) {
	owner := newUser(t, s, "")
	intruder := newUser(t, s, "")
	sess := newSession(t, s, owner.ID, Base)
	err := s.RevokeSession(t.Context(), intruder.ID, sess.ID, Base.Add(time.Hour))
	wantErr(t, "RevokeSession of another user's session", err, auth.ErrNotFound)
	got, _ := mustState(t, s, sess.ID)
	equalSession(t, "the owner's session", got, sess)
}

func testRevokeSessionRevoked(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	first := Base.Add(time.Minute)
	if err := s.RevokeSession(t.Context(), u.ID, sess.ID, first); err != nil {
		t.Fatalf("first RevokeSession: %v", err)
	}
	err := s.RevokeSession(t.Context(), u.ID, sess.ID, first.Add(time.Hour))
	wantErr(t, "second RevokeSession", err, auth.ErrNotFound)
	got, _ := mustState(t, s, sess.ID)
	if !got.RevokedAt.Equal(first) {
		t.Errorf("RevokedAt = %v, want the first revocation %v", got.RevokedAt, first)
	}
}

func testRevokeSessionExpired(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	err := s.RevokeSession(t.Context(), u.ID, sess.ID, sess.ExpiresAt)
	wantErr(t, "RevokeSession of an expired session", err, auth.ErrNotFound)
}

func testRevokeSessionUnknown(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	newSession(t, s, u.ID, Base)
	wantErr(t, "RevokeSession", s.RevokeSession(t.Context(), u.ID, "no-such-session", Base), auth.ErrNotFound)
}

func testEndSession(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	other := newSession(t, s, u.ID, Base)
	now := Base.Add(time.Hour)
	if err := s.EndSession(t.Context(), sess.ID, now); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	got, _ := mustState(t, s, sess.ID)
	sess.RevokedAt = now
	equalSession(t, "ended session", got, sess)
	got, _ = mustState(t, s, other.ID)
	equalSession(t, "the user's other session", got, other)
}

func testEndSessionTwice(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	first := Base.Add(time.Minute)
	for i, at := range []time.Time{first, first.Add(time.Hour)} {
		if err := s.EndSession(t.Context(), sess.ID, at); err != nil {
			t.Fatalf("EndSession %d: %v", i+1, err)
		}
	}
	got, _ := mustState(t, s, sess.ID)
	if !got.RevokedAt.Equal(first) {
		t.Errorf("RevokedAt = %v, want the first revocation %v", got.RevokedAt, first)
	}
}

func testEndSessionUnknown(t *testing.T, s auth.Store) {
	if err := s.EndSession(t.Context(), "no-such-session", Base); err != nil {
		t.Errorf("EndSession: %v", err)
	}
}

func testListSessions(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	other := newUser(t, s, "")
	now := Base.Add(24 * time.Hour)
	oldest := newSession(t, s, u.ID, Base)
	newest := newSession(t, s, u.ID, Base.Add(3*time.Hour))
	middle := newSession(t, s, u.ID, Base.Add(2*time.Hour))
	newSession(t, s, u.ID, Base.Add(4*time.Hour), func(s *auth.Session) { s.RevokedAt = Base.Add(5 * time.Hour) })
	newSession(t, s, u.ID, Base.Add(5*time.Hour), func(s *auth.Session) { s.ExpiresAt = now })
	newSession(t, s, u.ID, Base.Add(6*time.Hour), func(s *auth.Session) { s.ExpiresAt = now.Add(-time.Second) })
	newSession(t, s, other.ID, Base.Add(time.Hour))

	got := mustList(t, s, u.ID, now)
	want := []auth.Session{newest, middle, oldest}
	if !reflect.DeepEqual(ids(got), ids(want)) {
		t.Fatalf("ListSessions = %v, want %v", ids(got), ids(want))
	}
	for i := range want {
		equalSession(t, "listed session", got[i], want[i])
	}
}

func testListSessionsEmpty(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	if got := mustList(t, s, u.ID, Base); len(got) != 0 {
		t.Errorf("ListSessions = %v, want none", ids(got))
	}
	if got := mustList(t, s, "no-such-user", Base); len(got) != 0 {
		t.Errorf("ListSessions of an unknown user = %v, want none", ids(got))
	}
}

func testPrune(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	cutoff := Base.Add(10 * 24 * time.Hour)
	expiredBefore := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.ExpiresAt = cutoff.Add(-time.Microsecond) })
	revokedBefore := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.RevokedAt = cutoff.Add(-time.Hour) })
	expiredAt := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.ExpiresAt = cutoff })
	revokedAt := newSession(t, s, u.ID, Base, func(s *auth.Session) {
		s.ExpiresAt = cutoff.Add(time.Hour)
		s.RevokedAt = cutoff
	})
	live := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.ExpiresAt = cutoff.Add(time.Hour) })

	n, err := s.PruneSessions(t.Context(), cutoff)
	if err != nil {
		t.Fatalf("PruneSessions: %v", err)
	}
	if n != 2 {
		t.Errorf("PruneSessions deleted %d, want 2", n)
	}
	for _, gone := range []auth.Session{expiredBefore, revokedBefore} {
		_, _, err := s.SessionState(t.Context(), gone.ID)
		wantErr(t, "SessionState of a pruned session", err, auth.ErrNotFound)
	}
	for _, kept := range []auth.Session{expiredAt, revokedAt, live} {
		got, _ := mustState(t, s, kept.ID)
		equalSession(t, "session that must survive pruning", got, kept)
	}
	equalUser(t, "user after pruning", mustUser(t, s, u.ID), u)
}

func testPing(t *testing.T, s auth.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
