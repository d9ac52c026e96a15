package revocation

import (
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/google/uuid"
)

// million is the size the issue asks about: 1,000,000 revocations in the
// window.
const million = 1_000_000

// ids returns n session ids shaped like the Service's (UUID strings).
func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = uuid.NewString()
	}
	return out
}

func filledView(b *testing.B, revoked []string) *View {
	b.Helper()
	c := newFakeClock()
	v := newView(b, c)
	for i, id := range revoked {
		v.RevokeSession(id, c.Now())
		if i%4 == 0 {
			v.RevokeUser("user-"+strconv.Itoa(i), 3, c.Now())
		}
	}
	return v
}

// fixture is built once per test binary: a million ids and a View holding
// them take seconds to make, and the benchmarks only read them.
var fixture struct {
	once    sync.Once
	revoked []string
	live    []string
	view    *View
}

func millionView(b *testing.B) (v *View, revoked, live []string) {
	b.Helper()
	fixture.once.Do(func() {
		fixture.revoked = ids(million)
		fixture.live = ids(1 << 12)
		fixture.view = filledView(b, fixture.revoked)
	})
	return fixture.view, fixture.revoked, fixture.live
}

// BenchmarkLookupParallel is the access path's question with a million
// revocations held, from every CPU at once: live tokens, the common case,
// so every lookup misses (the alternatives below do the same).
func BenchmarkLookupParallel(b *testing.B) {
	v, _, live := millionView(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			v.Revoked("user-x", live[i&(len(live)-1)], 3)
			i++
		}
	})
}

// BenchmarkLookupParallelRevoked looks up revoked sessions only: 4096 of
// the million, as the few revoked tokens still presented would be. (Spread
// over all million, the benchmark's own reads of the id strings miss the
// cache and cost more than the lookup.)
func BenchmarkLookupParallelRevoked(b *testing.B) {
	v, revoked, _ := millionView(b)
	hot := revoked[:1<<12]
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if !v.Revoked("user-x", hot[i&(len(hot)-1)], 3) {
				b.Error("a revoked session passed")
			}
			i++
		}
	})
}

// BenchmarkLookupWhileWriting is the same lookup while one writer adds a
// revocation every microsecond or so, as a feed under a logout storm would.
func BenchmarkLookupWhileWriting(b *testing.B) {
	revoked := ids(million)
	live := ids(1 << 12)
	v := filledView(b, revoked) // its own: the writer changes it
	c := newFakeClock()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		more := ids(1 << 16)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v.RevokeSession(more[i&(len(more)-1)], c.Now())
		}
	})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			v.Revoked("user-x", live[i&(len(live)-1)], 3)
			i++
		}
	})
	b.StopTimer()
	close(stop)
	wg.Wait()
}

// BenchmarkSyncMapLookupParallel and BenchmarkRWMutexMapLookupParallel are
// the alternatives the View was measured against (docs/revocation.md).
func BenchmarkSyncMapLookupParallel(b *testing.B) {
	_, revoked, live := millionView(b)
	var m sync.Map
	for _, id := range revoked {
		m.Store(id, int64(1))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			// Two lookups, as the View makes: the session and the user.
			m.Load(live[i&(len(live)-1)])
			m.Load("user-x")
			i++
		}
	})
}

func BenchmarkRWMutexMapLookupParallel(b *testing.B) {
	_, revoked, live := millionView(b)
	var mu sync.RWMutex
	m := make(map[string]int64, million)
	for _, id := range revoked {
		m[id] = 1
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			mu.RLock()
			_ = m[live[i&(len(live)-1)]]
			_ = m["user-x"]
			mu.RUnlock()
			i++
		}
	})
}

// BenchmarkMemoryMillion reports the heap a View holds for a million
// session revocations (bytes/revocation and MB), measured after a GC with
// the ids themselves kept out of the figure.
func BenchmarkMemoryMillion(b *testing.B) {
	revoked := ids(million)
	c := newFakeClock()
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		v := newView(b, c)
		for _, id := range revoked {
			v.RevokeSession(id, c.Now())
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		b.ReportMetric(held/million, "B/revocation")
		b.ReportMetric(held/(1<<20), "MiB")
		runtime.KeepAlive(v)
	}
}

// BenchmarkRevoke is the writer's cost per revocation, growth included.
func BenchmarkRevoke(b *testing.B) {
	revoked := ids(million)
	c := newFakeClock()
	v := newView(b, c)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		v.RevokeSession(revoked[i%million], c.Now())
		i++
	}
}
