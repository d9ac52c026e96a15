package ratelimit

import (
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tokengate/tokengate/auth"
)

// DefaultMaxKeys bounds the keys a Limiter remembers unless MaxKeys says
// otherwise: about 30 MB of buckets, enough for every honest client of one
// process, few enough that a flood of spoofed keys cannot exhaust memory.
const DefaultMaxKeys = 100_000

// maxShards spreads keys over this many locks, so concurrent requests for
// different keys rarely wait for each other.
const maxShards = 64

// Limiter is a set of token buckets, one per key, all at the same Rate. It
// implements auth.Limiter and is safe for concurrent use.
//
// Memory is bounded: once a shard is full, a new key first evicts the
// buckets that have refilled completely (forgetting them changes nothing),
// and only then the buckets nearest to full, which lose the least. A flood of
// distinct keys, each spending one attempt, therefore pushes out its own keys
// before it can reset the budget of a key that is being hammered.
type Limiter struct {
	rate     Rate
	limit    rate.Limit
	now      auth.Clock
	seed     maphash.Seed
	shards   []shard
	perShard int
	// batch is how many buckets an eviction frees at least, so that a full
	// shard is scanned once per batch of new keys rather than once per key.
	batch int
}

var _ auth.Limiter = (*Limiter)(nil)

type shard struct {
	mu      sync.Mutex
	buckets map[string]bucket
	// scratch is reused by evict to rank buckets without allocating.
	scratch []candidate
	// Pads the shard past a cache line so neighbouring locks do not share one.
	_ [64]byte
}

// bucket keeps, beside the limiter, when it will be full again. Eviction
// ranks buckets by it without following a pointer to each limiter: under a
// flood of new keys that scan is the cost, and it runs over cold memory.
type bucket struct {
	lim    *rate.Limiter
	fullAt time.Time
}

type candidate struct {
	key    string
	fullAt time.Time
}

// Option adjusts a Limiter built by New.
type Option func(*options)

type options struct {
	maxKeys int
}

// MaxKeys bounds the number of keys the Limiter remembers (DefaultMaxKeys
// when not given). It panics when n is less than 1.
func MaxKeys(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("ratelimit: MaxKeys(%d): need at least 1", n))
	}
	return func(o *options) { o.maxKeys = n }
}

// New returns a Limiter that gives every key the budget r, reading the time
// from now. It panics when r is not a positive rate: a bad configuration
// fails at start-up, never per request.
func New(r Rate, now auth.Clock, opts ...Option) *Limiter {
	if err := r.validate(); err != nil {
		panic(err)
	}
	if now == nil {
		panic("ratelimit: New needs a clock")
	}
	o := options{maxKeys: DefaultMaxKeys}
	for _, opt := range opts {
		opt(&o)
	}
	n := min(maxShards, o.maxKeys)
	l := &Limiter{
		rate:     r,
		limit:    r.limit(),
		now:      now,
		seed:     maphash.MakeSeed(),
		shards:   make([]shard, n),
		perShard: o.maxKeys / n,
	}
	l.batch = max(1, l.perShard/8)
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]bucket)
	}
	return l
}

// Rate returns the budget every key gets.
func (l *Limiter) Rate() Rate { return l.rate }

// Check reports whether key has an attempt left, without spending it. When
// it has none, retryAfter is how long until it has one, rounded up to whole
// seconds.
func (l *Limiter) Check(key string) (retryAfter time.Duration, ok bool) {
	now := l.now()
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	b, found := s.buckets[key]
	if !found {
		// Never seen or forgotten because it refilled: a full bucket. Not
		// creating one keeps Check from growing memory.
		return 0, true
	}
	tokens := b.lim.TokensAt(now)
	if tokens >= 1 {
		return 0, true
	}
	// rate.Limiter.AllowN lets an attempt through when the wait rounds
	// to zero nanoseconds; agree with it so Check never refuses what Spend
	// would allow.
	wait := l.durationFromTokens(1 - tokens)
	if wait <= 0 {
		return 0, true
	}
	return roundUp(wait), false
}

// Spend spends one attempt of key's budget if it has one. When it has none,
// nothing is spent and retryAfter is how long until it has one, rounded up
// to whole seconds: refused attempts do not push the wait further out.
func (l *Limiter) Spend(key string) (retryAfter time.Duration, ok bool) {
	now := l.now()
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	b, found := s.buckets[key]
	if !found {
		if len(s.buckets) >= l.perShard {
			l.evict(s, now)
		}
		b.lim = rate.NewLimiter(l.limit, l.rate.N)
	}
	if !b.lim.AllowN(now, 1) {
		return roundUp(l.durationFromTokens(1 - b.lim.TokensAt(now))), false
	}
	b.fullAt = l.fullAt(b.lim, now)
	s.buckets[key] = b
	return 0, true
}

// Len returns how many keys the Limiter currently remembers.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

func (l *Limiter) shard(key string) *shard {
	return &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
}

// evict makes room in a full shard. Buckets that refilled completely go
// first and all at once: a new bucket would be identical. If that frees
// fewer than a batch, the buckets nearest to full go next; all refill at the
// same rate, so those are the ones with the most tokens left. s.mu must be
// held.
func (l *Limiter) evict(s *shard, now time.Time) {
	before := len(s.buckets)
	for key, b := range s.buckets {
		if !b.fullAt.After(now) {
			delete(s.buckets, key)
			continue
		}
		s.scratch = append(s.scratch, candidate{key: key, fullAt: b.fullAt})
	}
	if need := l.batch - (before - len(s.buckets)); need > 0 {
		slices.SortFunc(s.scratch, func(a, b candidate) int { return a.fullAt.Compare(b.fullAt) })
		for _, c := range s.scratch[:min(need, len(s.scratch))] {
			delete(s.buckets, c.key)
		}
	}
	// Drop the key strings so evicted keys can be collected.
	clear(s.scratch)
	s.scratch = s.scratch[:0]
}

// fullAt is when lim will have refilled completely.
func (l *Limiter) fullAt(lim *rate.Limiter, now time.Time) time.Time {
	return now.Add(l.durationFromTokens(float64(l.rate.N) - lim.TokensAt(now)))
}

// durationFromTokens is how long the bucket takes to gain tokens, computed
// the way rate.Limiter does.
func (l *Limiter) durationFromTokens(tokens float64) time.Duration {
	return time.Duration(tokens / float64(l.limit) * float64(time.Second))
}

// roundUp rounds a wait up to whole seconds, at least one: Retry-After is
// in seconds, and a client told 0 would retry at once.
func roundUp(d time.Duration) time.Duration {
	switch {
	case d <= time.Second:
		return time.Second
	case d > math.MaxInt64-time.Second:
		return d.Truncate(time.Second)
	}
	return (d + time.Second - 1).Truncate(time.Second)
}
