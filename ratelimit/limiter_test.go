package ratelimit

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// fakeClock is a settable clock, so refills are tested without waiting.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustSpend(t testing.TB, l *Limiter, key string) {
	t.Helper()
	if retry, ok := l.Spend(key); !ok {
		t.Fatalf("Spend(%q) refused (retry after %v); want allowed", key, retry)
	}
}

func mustRefuse(t testing.TB, l *Limiter, key string, wantRetry time.Duration) {
	t.Helper()
	if retry, ok := l.Spend(key); ok || retry != wantRetry {
		t.Fatalf("Spend(%q) = %v, %v; want %v, false", key, retry, ok, wantRetry)
	}
}

func TestBudgetExhaustsAndRefills(t *testing.T) {
	clock := newFakeClock()
	l := New(Rate{N: 10, Per: 15 * time.Minute}, clock.Now)

	if retry, ok := l.Check("a"); !ok || retry != 0 {
		t.Fatalf("Check on a new key = %v, %v; want 0, true", retry, ok)
	}
	if l.Len() != 0 {
		t.Fatalf("Check created a bucket: Len() = %d", l.Len())
	}
	for range 10 {
		if _, ok := l.Check("a"); !ok {
			t.Fatal("Check refused while budget was left")
		}
		mustSpend(t, l, "a")
	}
	// One token comes back every 90s.
	if retry, ok := l.Check("a"); ok || retry != 90*time.Second {
		t.Fatalf("Check on a spent key = %v, %v; want 1m30s, false", retry, ok)
	}
	mustRefuse(t, l, "a", 90*time.Second)

	// Refused attempts spend nothing: the wait only shrinks with time.
	for range 100 {
		l.Spend("a")
	}
	clock.Advance(30 * time.Second)
	mustRefuse(t, l, "a", 60*time.Second)
	clock.Advance(59*time.Second + 500*time.Millisecond)
	// Half a second left rounds up to a whole one.
	mustRefuse(t, l, "a", time.Second)
	if retry, ok := l.Check("a"); ok || retry != time.Second {
		t.Fatalf("Check = %v, %v; want 1s, false", retry, ok)
	}
	clock.Advance(500 * time.Millisecond)
	if _, ok := l.Check("a"); !ok {
		t.Fatal("Check refused after one token refilled")
	}
	mustSpend(t, l, "a")
	mustRefuse(t, l, "a", 90*time.Second)

	// A whole period refills the whole budget, and no more.
	clock.Advance(time.Hour)
	for range 10 {
		mustSpend(t, l, "a")
	}
	mustRefuse(t, l, "a", 90*time.Second)
}

func TestRetryAfterIsWholeSecondsAtLeastOne(t *testing.T) {
	clock := newFakeClock()
	// One token every 100ms: the raw wait is under a second.
	l := New(Rate{N: 10, Per: time.Second}, clock.Now)
	for range 10 {
		mustSpend(t, l, "k")
	}
	mustRefuse(t, l, "k", time.Second)
	if retry, ok := l.Check("k"); ok || retry != time.Second {
		t.Fatalf("Check = %v, %v; want 1s, false", retry, ok)
	}
	clock.Advance(100 * time.Millisecond)
	mustSpend(t, l, "k")
}

func TestKeysAreIndependent(t *testing.T) {
	clock := newFakeClock()
	l := New(Rate{N: 3, Per: time.Minute}, clock.Now)
	for range 1000 {
		l.Spend("flooded")
	}
	mustRefuse(t, l, "flooded", 20*time.Second)
	for _, key := range []string{"other", "", "flooded ", "Flooded"} {
		for range 3 {
			mustSpend(t, l, key)
		}
		mustRefuse(t, l, key, 20*time.Second)
	}
}

func TestConcurrentSpendNeverExceedsBurst(t *testing.T) {
	clock := newFakeClock()
	const burst = 7
	l := New(Rate{N: burst, Per: time.Hour}, clock.Now)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 20 {
				if _, ok := l.Spend("shared"); ok {
					allowed.Add(1)
				}
				l.Check("shared")
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != burst {
		t.Fatalf("%d concurrent spends allowed; want exactly the burst, %d", got, burst)
	}
}

func TestMemoryIsBounded(t *testing.T) {
	clock := newFakeClock()
	const maxKeys = 1000
	l := New(Rate{N: 5, Per: time.Minute}, clock.Now, MaxKeys(maxKeys))
	for i := range 50 * maxKeys {
		l.Spend("spoofed-" + strconv.Itoa(i))
		if i%997 == 0 && l.Len() > maxKeys {
			t.Fatalf("after %d keys Len() = %d; want at most %d", i+1, l.Len(), maxKeys)
		}
	}
	if n := l.Len(); n > maxKeys {
		t.Fatalf("Len() = %d; want at most %d", n, maxKeys)
	}
}

func TestFloodDoesNotResetAHammeredKey(t *testing.T) {
	clock := newFakeClock()
	l := New(Rate{N: 10, Per: 15 * time.Minute}, clock.Now, MaxKeys(640))
	for range 10 {
		mustSpend(t, l, "victim@example.com")
	}
	// Distinct keys each spending one attempt have more budget left than
	// the victim, so eviction takes them first.
	for i := range 100_000 {
		l.Spend("flood-" + strconv.Itoa(i))
	}
	mustRefuse(t, l, "victim@example.com", 90*time.Second)
}

// putBucket puts key straight into shard s, as Spend would after spending n
// attempts, so eviction is tested on a known shard.
func putBucket(l *Limiter, s *shard, key string, n int, now time.Time) {
	lim := rate.NewLimiter(l.limit, l.rate.N)
	lim.AllowN(now, n)
	s.buckets[key] = bucket{lim: lim, fullAt: l.fullAt(lim, now)}
}

func TestEvictTakesIdleBucketsFirst(t *testing.T) {
	clock := newFakeClock()
	l := New(Rate{N: 2, Per: time.Minute}, clock.Now, MaxKeys(maxShards*100))
	s := &l.shards[0]
	for i := range 50 {
		putBucket(l, s, "idle-"+strconv.Itoa(i), 2, clock.Now())
	}
	clock.Advance(time.Minute)
	for i := range 50 {
		putBucket(l, s, "busy-"+strconv.Itoa(i), 1, clock.Now())
	}
	l.evict(s, clock.Now())
	if len(s.buckets) != 50 {
		t.Fatalf("%d buckets left; want the 50 busy ones", len(s.buckets))
	}
	for key := range s.buckets {
		if !strings.HasPrefix(key, "busy-") {
			t.Errorf("evict kept %q", key)
		}
	}
}

func TestEvictTakesFullestBucketsWhenNoneIsIdle(t *testing.T) {
	clock := newFakeClock()
	l := New(Rate{N: 100, Per: time.Minute}, clock.Now, MaxKeys(maxShards*100))
	s := &l.shards[0]
	// Bucket i has i+1 tokens spent, so the lowest-numbered have most left.
	for i := range 100 {
		putBucket(l, s, strconv.Itoa(i), i+1, clock.Now())
	}
	l.evict(s, clock.Now())
	if want := 100 - l.batch; len(s.buckets) != want {
		t.Fatalf("%d buckets left; want %d", len(s.buckets), want)
	}
	for i := range l.batch {
		if _, ok := s.buckets[strconv.Itoa(i)]; ok {
			t.Errorf("bucket %d, among the fullest, was kept", i)
		}
	}
	for _, c := range s.scratch[:cap(s.scratch)] {
		if c.key != "" {
			t.Fatalf("scratch keeps evicted key %q alive", c.key)
		}
	}
}

func TestMaxKeysBelowShardCount(t *testing.T) {
	clock := newFakeClock()
	l := New(Rate{N: 1, Per: time.Minute}, clock.Now, MaxKeys(3))
	for i := range 100 {
		l.Spend(strconv.Itoa(i))
	}
	if n := l.Len(); n > 3 {
		t.Fatalf("Len() = %d; want at most 3", n)
	}
}

func TestNewPanicsOnBadConfiguration(t *testing.T) {
	clock := newFakeClock()
	for name, build := range map[string]func(){
		"zero rate":   func() { New(Rate{}, clock.Now) },
		"zero period": func() { New(Rate{N: 1}, clock.Now) },
		"no clock":    func() { New(Rate{N: 1, Per: time.Second}, nil) },
		"zero keys":   func() { New(Rate{N: 1, Per: time.Second}, clock.Now, MaxKeys(0)) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			build()
		})
	}
}

func BenchmarkSpendDistinctKeys(b *testing.B) {
	clock := newFakeClock()
	l := New(Rate{N: 300, Per: time.Minute}, clock.Now)
	keys := make([]string, 1<<18)
	for i := range keys {
		keys[i] = "203.0.113." + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		l.Spend(keys[i&(len(keys)-1)])
		i++
	}
}

func BenchmarkSpendDistinctKeysParallel(b *testing.B) {
	clock := newFakeClock()
	l := New(Rate{N: 300, Per: time.Minute}, clock.Now)
	keys := make([]string, 1<<18)
	for i := range keys {
		keys[i] = "203.0.113." + strconv.Itoa(i)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) * 7919)
		for pb.Next() {
			l.Spend(keys[i&(len(keys)-1)])
			i++
		}
	})
}

func BenchmarkSpendOneKey(b *testing.B) {
	clock := newFakeClock()
	l := New(Rate{N: 300, Per: time.Minute}, clock.Now)
	b.ReportAllocs()
	for b.Loop() {
		l.Spend("198.51.100.7")
	}
}
