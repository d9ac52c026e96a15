package signing_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/pgtest"
	"github.com/tokengate/tokengate/signing"
	"github.com/tokengate/tokengate/store/postgres"
	"github.com/tokengate/tokengate/store/sqlite"
	"github.com/tokengate/tokengate/token"
)

var (
	epoch = time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	kek   = []byte("key-encryption-key-key-encryption-key")
	// The schedule under test: a week of signing, a day of overlap, and
	// 15m + 30s + 10m of retention.
	schedule = signing.Schedule{Rotation: 168 * time.Hour, Overlap: 24 * time.Hour, KeepPrevious: 15*time.Minute + 30*time.Second + 10*time.Minute}
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type instance struct {
	codec *token.Codec
	m     *signing.Manager
}

func newInstance(t testing.TB, st auth.KeyStore, clk *clock, alg string, key []byte) instance {
	t.Helper()
	codec := token.New(token.Config{
		AccessAlg: alg, RefreshSecret: []byte("refresh-secret-refresh-secret-0123456789"),
		Issuer: "tokengate", Audience: "tokengate", AccessTTL: 15 * time.Minute, Now: clk.Now,
	})
	m, err := signing.New(signing.Config{Store: st, Codec: codec, Alg: alg, KEK: key, Schedule: schedule, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return instance{codec, m}
}

func memoryStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEachStore runs a test on SQLite (in memory) and on a fresh
// PostgreSQL database, which is skipped without a server (failed under CI).
func forEachStore(t *testing.T, test func(t *testing.T, st auth.KeyStore)) {
	t.Run("sqlite", func(t *testing.T) { test(t, memoryStore(t)) })
	t.Run("postgres", func(t *testing.T) {
		pgtest.Require(t)
		s, err := postgres.Open(t.Context(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		test(t, s)
	})
}

func states(t testing.TB, m *signing.Manager) map[signing.State][]string {
	t.Helper()
	list, err := m.Statuses(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[signing.State][]string{}
	for _, st := range list {
		out[st.State] = append(out[st.State], st.Key.ID)
	}
	return out
}

func only(t testing.TB, s map[signing.State][]string, state signing.State) string {
	t.Helper()
	if len(s[state]) != 1 {
		t.Fatalf("%v keys: %v, want one (all: %v)", state, s[state], s)
	}
	return s[state][0]
}

func issue(t testing.TB, c *token.Codec) string {
	t.Helper()
	at, _, err := c.IssueAccess("user-1", "session-1", 1)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func mustRefresh(t testing.TB, m *signing.Manager) {
	t.Helper()
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
}

func verifies(c *token.Codec, at string) bool {
	_, err := c.VerifyAccess(at)
	return err == nil
}

// TestScheduleWalksEveryState follows keys through next, current,
// previous and retired with the injected clock, checking what is
// published and what verifies at each step.
func TestScheduleWalksEveryState(t *testing.T) {
	forEachStore(t, func(t *testing.T, st auth.KeyStore) {
		clk := &clock{t: epoch}
		in := newInstance(t, st, clk, token.ES256, kek)

		// A fresh store: the first start makes a current and a next key.
		mustRefresh(t, in.m)
		s := states(t, in.m)
		first, second := only(t, s, signing.Current), only(t, s, signing.Next)
		if got := in.codec.PublishedKeyIDs(); !slices.Equal(got, sorted(first, second)) {
			t.Fatalf("published %v, want current and next", got)
		}
		list, _ := in.m.Statuses(t.Context())
		for _, st := range list {
			if st.State == signing.Next && !st.Key.ActivatesAt.Equal(epoch.Add(schedule.Rotation)) {
				t.Errorf("next activates at %v, want a rotation after the first", st.Key.ActivatesAt)
			}
		}
		old := issue(t, in.codec)
		if kidOf(t, old) != first {
			t.Fatalf("signed with %s, want the current key %s", kidOf(t, old), first)
		}

		// A token the first key signs a minute before its time ends.
		clk.Set(epoch.Add(schedule.Rotation - time.Minute))
		justBefore := issue(t, in.codec)
		if kidOf(t, justBefore) != first {
			t.Fatal("not signed with the first key")
		}

		// The next key's time comes: it signs, the first is previous, a new
		// next key is made; three are published.
		clk.Set(epoch.Add(schedule.Rotation))
		mustRefresh(t, in.m)
		s = states(t, in.m)
		if only(t, s, signing.Current) != second || only(t, s, signing.Previous) != first {
			t.Fatalf("after the rotation: %v", s)
		}
		third := only(t, s, signing.Next)
		if len(in.codec.PublishedKeyIDs()) != 3 {
			t.Fatalf("published %v, want three", in.codec.PublishedKeyIDs())
		}
		if kidOf(t, issue(t, in.codec)) != second {
			t.Fatal("not signed with the new current key")
		}
		// The token the previous key signed just before still verifies.
		clk.Set(epoch.Add(schedule.Rotation + time.Minute))
		if !verifies(in.codec, justBefore) {
			t.Fatal("a token of the previous key was refused")
		}

		// After the retention the previous key is retired and unpublished.
		clk.Set(epoch.Add(schedule.Rotation + schedule.KeepPrevious))
		mustRefresh(t, in.m)
		s = states(t, in.m)
		if only(t, s, signing.Retired) != first || only(t, s, signing.Current) != second || only(t, s, signing.Next) != third {
			t.Fatalf("after the retention: %v", s)
		}
		if got := in.codec.PublishedKeyIDs(); !slices.Equal(got, sorted(second, third)) {
			t.Fatalf("published %v", got)
		}
	})
}

func sorted(ids ...string) []string { slices.Sort(ids); return ids }

func TestNextKeyIsPublishedAtLeastTheOverlapBeforeItSigns(t *testing.T) {
	clk := &clock{t: epoch}
	short := schedule
	short.Rotation = time.Hour // shorter than the overlap
	st := memoryStore(t)
	codec := token.New(token.Config{AccessAlg: token.ES256, RefreshSecret: []byte("refresh-secret-refresh-secret-0123456789"),
		Issuer: "i", Audience: "a", AccessTTL: time.Minute, Now: clk.Now})
	m, err := signing.New(signing.Config{Store: st, Codec: codec, Alg: token.ES256, KEK: kek, Schedule: short, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	mustRefresh(t, m)
	list, _ := m.Statuses(t.Context())
	for _, s := range list {
		if s.State == signing.Next && s.Key.ActivatesAt.Before(epoch.Add(short.Overlap)) {
			t.Fatalf("next key signs at %v, less than the overlap after it was published", s.Key.ActivatesAt)
		}
	}
}

func TestRotateMakesTheNextKeyCurrentAtOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, st auth.KeyStore) {
		clk := &clock{t: epoch}
		in := newInstance(t, st, clk, token.ES256, kek)
		mustRefresh(t, in.m)
		s := states(t, in.m)
		first, second := only(t, s, signing.Current), only(t, s, signing.Next)
		old := issue(t, in.codec)

		clk.Set(epoch.Add(time.Hour))
		kid, err := in.m.Rotate(t.Context())
		if err != nil || kid != second {
			t.Fatalf("Rotate = %q, %v; want %s", kid, err, second)
		}
		mustRefresh(t, in.m)
		s = states(t, in.m)
		if only(t, s, signing.Current) != second || only(t, s, signing.Previous) != first || len(s[signing.Next]) != 1 {
			t.Fatalf("after rotate: %v", s)
		}
		if kidOf(t, issue(t, in.codec)) != second {
			t.Fatal("not signed with the rotated-in key")
		}
		if clk.Set(epoch.Add(2 * time.Minute)); !verifies(in.codec, old) {
			t.Fatal("a token of the key rotated out was refused")
		}

		// A second rotation a minute later: still at most three published,
		// the oldest key retired.
		clk.Set(epoch.Add(time.Hour + time.Minute))
		if _, err := in.m.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
		mustRefresh(t, in.m)
		s = states(t, in.m)
		if only(t, s, signing.Retired) != first || only(t, s, signing.Previous) != second || len(in.codec.PublishedKeyIDs()) != 3 {
			t.Fatalf("after a second rotation: %v, published %v", s, in.codec.PublishedKeyIDs())
		}
	})
}

func TestRetireRemovesAKeyAndItsTokensAtOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, st auth.KeyStore) {
		clk := &clock{t: epoch}
		in := newInstance(t, st, clk, token.ES256, kek)
		mustRefresh(t, in.m)
		s := states(t, in.m)
		first, second := only(t, s, signing.Current), only(t, s, signing.Next)
		old := issue(t, in.codec)
		if !verifies(in.codec, old) {
			t.Fatal("control token refused")
		}

		// Retiring the current key: the next one takes over, not the
		// previous one, and a new next key is made.
		if err := in.m.Retire(t.Context(), first); err != nil {
			t.Fatal(err)
		}
		mustRefresh(t, in.m)
		s = states(t, in.m)
		if only(t, s, signing.Retired) != first || only(t, s, signing.Current) != second || len(s[signing.Next]) != 1 {
			t.Fatalf("after retiring the current key: %v", s)
		}
		if verifies(in.codec, old) {
			t.Fatal("a retired key's token still verifies (the cached one included)")
		}
		if slices.Contains(in.codec.PublishedKeyIDs(), first) {
			t.Fatal("the retired key is still published")
		}

		// Retiring the next key makes another.
		next := only(t, s, signing.Next)
		if err := in.m.Retire(t.Context(), next); err != nil {
			t.Fatal(err)
		}
		s = states(t, in.m)
		if len(s[signing.Next]) != 1 || s[signing.Next][0] == next {
			t.Fatalf("after retiring the next key: %v", s)
		}
		if err := in.m.Retire(t.Context(), first); !errors.Is(err, signing.ErrUnknownKey) {
			t.Fatalf("retiring a retired key: %v", err)
		}
		if err := in.m.Retire(t.Context(), "no-such-kid"); !errors.Is(err, signing.ErrUnknownKey) {
			t.Fatalf("retiring an unknown key: %v", err)
		}
	})
}

func TestWrongKEKStopsBeforeAnythingIsSignedOrWritten(t *testing.T) {
	forEachStore(t, func(t *testing.T, st auth.KeyStore) {
		clk := &clock{t: epoch}
		mustRefresh(t, newInstance(t, st, clk, token.ES256, kek).m)
		before, _ := st.SigningKeys(t.Context())

		// Even at a moment the schedule needs a new key.
		clk.Set(epoch.Add(schedule.Rotation))
		wrong := newInstance(t, st, clk, token.ES256, []byte("another-key-encryption-key-0123456789"))
		if err := wrong.m.Refresh(t.Context()); !errors.Is(err, signing.ErrWrongKEK) {
			t.Fatalf("Refresh with another KEK = %v, want ErrWrongKEK", err)
		}
		if _, _, err := wrong.codec.IssueAccess("u", "s", 0); err == nil {
			t.Fatal("a codec whose keys did not open signed a token")
		}
		if _, err := wrong.m.Rotate(t.Context()); !errors.Is(err, signing.ErrWrongKEK) {
			t.Fatalf("Rotate with another KEK = %v, want ErrWrongKEK", err)
		}
		after, _ := st.SigningKeys(t.Context())
		if len(after) != len(before) {
			t.Fatalf("a wrong KEK wrote keys: %d before, %d after", len(before), len(after))
		}
	})
}

func TestEveryAlgorithm(t *testing.T) {
	for _, alg := range []string{token.ES256, token.EdDSA, token.RS256} {
		t.Run(alg, func(t *testing.T) {
			clk := &clock{t: epoch}
			in := newInstance(t, memoryStore(t), clk, alg, kek)
			mustRefresh(t, in.m)
			at := issue(t, in.codec)
			if !verifies(in.codec, at) {
				t.Fatal("own token refused")
			}
			if h := headerOf(t, at); h["alg"] != alg || h["typ"] != "at+jwt" {
				t.Fatalf("header %v", h)
			}
		})
	}
}

// TestInstancesRacingCreateOneKeyEachTime starts instances at once on a
// fresh store, then has them all take the automatic step together: one
// current and one next key come of the first, one new key of the second.
func TestInstancesRacingCreateOneKeyEachTime(t *testing.T) {
	t.Run("sqlite file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tokengate.db")
		race(t, func(t testing.TB) auth.KeyStore {
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		pgtest.Require(t)
		url := pgtest.URL(t)
		race(t, func(t testing.TB) auth.KeyStore {
			s, err := postgres.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

func race(t *testing.T, open func(t testing.TB) auth.KeyStore) {
	const n = 4
	clk := &clock{t: epoch}
	var ins []instance
	var stores []auth.KeyStore
	for range n {
		st := open(t)
		stores = append(stores, st)
		ins = append(ins, newInstance(t, st, clk, token.ES256, kek))
	}
	all := func() {
		t.Helper()
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		for i, in := range ins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = in.m.Refresh(context.Background())
			}()
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
		}
	}
	count := func() int {
		keys, err := stores[0].SigningKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	all()
	if got := count(); got != 2 {
		t.Fatalf("instances starting at once made %d keys, want 2", got)
	}
	clk.Set(epoch.Add(schedule.Rotation))
	all()
	if got := count(); got != 3 {
		t.Fatalf("instances stepping at once made %d keys in all, want 3", got)
	}
	// Every instance signs with the same key and publishes the same set.
	kid := kidOf(t, issue(t, ins[0].codec))
	for _, in := range ins[1:] {
		if k := kidOf(t, issue(t, in.codec)); k != kid {
			t.Fatalf("instances sign with %s and %s", kid, k)
		}
		if !slices.Equal(in.codec.PublishedKeyIDs(), ins[0].codec.PublishedKeyIDs()) {
			t.Fatal("instances publish different sets")
		}
	}
}
