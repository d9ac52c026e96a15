package revocation

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokengate/tokengate/auth"
)

// fakeClock is a settable clock, so expiry and staleness are tested without
// waiting.
type fakeClock struct{ nanos atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.nanos.Store(time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.nanos.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

// fallback is a RevocationLog whose AccessRevoked answers from a set and
// counts its calls.
type fallback struct {
	mu      sync.Mutex
	revoked map[string]bool
	err     error
	calls   atomic.Int64
}

func (f *fallback) ReadRevocations(context.Context, auth.RevocationCursor, time.Time, func(auth.Revocation)) (auth.RevocationCursor, error) {
	return 0, nil
}

func (f *fallback) PruneRevocations(context.Context, time.Time) (int64, error) { return 0, nil }

func (f *fallback) AccessRevoked(_ context.Context, sessionID string, _ int64) (bool, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.revoked[sessionID], f.err
}

const window = 15*time.Minute + 30*time.Second

func newView(t testing.TB, c *fakeClock, change ...func(*Options)) *View {
	t.Helper()
	o := Options{Window: window, Clock: c.Now}
	for _, f := range change {
		f(&o)
	}
	return New(o)
}

func TestSessionRevocation(t *testing.T) {
	c := newFakeClock()
	v := newView(t, c)
	if v.Revoked("u1", "s1", 0) {
		t.Fatal("an empty view revoked a token")
	}
	v.RevokeSession("s1", c.Now())
	if !v.Revoked("u1", "s1", 0) || !v.Revoked("u2", "s1", 7) {
		t.Error("a revoked session's token passed")
	}
	for _, sid := range []string{"s2", "", "s1 ", "S1", "s"} {
		if v.Revoked("u1", sid, 0) {
			t.Errorf("session %q revoked by a revocation of s1", sid)
		}
	}
	err := v.CheckAccess(t.Context(), "u1", "s1", 0)
	if !errors.Is(err, auth.Unauthenticated(auth.ReasonSessionRevoked)) {
		t.Errorf("CheckAccess = %v; want UNAUTHENTICATED/SESSION_REVOKED", err)
	}
	if err := v.CheckAccess(t.Context(), "u1", "s2", 0); err != nil {
		t.Errorf("CheckAccess of a live session = %v", err)
	}
}

func TestUserRevocationByCounter(t *testing.T) {
	c := newFakeClock()
	v := newView(t, c)
	v.RevokeUser("u1", 3, c.Now())
	for ver, want := range map[int64]bool{0: true, 2: true, 3: false, 4: false} {
		if got := v.Revoked("u1", "s", ver); got != want {
			t.Errorf("ver %d: Revoked = %v, want %v", ver, got, want)
		}
	}
	if v.Revoked("u2", "s", 0) {
		t.Error("another user's token revoked")
	}
	// A lower counter arriving late (an older notification) never lowers
	// the bound; a higher one raises it.
	v.RevokeUser("u1", 2, c.Now())
	if !v.Revoked("u1", "s", 2) {
		t.Error("an older revocation lowered the counter bound")
	}
	v.RevokeUser("u1", 5, c.Now())
	if !v.Revoked("u1", "s", 4) || v.Revoked("u1", "s", 5) {
		t.Error("a newer revocation did not raise the bound to 5")
	}
	v.RevokeUser("u1", auth.DeletedVersion, c.Now())
	if !v.Revoked("u1", "s", 1<<62) {
		t.Error("a deleted user's token passed")
	}
	if s := v.Stats(); s.Users != 1 || s.Sessions != 0 {
		t.Errorf("Stats = %+v; want one user entry", s)
	}
}

func TestRevocationsExpireAfterTheWindow(t *testing.T) {
	c := newFakeClock()
	v := newView(t, c)
	start := c.Now()
	v.RevokeSession("old", start.Add(-window))
	if v.Revoked("u", "old", 0) {
		t.Error("a revocation older than the window was kept")
	}
	v.RevokeSession("s1", start)
	v.RevokeUser("u1", 1, start)
	c.Advance(window - time.Nanosecond)
	if v.Prune() != 0 || !v.Revoked("u", "s1", 0) || !v.Revoked("u1", "x", 0) {
		t.Fatal("a revocation was dropped inside its window")
	}
	// A later revocation of the same session extends it.
	v.RevokeSession("s1", c.Now())
	c.Advance(time.Nanosecond)
	if n := v.Prune(); n != 1 {
		t.Fatalf("Prune = %d; want the user entry only", n)
	}
	if !v.Revoked("u", "s1", 0) || v.Revoked("u1", "x", 0) {
		t.Error("Prune dropped the wrong entries")
	}
}

func TestGrowsAndShrinks(t *testing.T) {
	c := newFakeClock()
	v := newView(t, c)
	const n = 20 * minBuckets
	for i := range n {
		v.RevokeSession("s-"+strconv.Itoa(i), c.Now())
	}
	if got := v.Stats().Sessions; got != n {
		t.Fatalf("%d entries; want %d", got, n)
	}
	if b := len(v.sessions.Load().buckets); b < n {
		t.Errorf("%d buckets for %d entries; want at least one each", b, n)
	}
	for i := range n {
		if !v.Revoked("u", "s-"+strconv.Itoa(i), 0) {
			t.Fatalf("s-%d lost while growing", i)
		}
	}
	if v.Revoked("u", "s-"+strconv.Itoa(n), 0) {
		t.Fatal("an id never revoked was found")
	}
	c.Advance(window)
	for i := range 10 {
		v.RevokeSession("new-"+strconv.Itoa(i), c.Now())
	}
	if got := v.Prune(); got != n {
		t.Fatalf("Prune = %d; want %d", got, n)
	}
	if b := len(v.sessions.Load().buckets); b != minBuckets {
		t.Errorf("%d buckets left for 10 entries; want %d", b, minBuckets)
	}
	for i := range 10 {
		if !v.Revoked("u", "new-"+strconv.Itoa(i), 0) {
			t.Fatalf("new-%d lost while shrinking", i)
		}
	}
}

// Readers walk lists while the writer grows, merges and prunes them; under
// -race this proves the lookups need no lock.
func TestConcurrentReadersAndWriters(t *testing.T) {
	c := newFakeClock()
	v := newView(t, c)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				id := "s-" + strconv.Itoa((i*7+r)%5000)
				if v.Revoked("u-"+strconv.Itoa(i%50), id, int64(i%3)) && strings.HasPrefix(id, "never") {
					t.Error("impossible")
				}
			}
		})
	}
	for i := range 5000 {
		v.RevokeSession("s-"+strconv.Itoa(i), c.Now())
		v.RevokeUser("u-"+strconv.Itoa(i%50), int64(i%5), c.Now())
		if i%1000 == 0 {
			c.Advance(window / 4)
			v.Prune()
		}
	}
	stop.Store(true)
	wg.Wait()
	// Every session written in the last window is still there.
	if !v.Revoked("u", "s-4999", 0) {
		t.Error("the newest revocation is missing")
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	c := newFakeClock()
	v := newView(t, c, func(o *Options) { o.MaxStaleness = 5 * time.Second; o.Fallback = &fallback{} })
	for i := range 10_000 {
		v.RevokeSession("s-"+strconv.Itoa(i), c.Now())
		v.RevokeUser("u-"+strconv.Itoa(i), 2, c.Now())
	}
	v.Confirm(c.Now())
	sid, uid := "3f8a1e52-1d7c-4c3a-9a57-0f7c2b1d9e11", "u-17"
	allocs := testing.AllocsPerRun(1000, func() {
		if err := v.CheckAccess(context.Background(), uid, sid, 2); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("CheckAccess allocates %v times per call; want 0", allocs)
	}
}

func TestStalenessSendsChecksToTheStore(t *testing.T) {
	c := newFakeClock()
	var logs bytes.Buffer
	fb := &fallback{revoked: map[string]bool{"gone": true}}
	v := newView(t, c, func(o *Options) {
		o.MaxStaleness = 5 * time.Second
		o.Fallback = fb
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	// Before any feed confirms it, the view knows nothing.
	if !v.MustCheckStore() {
		t.Fatal("a view never confirmed is not stale")
	}
	v.Confirm(c.Now())
	if v.MustCheckStore() {
		t.Fatal("a view just confirmed is stale")
	}
	if err := v.CheckAccess(t.Context(), "u", "gone", 0); err != nil || fb.calls.Load() != 0 {
		t.Fatalf("a current view asked the store (%d calls, %v)", fb.calls.Load(), err)
	}
	c.Advance(5 * time.Second)
	if v.MustCheckStore() {
		t.Fatal("stale at exactly the bound")
	}
	c.Advance(time.Millisecond)
	if !v.MustCheckStore() {
		t.Fatal("not stale past the bound")
	}
	err := v.CheckAccess(t.Context(), "u", "gone", 0)
	if !errors.Is(err, auth.Unauthenticated(auth.ReasonSessionRevoked)) || fb.calls.Load() != 1 {
		t.Fatalf("stale CheckAccess = %v after %d store calls; want SESSION_REVOKED from one", err, fb.calls.Load())
	}
	if err := v.CheckAccess(t.Context(), "u", "live", 0); err != nil {
		t.Fatalf("stale CheckAccess of a live session = %v", err)
	}
	// The store down too: the view's own answer stands.
	fb.mu.Lock()
	fb.err = auth.Unavailable(errors.New("connection refused"))
	fb.mu.Unlock()
	if err := v.CheckAccess(t.Context(), "u", "gone", 0); err != nil {
		t.Fatalf("CheckAccess with the store down = %v; want the view's answer", err)
	}
	// For a second after a failure the store is not asked again, so an
	// unreachable database does not cost every request a timeout.
	calls := fb.calls.Load()
	if err := v.CheckAccess(t.Context(), "u", "gone", 0); err != nil || fb.calls.Load() != calls {
		t.Fatalf("CheckAccess right after a failure = %v after %d more store calls; want the view's answer, no call", err, fb.calls.Load()-calls)
	}
	c.Advance(time.Second)
	v.CheckAccess(t.Context(), "u", "gone", 0)
	if fb.calls.Load() != calls+1 {
		t.Fatal("the store was not asked again a second after the failure")
	}
	v.RevokeSession("mem", c.Now())
	if err := v.CheckAccess(t.Context(), "u", "mem", 0); err == nil {
		t.Fatal("a revocation in memory passed while the store was down")
	}
	s := v.Stats()
	// Two episodes: before the first confirmation, and after 5s without one.
	if s.StaleChecks != 4 || s.FallbackFailures != 2 || s.StaleEpisodes != 2 {
		t.Errorf("Stats = %+v; want 4 stale checks, 2 failures, 2 episodes", s)
	}
	// An older confirmation does not make it current; a new one does.
	v.Confirm(c.Now().Add(-time.Minute))
	if !v.MustCheckStore() {
		t.Fatal("an old confirmation made the view current")
	}
	v.Confirm(c.Now())
	if v.MustCheckStore() {
		t.Fatal("still stale after a confirmation")
	}
	out := logs.String()
	if strings.Count(out, "not caught up yet") != 1 || strings.Count(out, "revocation view is stale") != 1 || strings.Count(out, "current again") != 2 {
		t.Errorf("want one line per transition, got:\n%s", out)
	}
}

func TestInProcessViewIsNeverStale(t *testing.T) {
	c := newFakeClock()
	v := newView(t, c)
	c.Advance(24 * time.Hour)
	if v.MustCheckStore() || v.Staleness() != 0 {
		t.Fatal("a view fed in-process reported staleness")
	}
}

type forgetter struct{ ids []string }

func (f *forgetter) Forget(id string) { f.ids = append(f.ids, id) }

func TestUserNewsReachesTheUserCache(t *testing.T) {
	c := newFakeClock()
	f := &forgetter{}
	v := newView(t, c, func(o *Options) { o.Users = f })
	v.RevokeUser("u1", 2, c.Now())
	v.UserChanged("u2")
	v.RevokeSession("s", c.Now())
	v.Apply(auth.Revocation{UserID: "u3", MinVersion: auth.DeletedVersion, At: c.Now()})
	if strings.Join(f.ids, ",") != "u1,u2,u3" {
		t.Errorf("forgotten %v; want u1,u2,u3", f.ids)
	}
	if !v.Revoked("u3", "x", 5) {
		t.Error("Apply of a deletion did not revoke")
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	c := newFakeClock()
	for name, o := range map[string]Options{
		"no window":              {Clock: c.Now},
		"no clock":               {Window: time.Minute},
		"staleness, no fallback": {Window: time.Minute, Clock: c.Now, MaxStaleness: time.Second},
		"negative staleness":     {Window: time.Minute, Clock: c.Now, MaxStaleness: -1},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			New(o)
		})
	}
}

func TestCollectorsReportStaleness(t *testing.T) {
	c := newFakeClock()
	v := newView(t, c, func(o *Options) { o.MaxStaleness = time.Second; o.Fallback = &fallback{} })
	reg := prometheus.NewRegistry()
	reg.MustRegister(v.Collectors()...)
	v.RevokeSession("s", c.Now())
	v.Confirm(c.Now())
	c.Advance(2 * time.Second)
	v.CheckAccess(t.Context(), "u", "x", 0)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		m := f.GetMetric()[0]
		if m.GetGauge() != nil {
			got[f.GetName()] = m.GetGauge().GetValue()
		} else {
			got[f.GetName()] = m.GetCounter().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"tokengate_revocation_view_stale":               1,
		"tokengate_revocation_view_unconfirmed_seconds": 2,
		"tokengate_revocation_stale_checks_total":       1,
		"tokengate_revocation_view_sessions":            1,
	} {
		if got[name] != want {
			t.Errorf("%s = %v; want %v", name, got[name], want)
		}
	}
}
