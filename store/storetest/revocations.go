package storetest

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// revocationCases are the contract of auth.RevocationLog: every store
// method that ends a session or raises a counter writes the log (by
// triggers, in the change's transaction), nothing else does, and a reader
// following the cursor misses nothing.
func revocationCases() []testCase {
	return []testCase{
		{"revocation log: RevokeSession and EndSession record the session once", testLogSessionEnds},
		{"revocation log: RevokeUser records the new counter and every live session", testLogRevokeUser},
		{"revocation log: ChangePassword records the new counter and the other sessions", testLogChangePassword},
		{"revocation log: the session cap records the sessions it revokes", testLogSessionCap},
		{"revocation log: rotation, sign-in and a hash upgrade record nothing", testLogQuietPaths},
		{"revocation log: a reader following the cursor sees every later revocation", testLogCursor},
		{"revocation log: since leaves out older entries", testLogSince},
		{"revocation log: PruneRevocations deletes entries before the cutoff", testLogPrune},
		{"revocation log: AccessRevoked reads the session and the counter", testAccessRevoked},
	}
}

func revocationLog(t testing.TB, s auth.Store) auth.RevocationLog {
	t.Helper()
	l, ok := s.(auth.RevocationLog)
	if !ok {
		t.Fatalf("%T does not implement auth.RevocationLog", s)
	}
	return l
}

// readLog reads the whole log from cursor, returning the entries (times
// left out for comparison, since user entries carry the server's clock)
// and the next cursor.
func readLog(t testing.TB, l auth.RevocationLog, cursor auth.RevocationCursor) ([]auth.Revocation, auth.RevocationCursor) {
	t.Helper()
	var got []auth.Revocation
	next, err := l.ReadRevocations(t.Context(), cursor, time.Time{}, func(r auth.Revocation) { got = append(got, r) })
	if err != nil {
		t.Fatalf("ReadRevocations: %v", err)
	}
	return got, next
}

// entries turns revocations into sortable strings, "s:<session>@<user>"
// and "u:<user>>=<version>", ignoring duplicates (a reader may see one
// twice) and times.
func entries(rs []auth.Revocation) []string {
	var out []string
	for _, r := range rs {
		e := "u:" + r.UserID + ">=" + itoa(r.MinVersion)
		if r.SessionID != "" {
			e = "s:" + r.SessionID + "@" + r.UserID
		}
		out = append(out, e)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func itoa(n int64) string {
	if n == auth.DeletedVersion {
		return "deleted"
	}
	return strconv.FormatInt(n, 10)
}

// wantEntries checks that got, less anything already in before (a read
// past a cursor may deliver an entry again), is exactly want.
func wantEntries(t testing.TB, what string, before, got []auth.Revocation, want ...string) {
	t.Helper()
	slices.Sort(want)
	old := entries(before)
	g := slices.DeleteFunc(entries(got), func(e string) bool { return slices.Contains(old, e) })
	if !slices.Equal(g, want) {
		t.Errorf("%s: log holds %v; want %v", what, g, want)
	}
}

func testLogSessionEnds(t *testing.T, s auth.Store) {
	l := revocationLog(t, s)
	u := newUser(t, s, "")
	a := newSession(t, s, u.ID, Base)
	b := newSession(t, s, u.ID, Base)
	before, cursor := readLog(t, l, 0)
	at := Base.Add(time.Minute)
	if err := s.RevokeSession(t.Context(), u.ID, a.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(t.Context(), b.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(t.Context(), b.ID, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, _ := readLog(t, l, cursor)
	wantEntries(t, "after RevokeSession and two EndSessions", before, got, "s:"+a.ID+"@"+u.ID, "s:"+b.ID+"@"+u.ID)
	for _, r := range got {
		if !r.At.Equal(at) || r.MinVersion != 0 {
			t.Errorf("entry %+v: want At %v (the revocation time) and MinVersion 0", r, at)
		}
	}
	if n := len(got); n != 2 {
		t.Errorf("%d entries; want 2 (a second EndSession records nothing)", n)
	}
}

func testLogRevokeUser(t *testing.T, s auth.Store) {
	l := revocationLog(t, s)
	u := newUser(t, s, "")
	a := newSession(t, s, u.ID, Base)
	b := newSession(t, s, u.ID, Base)
	if err := s.EndSession(t.Context(), b.ID, Base); err != nil {
		t.Fatal(err)
	}
	before, cursor := readLog(t, l, 0)
	if err := s.RevokeUser(t.Context(), u.ID, Base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, _ := readLog(t, l, cursor)
	wantEntries(t, "after RevokeUser", before, got, "u:"+u.ID+">=1", "s:"+a.ID+"@"+u.ID)
}

func testLogChangePassword(t *testing.T, s auth.Store) {
	l := revocationLog(t, s)
	u := newUser(t, s, "")
	keep := newSession(t, s, u.ID, Base)
	other := newSession(t, s, u.ID, Base)
	before, cursor := readLog(t, l, 0)
	if _, _, err := s.ChangePassword(t.Context(), u.ID, keep.ID, []byte("new"), Base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, _ := readLog(t, l, cursor)
	wantEntries(t, "after ChangePassword", before, got, "u:"+u.ID+">=1", "s:"+other.ID+"@"+u.ID)
}

func testLogSessionCap(t *testing.T, s auth.Store) {
	l := revocationLog(t, s)
	u := newUser(t, s, "")
	old := newSession(t, s, u.ID, Base)
	before, cursor := readLog(t, l, 0)
	next := auth.Session{ID: nextID("session"), UserID: u.ID, Generation: 1, CreatedAt: Base.Add(time.Second),
		LastUsedAt: Base, RotatedAt: Base, ExpiresAt: Base.Add(refreshTTL), MaxExpiresAt: Base.Add(maxAge)}
	if err := s.CreateSession(t.Context(), next, 1); err != nil {
		t.Fatal(err)
	}
	got, _ := readLog(t, l, cursor)
	wantEntries(t, "after a capped sign-in", before, got, "s:"+old.ID+"@"+u.ID)
}

func testLogQuietPaths(t *testing.T, s auth.Store) {
	l := revocationLog(t, s)
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	mustRotate(t, s, rotation(u, sess, Base.Add(time.Minute)))
	if err := s.SetPasswordHash(t.Context(), u.ID, u.PasswordHash, []byte("rehashed")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PruneSessions(t.Context(), Base.Add(maxAge*2)); err != nil {
		t.Fatal(err)
	}
	got, _ := readLog(t, l, 0)
	for _, r := range got {
		if r.UserID == u.ID {
			t.Errorf("a path that revokes nothing wrote %+v", r)
		}
	}
}

func testLogCursor(t *testing.T, s auth.Store) {
	l := revocationLog(t, s)
	u := newUser(t, s, "")
	var all []string
	cursor := auth.RevocationCursor(0)
	var seen []auth.Revocation
	for i := range 5 {
		sess := newSession(t, s, u.ID, Base)
		if err := s.EndSession(t.Context(), sess.ID, Base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		all = append(all, "s:"+sess.ID+"@"+u.ID)
		var got []auth.Revocation
		got, cursor = readLog(t, l, cursor)
		seen = append(seen, got...)
		// Whatever a read repeats, the new entry is never missing.
		if !slices.Contains(entries(got), all[i]) && !slices.Contains(entries(seen), all[i]) {
			t.Fatalf("read %d missed %s", i, all[i])
		}
	}
	var mine []auth.Revocation
	for _, r := range seen {
		if r.UserID == u.ID {
			mine = append(mine, r)
		}
	}
	wantEntries(t, "everything read along the cursor", nil, mine, all...)
}

func testLogSince(t *testing.T, s auth.Store) {
	l := revocationLog(t, s)
	u := newUser(t, s, "")
	old, recent := newSession(t, s, u.ID, Base), newSession(t, s, u.ID, Base)
	if err := s.EndSession(t.Context(), old.ID, Base.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(t.Context(), recent.ID, Base); err != nil {
		t.Fatal(err)
	}
	var got []auth.Revocation
	if _, err := l.ReadRevocations(t.Context(), 0, Base.Add(-time.Minute), func(r auth.Revocation) {
		if r.UserID == u.ID {
			got = append(got, r)
		}
	}); err != nil {
		t.Fatal(err)
	}
	wantEntries(t, "since a minute before Base", nil, got, "s:"+recent.ID+"@"+u.ID)
}

func testLogPrune(t *testing.T, s auth.Store) {
	l := revocationLog(t, s)
	u := newUser(t, s, "")
	old, recent := newSession(t, s, u.ID, Base), newSession(t, s, u.ID, Base)
	if err := s.EndSession(t.Context(), old.ID, Base.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(t.Context(), recent.ID, Base); err != nil {
		t.Fatal(err)
	}
	n, err := l.PruneRevocations(t.Context(), Base.Add(-time.Minute))
	if err != nil || n < 1 {
		t.Fatalf("PruneRevocations = %d, %v; want at least the old entry", n, err)
	}
	got, _ := readLog(t, l, 0)
	var mine []auth.Revocation
	for _, r := range got {
		if r.UserID == u.ID {
			mine = append(mine, r)
		}
	}
	wantEntries(t, "after pruning", nil, mine, "s:"+recent.ID+"@"+u.ID)
}

func testAccessRevoked(t *testing.T, s auth.Store) {
	l := revocationLog(t, s)
	u := newUser(t, s, "")
	live, ended := newSession(t, s, u.ID, Base), newSession(t, s, u.ID, Base)
	if err := s.EndSession(t.Context(), ended.ID, Base); err != nil {
		t.Fatal(err)
	}
	check := func(what, sid string, ver int64, want bool) {
		t.Helper()
		got, err := l.AccessRevoked(t.Context(), sid, ver)
		if err != nil || got != want {
			t.Errorf("%s: AccessRevoked = %v, %v; want %v", what, got, err, want)
		}
	}
	check("live session, current counter", live.ID, 0, false)
	check("ended session", ended.ID, 0, true)
	check("unknown session", "no-such-session", 0, true)
	if _, _, err := s.ChangePassword(t.Context(), u.ID, live.ID, []byte("new"), Base); err != nil {
		t.Fatal(err)
	}
	check("kept session, old counter", live.ID, 0, true)
	check("kept session, new counter", live.ID, 1, false)
}
