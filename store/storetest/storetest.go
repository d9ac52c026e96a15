// Package storetest is the one contract suite every auth.Store must pass.
// Each subtest is named after the rule it checks and runs on a fresh store,
// so a failure names the broken rule and cannot be caused by another test's
// rows. Times come from a fixed base, never the wall clock, so expiry is
// tested without waiting.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// Base is the suite's "now". It is far from the wall clock on purpose: a
// store that compared against its own clock instead of the time it is
// given fails loudly.
var Base = time.Date(2030, time.March, 4, 5, 6, 7, 0, time.UTC)

// The session lifetimes the helpers use.
const (
	refreshTTL = 7 * 24 * time.Hour
	maxAge     = 30 * 24 * time.Hour
)

// Run runs the contract suite. open must return a fresh, empty, migrated
// store and close it in t.Cleanup; it is called once per subtest, and
// concurrently, since the subtests run in parallel.
func Run(t *testing.T, open func(t testing.TB) auth.Store) {
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, s auth.Store)
}

func cases() []testCase {
	c := []testCase{
		{"CreateUser stores every field and UserByID returns it", testCreateUserRoundTrip},
		{"UserByEmail finds a user whatever the case of the e-mail", testUserByEmailFoldsCase},
		{"UserByEmail matches the whole e-mail, not a pattern", testUserByEmailIsExact},
		{"CreateUser returns ErrEmailTaken for an e-mail taken in any case", testEmailTaken},
		{"UserByID and UserByEmail return ErrNotFound for an unknown user", testUnknownUser},
		{"text fields keep SQL metacharacters, quotes and Unicode intact", testTextIntact},
		{"password hashes keep every byte value", testHashBytes},
		{"times round-trip in UTC truncated to microseconds", testTimePrecision},
		{"SetPasswordHash replaces the hash and keeps the token counter", testSetPasswordHash},
		{"SetPasswordHash returns ErrNotFound for an unknown user", testSetPasswordHashUnknown},
		{"SetPasswordHash does not overwrite a password changed meanwhile", testSetPasswordHashLosesToAChangedPassword},
		{"CreateSession stores every field", testCreateSessionRoundTrip},
		{"CreateSession caps live sessions by revoking the oldest", testSessionCap},
		{"CreateSession with maxLive 0 has no cap", testNoSessionCap},
		{"CreateSession cap counts only live sessions", testSessionCapCountsLive},
		{"CreateSession cap holds under concurrent sign-ins of one user", testSessionCapConcurrent},
		{"CreateSession returns ErrNotFound for an unknown user", testCreateSessionUnknownUser},
		{"CreateSession fails for an existing session id", testCreateSessionDuplicate},
		{"RotateSession advances the generation by one and slides the expiry", testRotate},
		{"RotateSession caps the expiry at MaxExpiresAt", testRotateCapsExpiry},
		{"RotateSession keeps UserAgent and IP when the rotation gives none", testRotateKeepsClient},
		{"RotateSession accepts the new generation and refuses the old one", testRotateChain},
		{"RotateSession lets exactly one of 20 concurrent rotations of a generation succeed", testRotateConcurrent},
		{"SessionState returns the session and its user's current token counter", testSessionState},
		{"SessionState returns revoked and expired sessions too", testSessionStateEnded},
		{"SessionState returns ErrNotFound for an unknown session", testSessionStateUnknown},
		{"RevokeSession revokes a live session of the user", testRevokeSession},
		{"RevokeSession returns ErrNotFound for another user's session and leaves it live", testRevokeSessionForeign},
		{"RevokeSession returns ErrNotFound for a revoked session and keeps its revocation time", testRevokeSessionRevoked},
		{"RevokeSession returns ErrNotFound for an expired session", testRevokeSessionExpired},
		{"RevokeSession returns ErrNotFound for an unknown session", testRevokeSessionUnknown},
		{"EndSession revokes a session whoever owns it", testEndSession},
		{"EndSession twice is not an error and keeps the first revocation time", testEndSessionTwice},
		{"EndSession of an unknown session is not an error", testEndSessionUnknown},
		{"RevokeUser increments the token counter and revokes every session", testRevokeUser},
		{"RevokeUser returns ErrNotFound for an unknown user", testRevokeUserUnknown},
		{"ChangePassword replaces the hash, increments the counter, advances the kept session and revokes the rest", testChangePassword},
		{"ListSessions returns only live sessions, newest first", testListSessions},
		{"ListSessions of a user without sessions is empty", testListSessionsEmpty},
		{"PruneSessions deletes sessions that expired or were revoked before the cutoff", testPrune},
		{"Ping answers", testPing},
	}
	c = append(c, lostCases()...)
	c = append(c, revocationCases()...)
	for _, r := range append(refusals(), lostRefusals()...) {
		c = append(c, testCase{"RotateSession refuses " + r.name, func(t *testing.T, s auth.Store) { testRotateRefused(t, s, r) }})
	}
	c = append(c, idCases()...)
	for _, k := range keepNotLive() {
		c = append(c, testCase{"ChangePassword returns ErrNotFound and changes nothing when keep is " + k.name,
			func(t *testing.T, s auth.Store) { testChangePasswordKeepNotLive(t, s, k) }})
	}
	return c
}

// seq makes ids unique across the whole suite, parallel subtests included.
var seq atomic.Int64

func nextID(kind string) string { return fmt.Sprintf("%s-%d", kind, seq.Add(1)) }

// newUser creates a user with the given e-mail (a generated one when empty)
// and returns it as the store should hand it back.
func newUser(t testing.TB, s auth.Store, email string) auth.User {
	t.Helper()
	id := nextID("user")
	if email == "" {
		email = id + "@example.test"
	}
	u := auth.User{
		ID:           id,
		Email:        email,
		Name:         "User " + id,
		PasswordHash: []byte("$2a$04$hash-of-" + id),
		CreatedAt:    Base,
	}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", email, err)
	}
	return u
}

// newSession creates a live session of userID created at created, with the
// helpers' lifetimes, and returns it as the store should hand it back.
func newSession(t testing.TB, s auth.Store, userID string, created time.Time, change ...func(*auth.Session)) auth.Session {
	t.Helper()
	sess := auth.Session{
		ID:           nextID("session"),
		UserID:       userID,
		Generation:   1,
		CreatedAt:    created,
		LastUsedAt:   created,
		RotatedAt:    created,
		ExpiresAt:    created.Add(refreshTTL),
		MaxExpiresAt: created.Add(maxAge),
		UserAgent:    "Mozilla/5.0 (storetest)",
		IP:           "192.0.2.1",
	}
	for _, f := range change {
		f(&sess)
	}
	if err := s.CreateSession(t.Context(), sess, 0); err != nil {
		t.Fatalf("CreateSession(%s): %v", sess.ID, err)
	}
	return sess
}

// rotation is a rotation of sess that every condition allows, at now.
func rotation(u auth.User, sess auth.Session, now time.Time) auth.Rotation {
	return auth.Rotation{
		SessionID:    sess.ID,
		UserID:       u.ID,
		TokenVersion: u.TokenVersion,
		Generation:   sess.Generation,
		Now:          now,
		ExpiresAt:    now.Add(refreshTTL),
		UserAgent:    "Mozilla/5.0 (rotated)",
		IP:           "198.51.100.7",
	}
}

func mustUser(t testing.TB, s auth.Store, id string) auth.User {
	t.Helper()
	u, err := s.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID(%s): %v", id, err)
	}
	return u
}

func mustState(t testing.TB, s auth.Store, id string) (auth.Session, auth.User) {
	t.Helper()
	sess, u, err := s.SessionState(t.Context(), id)
	if err != nil {
		t.Fatalf("SessionState(%s): %v", id, err)
	}
	return sess, u
}

func mustRotate(t testing.TB, s auth.Store, r auth.Rotation) auth.Rotated {
	t.Helper()
	got, ok, err := s.RotateSession(t.Context(), r)
	if err != nil || !ok {
		t.Fatalf("RotateSession(%+v) = ok %v, err %v; want ok", r, ok, err)
	}
	return got
}

func mustList(t testing.TB, s auth.Store, userID string, now time.Time) []auth.Session {
	t.Helper()
	list, err := s.ListSessions(t.Context(), userID, now)
	if err != nil {
		t.Fatalf("ListSessions(%s): %v", userID, err)
	}
	return list
}

// equalUser compares users field by field, the hash by content: a store may
// hand back an empty hash as nil or as an empty slice. reflect.DeepEqual on
// the times also checks that they come back in UTC.
func equalUser(t testing.TB, what string, got, want auth.User) {
	t.Helper()
	g, w := got, want
	g.PasswordHash, w.PasswordHash = nil, nil
	if !reflect.DeepEqual(g, w) || !bytes.Equal(got.PasswordHash, want.PasswordHash) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func equalSession(t testing.TB, what string, got, want auth.Session) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

func ids(list []auth.Session) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out
}
