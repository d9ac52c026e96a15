package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
)

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
