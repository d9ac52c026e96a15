package storetest

import (
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// badKeys are ids no row can have: a NUL (which PostgreSQL's text cannot
// hold), invalid UTF-8 (which it refuses), and a real id with a NUL or a
// stray byte after it, so a store that cut a key short at the NUL would
// find the real row. Each maps the real id to the bad one.
var badKeys = []struct {
	name string
	key  func(real string) string
}{
	{"a NUL", func(string) string { return "\x00" }},
	{"a real id followed by a NUL", func(real string) string { return real + "\x00" }},
	{"invalid UTF-8", func(string) string { return "\xff\xfe" }},
	{"a real id followed by a lone continuation byte", func(real string) string { return real + "\x80" }},
}

// idCases are the suite's cases for ids and keys that cannot be stored:
// every method answers for them as for an unknown id, never with an
// internal error.
func idCases() []testCase {
	var c []testCase
	for _, k := range badKeys {
		c = append(c, testCase{"every method answers an id holding " + k.name + " as unknown",
			func(t *testing.T, s auth.Store) { testUnstorableKeys(t, s, k.key) }})
	}
	return c
}

func testUnstorableKeys(t *testing.T, s auth.Store, bad func(string) string) {
	ctx := t.Context()
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	now := Base.Add(time.Minute)
	badUser, badSession := bad(u.ID), bad(sess.ID)

	_, err := s.UserByID(ctx, badUser)
	wantErr(t, "UserByID", err, auth.ErrNotFound)
	_, err = s.UserByEmail(ctx, bad(u.Email))
	wantErr(t, "UserByEmail", err, auth.ErrNotFound)
	_, _, err = s.SessionState(ctx, badSession)
	wantErr(t, "SessionState", err, auth.ErrNotFound)
	wantErr(t, "RevokeSession of a bad session id", s.RevokeSession(ctx, u.ID, badSession, now), auth.ErrNotFound)
	wantErr(t, "RevokeSession of a bad user id", s.RevokeSession(ctx, badUser, sess.ID, now), auth.ErrNotFound)
	// EndSession of an unknown session is not an error (see the Store
	// interface), so neither is one of a session that cannot exist.
	if err := s.EndSession(ctx, badSession, now); err != nil {
		t.Errorf("EndSession: %v, want nil as for an unknown session", err)
	}
	wantErr(t, "SetPasswordHash", s.SetPasswordHash(ctx, badUser, u.PasswordHash, []byte("new")), auth.ErrNotFound)
	_, _, err = s.ChangePassword(ctx, badUser, sess.ID, []byte("new"), now)
	wantErr(t, "ChangePassword of a bad user id", err, auth.ErrNotFound)
	_, _, err = s.ChangePassword(ctx, u.ID, badSession, []byte("new"), now)
	wantErr(t, "ChangePassword keeping a bad session id", err, auth.ErrNotFound)
	wantErr(t, "RevokeUser", s.RevokeUser(ctx, badUser, now), auth.ErrNotFound)
	if list, err := s.ListSessions(ctx, badUser, now); err != nil || list == nil || len(list) != 0 {
		t.Errorf("ListSessions = %v, %v; want an empty list", list, err)
	}
	bogus := sess
	bogus.ID, bogus.UserID = nextID("session"), badUser
	wantErr(t, "CreateSession for a bad user id", s.CreateSession(ctx, bogus, 0), auth.ErrNotFound)

	for _, change := range []func(*auth.Rotation){
		func(r *auth.Rotation) { r.SessionID = badSession },
		func(r *auth.Rotation) { r.UserID = badUser },
	} {
		r := rotation(u, sess, now)
		change(&r)
		if _, ok, err := s.RotateSession(ctx, r); ok || err != nil {
			t.Errorf("RotateSession(session %q, user %q) = ok %v, err %v; want refused without an error", r.SessionID, r.UserID, ok, err)
		}
	}

	// Nothing above touched the real rows.
	gotSess, gotUser := mustState(t, s, sess.ID)
	equalSession(t, "the real session", gotSess, sess)
	equalUser(t, "the real user", gotUser, u)
}
