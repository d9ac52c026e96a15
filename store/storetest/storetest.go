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
	"strings"
	"sync"
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
	c = append(c, revocationCases()...)
	for _, r := range refusals() {
		c = append(c, testCase{"RotateSession refuses " + r.name, func(t *testing.T, s auth.Store) { testRotateRefused(t, s, r) }})
	}
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

func testCreateUserRoundTrip(t *testing.T, s auth.Store) {
	u := auth.User{
		ID:           "user-roundtrip",
		Email:        "Ada.Lovelace@Example.TEST",
		Name:         "Ada Lovelace",
		PasswordHash: []byte("$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"),
		TokenVersion: 41,
		CreatedAt:    Base.Add(-time.Hour),
	}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	equalUser(t, "UserByID", mustUser(t, s, u.ID), u)
	got, err := s.UserByEmail(t.Context(), u.Email)
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	equalUser(t, "UserByEmail", got, u)
}

func testUserByEmailFoldsCase(t *testing.T, s auth.Store) {
	u := newUser(t, s, "Grace.Hopper@Example.TEST")
	for _, email := range []string{"grace.hopper@example.test", "GRACE.HOPPER@EXAMPLE.TEST", "gRaCe.HoPpEr@eXaMpLe.TeSt"} {
		got, err := s.UserByEmail(t.Context(), email)
		if err != nil {
			t.Errorf("UserByEmail(%q): %v", email, err)
			continue
		}
		// The stored e-mail keeps the case it was registered with.
		equalUser(t, "UserByEmail("+email+")", got, u)
	}
}

func testUserByEmailIsExact(t *testing.T, s auth.Store) {
	newUser(t, s, "alan@example.test")
	for _, pattern := range []string{"%@example.test", "_lan@example.test", "alan@example.tes", "alan@example.test ", ".*", "*"} {
		_, err := s.UserByEmail(t.Context(), pattern)
		wantErr(t, fmt.Sprintf("UserByEmail(%q)", pattern), err, auth.ErrNotFound)
	}
}

func testEmailTaken(t *testing.T, s auth.Store) {
	first := newUser(t, s, "Taken@Example.test")
	for _, email := range []string{"Taken@Example.test", "taken@example.test", "TAKEN@EXAMPLE.TEST"} {
		err := s.CreateUser(t.Context(), auth.User{
			ID: nextID("user"), Email: email, Name: "Second", PasswordHash: []byte("x"), CreatedAt: Base,
		})
		wantErr(t, fmt.Sprintf("CreateUser(%q)", email), err, auth.ErrEmailTaken)
	}
	// The first account is untouched by the refused ones.
	equalUser(t, "first account", mustUser(t, s, first.ID), first)
}

func testUnknownUser(t *testing.T, s auth.Store) {
	newUser(t, s, "")
	_, err := s.UserByID(t.Context(), "no-such-user")
	wantErr(t, "UserByID", err, auth.ErrNotFound)
	_, err = s.UserByEmail(t.Context(), "nobody@example.test")
	wantErr(t, "UserByEmail", err, auth.ErrNotFound)
}

// nasty strings are each stored in every text field and must come back
// byte for byte. They cover SQL injection, quoting, LIKE and placeholder
// syntax, and Unicode outside the BMP (no NUL: PostgreSQL text cannot hold
// it, and the domain never produces it).
var nasty = []string{
	`'; DROP TABLE users; --`,
	`Robert'); DELETE FROM sessions WHERE ('1'='1`,
	`"double" 'single' ''doubled'' \backslash\ \' \"`,
	`% _ [a-z] ?1 $1 :name @p ${x} \x00 \\N`,
	"Zoë Ünïcødé 名前 Ελληνικά עברית العربية",
	"emoji 🎉 👩‍💻 🇳🇴 🏳️‍🌈",
	"tab\tnew\nline\rreturn",
	"  leading and trailing spaces  ",
}

func testTextIntact(t *testing.T, s auth.Store) {
	for i, text := range nasty {
		u := auth.User{
			ID:           fmt.Sprintf("user %d %s", i, text),
			Email:        fmt.Sprintf("%s+%d@EXÄMPLE.test", text, i),
			Name:         text,
			PasswordHash: []byte(text),
			CreatedAt:    Base,
		}
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatalf("CreateUser(%q): %v", text, err)
		}
		equalUser(t, fmt.Sprintf("UserByID(%q)", u.ID), mustUser(t, s, u.ID), u)
		byEmail, err := s.UserByEmail(t.Context(), strings.ToUpper(u.Email))
		if err != nil {
			t.Fatalf("UserByEmail(%q): %v", strings.ToUpper(u.Email), err)
		}
		equalUser(t, fmt.Sprintf("UserByEmail(%q)", u.Email), byEmail, u)

		sess := newSession(t, s, u.ID, Base, func(s *auth.Session) {
			s.ID = fmt.Sprintf("session %d %s", i, text)
			s.UserAgent = text
			s.IP = text
		})
		got, _ := mustState(t, s, sess.ID)
		equalSession(t, fmt.Sprintf("SessionState(%q)", sess.ID), got, sess)

		r := rotation(u, sess, Base.Add(time.Minute))
		r.UserAgent, r.IP = text+" (rotated)", "rotated "+text
		rotated := mustRotate(t, s, r)
		if rotated.Session.UserAgent != r.UserAgent || rotated.Session.IP != r.IP {
			t.Errorf("RotateSession returned user agent %q, IP %q; want %q, %q",
				rotated.Session.UserAgent, rotated.Session.IP, r.UserAgent, r.IP)
		}
		equalUser(t, "RotateSession user", rotated.User, u)
		list := mustList(t, s, u.ID, r.Now)
		if len(list) != 1 {
			t.Fatalf("ListSessions = %v, want one session", ids(list))
		}
		equalSession(t, "ListSessions", list[0], rotated.Session)
	}
}

func testHashBytes(t *testing.T, s auth.Store) {
	hash := make([]byte, 256)
	for i := range hash {
		hash[i] = byte(i)
	}
	u := newUser(t, s, "")
	old := u.PasswordHash
	u.PasswordHash = hash
	if err := s.SetPasswordHash(t.Context(), u.ID, old, hash); err != nil {
		t.Fatalf("SetPasswordHash: %v", err)
	}
	equalUser(t, "UserByID", mustUser(t, s, u.ID), u)
}

func testTimePrecision(t *testing.T, s auth.Store) {
	// A zone far from UTC and nanoseconds below a microsecond: both must be
	// gone when the time comes back, the instant otherwise unchanged.
	zone := time.FixedZone("UTC+13:45", 13*3600+45*60)
	at := time.Date(2030, time.March, 4, 18, 51, 7, 123_456_789, zone)
	want := at.UTC().Truncate(time.Microsecond)

	u := auth.User{ID: nextID("user"), Email: "time@example.test", Name: "Time", PasswordHash: []byte("x"), CreatedAt: at}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	got := mustUser(t, s, u.ID)
	if !reflect.DeepEqual(got.CreatedAt, want) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v (%v), want %v in UTC", got.CreatedAt, got.CreatedAt.Location(), want)
	}

	sess := newSession(t, s, u.ID, at, func(s *auth.Session) {
		s.LastUsedAt = at.Add(1)
		s.RotatedAt = at.Add(2)
		s.ExpiresAt = at.Add(refreshTTL + 999)
		s.MaxExpiresAt = at.Add(maxAge + 999)
		s.RevokedAt = time.Time{}
	})
	state, _ := mustState(t, s, sess.ID)
	wantSess := sess
	for _, p := range []*time.Time{&wantSess.CreatedAt, &wantSess.LastUsedAt, &wantSess.RotatedAt, &wantSess.ExpiresAt, &wantSess.MaxExpiresAt} {
		*p = p.UTC().Truncate(time.Microsecond)
	}
	equalSession(t, "SessionState", state, wantSess)

	now := at.Add(time.Hour + 777)
	r := rotation(got, sess, now)
	r.ExpiresAt = now.Add(time.Hour + 555)
	rotated := mustRotate(t, s, r)
	for name, pair := range map[string][2]time.Time{
		"RotatedAt":  {rotated.Session.RotatedAt, now.UTC().Truncate(time.Microsecond)},
		"LastUsedAt": {rotated.Session.LastUsedAt, now.UTC().Truncate(time.Microsecond)},
		"ExpiresAt":  {rotated.Session.ExpiresAt, r.ExpiresAt.UTC().Truncate(time.Microsecond)},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("rotated %s = %v, want %v in UTC", name, pair[0], pair[1])
		}
	}

	end := now.Add(time.Minute + 1)
	if err := s.EndSession(t.Context(), sess.ID, end); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	state, _ = mustState(t, s, sess.ID)
	if want := end.UTC().Truncate(time.Microsecond); !reflect.DeepEqual(state.RevokedAt, want) {
		t.Errorf("RevokedAt = %v, want %v in UTC", state.RevokedAt, want)
	}
}

func testSetPasswordHash(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	if err := s.RevokeUser(t.Context(), u.ID, Base); err != nil {
		t.Fatalf("RevokeUser: %v", err)
	}
	u.TokenVersion++
	old := u.PasswordHash
	u.PasswordHash = []byte("$2a$12$upgraded")
	if err := s.SetPasswordHash(t.Context(), u.ID, old, u.PasswordHash); err != nil {
		t.Fatalf("SetPasswordHash: %v", err)
	}
	equalUser(t, "after SetPasswordHash", mustUser(t, s, u.ID), u)
}

// A cost upgrade racing a password change must not bring the old password
// back: the swap only happens while the hash it replaces is still there.
func testSetPasswordHashLosesToAChangedPassword(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	staleHash := u.PasswordHash
	sess := newSession(t, s, u.ID, Base)
	changed, _, err := s.ChangePassword(t.Context(), u.ID, sess.ID, []byte("$2a$12$changed"), Base)
	if err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	err = s.SetPasswordHash(t.Context(), u.ID, staleHash, []byte("$2a$12$rehash-of-the-old-password"))
	wantErr(t, "SetPasswordHash after a change", err, auth.ErrNotFound)
	equalUser(t, "after the refused upgrade", mustUser(t, s, u.ID), changed)
}

func testSetPasswordHashUnknown(t *testing.T, s auth.Store) {
	wantErr(t, "SetPasswordHash", s.SetPasswordHash(t.Context(), "no-such-user", []byte("x"), []byte("y")), auth.ErrNotFound)
}

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
		{name: "a newer generation", change: func(r *auth.Rotation, _ auth.User) { r.Generation++ }},
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

func testRevokeUser(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	bystander := newUser(t, s, "")
	a := newSession(t, s, u.ID, Base)
	b := newSession(t, s, u.ID, Base.Add(time.Second))
	earlier := Base.Add(time.Minute)
	c := newSession(t, s, u.ID, Base.Add(2*time.Second), func(s *auth.Session) { s.RevokedAt = earlier })
	theirs := newSession(t, s, bystander.ID, Base)
	now := Base.Add(time.Hour)

	if err := s.RevokeUser(t.Context(), u.ID, now); err != nil {
		t.Fatalf("RevokeUser: %v", err)
	}
	u.TokenVersion++
	equalUser(t, "revoked user", mustUser(t, s, u.ID), u)
	for _, sess := range []auth.Session{a, b} {
		got, _ := mustState(t, s, sess.ID)
		sess.RevokedAt = now
		equalSession(t, "session of the revoked user", got, sess)
	}
	got, _ := mustState(t, s, c.ID)
	equalSession(t, "session revoked before", got, c)
	if list := mustList(t, s, u.ID, now); len(list) != 0 {
		t.Errorf("live sessions after RevokeUser = %v, want none", ids(list))
	}

	equalUser(t, "other user", mustUser(t, s, bystander.ID), bystander)
	got, _ = mustState(t, s, theirs.ID)
	equalSession(t, "other user's session", got, theirs)
}

func testRevokeUserUnknown(t *testing.T, s auth.Store) {
	wantErr(t, "RevokeUser", s.RevokeUser(t.Context(), "no-such-user", Base), auth.ErrNotFound)
}

func testChangePassword(t *testing.T, s auth.Store) {
	u := newUser(t, s, "")
	bystander := newUser(t, s, "")
	keep := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.Generation = 3 })
	other := newSession(t, s, u.ID, Base.Add(time.Second))
	ended := newSession(t, s, u.ID, Base.Add(2*time.Second), func(s *auth.Session) { s.RevokedAt = Base.Add(time.Minute) })
	theirs := newSession(t, s, bystander.ID, Base)
	now := Base.Add(time.Hour)
	hash := []byte("$2a$12$new-hash")

	gotUser, gotSess, err := s.ChangePassword(t.Context(), u.ID, keep.ID, hash, now)
	if err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	wantUser := u
	wantUser.PasswordHash = hash
	wantUser.TokenVersion = u.TokenVersion + 1
	equalUser(t, "returned user", gotUser, wantUser)
	equalUser(t, "stored user", mustUser(t, s, u.ID), wantUser)

	wantKeep := keep
	wantKeep.Generation = keep.Generation + 1
	wantKeep.RotatedAt = now
	equalSession(t, "returned session", gotSess, wantKeep)
	state, _ := mustState(t, s, keep.ID)
	equalSession(t, "stored kept session", state, wantKeep)

	state, _ = mustState(t, s, other.ID)
	wantOther := other
	wantOther.RevokedAt = now
	equalSession(t, "the user's other session", state, wantOther)
	state, _ = mustState(t, s, ended.ID)
	equalSession(t, "a session revoked before keeps its revocation time", state, ended)
	if list := ids(mustList(t, s, u.ID, now)); !reflect.DeepEqual(list, []string{keep.ID}) {
		t.Errorf("live sessions = %v, want only the kept %v", list, keep.ID)
	}

	equalUser(t, "other user", mustUser(t, s, bystander.ID), bystander)
	state, _ = mustState(t, s, theirs.ID)
	equalSession(t, "other user's session", state, theirs)

	// Refresh tokens issued before carry the old counter and the old
	// generation; only the new pair rotates.
	if _, ok, err := s.RotateSession(t.Context(), rotation(u, keep, now.Add(time.Second))); ok || err != nil {
		t.Errorf("RotateSession with the old counter = ok %v, err %v; want false, nil", ok, err)
	}
	mustRotate(t, s, rotation(gotUser, gotSess, now.Add(time.Second)))
}

// keepCase is a session ChangePassword must refuse to keep.
type keepCase struct {
	name string
	// pick returns the user and session to pass to ChangePassword, given
	// the user (with a live session) and another user.
	pick func(t testing.TB, s auth.Store, u, other auth.User, live auth.Session) (userID, sessionID string)
}

func keepNotLive() []keepCase {
	return []keepCase{
		{"revoked", func(t testing.TB, s auth.Store, u, _ auth.User, _ auth.Session) (string, string) {
			t.Helper()
			sess := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.RevokedAt = Base.Add(time.Second) })
			return u.ID, sess.ID
		}},
		{"expired", func(t testing.TB, s auth.Store, u, _ auth.User, _ auth.Session) (string, string) {
			t.Helper()
			sess := newSession(t, s, u.ID, Base, func(s *auth.Session) { s.ExpiresAt = Base.Add(time.Minute) })
			return u.ID, sess.ID
		}},
		{"another user's session", func(t testing.TB, s auth.Store, u, other auth.User, _ auth.Session) (string, string) {
			t.Helper()
			return u.ID, newSession(t, s, other.ID, Base).ID
		}},
		{"an unknown session", func(testing.TB, auth.Store, auth.User, auth.User, auth.Session) (string, string) {
			return "", "no-such-session"
		}},
		{"a session of an unknown user", func(_ testing.TB, _ auth.Store, _, _ auth.User, live auth.Session) (string, string) {
			return "no-such-user", live.ID
		}},
	}
}

func testChangePasswordKeepNotLive(t *testing.T, s auth.Store, k keepCase) {
	u := newUser(t, s, "")
	other := newUser(t, s, "")
	live := newSession(t, s, u.ID, Base)
	userID, sessionID := k.pick(t, s, u, other, live)
	if userID == "" {
		userID = u.ID
	}
	users := []string{u.ID, other.ID}
	sessions := []string{live.ID, sessionID}
	before := snapshot(t, s, users, sessions)

	_, _, err := s.ChangePassword(t.Context(), userID, sessionID, []byte("$2a$12$new-hash"), Base.Add(time.Hour))
	wantErr(t, "ChangePassword", err, auth.ErrNotFound)
	if after := snapshot(t, s, users, sessions); !reflect.DeepEqual(after, before) {
		t.Errorf("a refused ChangePassword changed the store:\n before %+v\n after  %+v", before, after)
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
