// Package revocation is the in-memory revocation view of API.md section 9:
// the sessions that ended and, per user, the lowest token counter still
// valid, over the last access-token lifetime plus leeway. The access path
// asks it about every access token with two lock-free lookups and no
// allocation; feeds (the PostgreSQL listener, the SQLite follower of this
// package, the Service on the instance that made the change) fill it
// through auth.RevocationSink.
//
// A View fed from another process also knows when it last heard that it is
// current; past its staleness bound it sends each check to the store (one
// indexed read) until a feed confirms it again. See docs/revocation.md.
package revocation

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// Options configure a View. Window and Clock are required.
type Options struct {
	// Window is how long a revocation is kept: ACCESS_TOKEN_TTL plus the
	// clock leeway, after which every token it could refuse has expired.
	Window time.Duration
	// MaxStaleness is REVOCATION_MAX_STALENESS: how long the View may go
	// without a feed's Confirm before checks go to Fallback. Zero means the
	// View is fed in-process only (one SQLite instance) and is never stale.
	MaxStaleness time.Duration
	// Fallback answers checks while the View is stale. Required when
	// MaxStaleness is set.
	Fallback auth.RevocationLog
	// FallbackTimeout bounds one Fallback check (default 500ms), so that a
	// database that stopped answering costs a request at most that.
	FallbackTimeout time.Duration
	// Users is told about every user a revocation or change names, so a
	// cache of users (package usercache) drops its copy. Optional.
	Users interface{ Forget(userID string) }
	// Clock reads the time; the View never calls time.Now itself.
	Clock auth.Clock
	// Logger receives the lines about staleness. Optional.
	Logger *slog.Logger
}

// View is the revocation view. It implements auth.RevocationSink (its
// feeds' side) and auth.RevocationChecker (the access path's side). All of
// its methods are safe for concurrent use; lookups never wait for a writer.
type View struct {
	opts           Options
	seedA, seedB   maphash.Seed
	sessions       atomic.Pointer[table]
	users          atomic.Pointer[table]
	mu             sync.Mutex // serialises writers
	confirmedNanos atomic.Int64
	// stale is whether the last check found the View stale, so the log
	// line and the counter mark transitions rather than every request.
	stale         atomic.Bool
	everConfirmed atomic.Bool
	staleChecks   atomic.Uint64
	fallbackFails atomic.Uint64
	staleEpisodes atomic.Uint64
	// skipFallbackUntil (unix nanoseconds) is set after a failed store
	// check: until then the view's own answer stands without asking, so an
	// unreachable database does not cost every request a timeout.
	skipFallbackUntil atomic.Int64
	// writes counts puts since the last prune, so pruning is amortised over
	// writes and needs no timer of its own.
	writes int
}

var (
	_ auth.RevocationSink    = (*View)(nil)
	_ auth.RevocationChecker = (*View)(nil)
)

// New returns an empty View. It panics on a configuration that cannot
// work, at start-up rather than per request.
func New(opts Options) *View {
	if opts.Window <= 0 {
		panic("revocation: Options.Window must be positive")
	}
	if opts.Clock == nil {
		panic("revocation: Options.Clock is required")
	}
	if opts.MaxStaleness < 0 {
		panic("revocation: Options.MaxStaleness must not be negative")
	}
	if opts.MaxStaleness > 0 && opts.Fallback == nil {
		panic("revocation: Options.Fallback is required with MaxStaleness")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FallbackTimeout <= 0 {
		opts.FallbackTimeout = 500 * time.Millisecond
	}
	v := &View{opts: opts, seedA: maphash.MakeSeed(), seedB: maphash.MakeSeed()}
	v.sessions.Store(newTable(minBuckets))
	v.users.Store(newTable(minBuckets))
	// Until a feed confirms it, a View fed from elsewhere knows nothing:
	// it starts stale, so checks go to the store until the first catch-up.
	v.confirmedNanos.Store(opts.Clock().Add(-opts.MaxStaleness - 1).UnixNano())
	return v
}

func (v *View) fingerprint(id string) fingerprint {
	return fingerprint{maphash.String(v.seedA, id), maphash.String(v.seedB, id)}
}

// Revoked reports whether the view holds a revocation of the session, or
// of the user's counter ver. It is the lookup of the access path: no lock,
// no allocation, no I/O, and it does not consider staleness (CheckAccess
// does).
func (v *View) Revoked(userID, sessionID string, ver int64) bool {
	if v.sessions.Load().find(v.fingerprint(sessionID)) != nil {
		return true
	}
	n := v.users.Load().find(v.fingerprint(userID))
	return n != nil && ver < n.minVersion
}

// CheckAccess implements auth.RevocationChecker: nil for a token the view
// has not revoked, Unauthenticated(SESSION_REVOKED) for one it has. While
// the view is stale it asks the store; if the store cannot answer either,
// the view's own answer stands (the token keeps working through the
// outage, API.md section 9) and the failure is counted.
func (v *View) CheckAccess(ctx context.Context, userID, sessionID string, ver int64) error {
	if v.Revoked(userID, sessionID, ver) {
		return auth.Unauthenticated(auth.ReasonSessionRevoked)
	}
	if !v.MustCheckStore() {
		return nil
	}
	now := v.opts.Clock().UnixNano()
	if now < v.skipFallbackUntil.Load() {
		return nil
	}
	v.staleChecks.Add(1)
	ctx, cancel := context.WithTimeout(ctx, v.opts.FallbackTimeout)
	defer cancel()
	revoked, err := v.opts.Fallback.AccessRevoked(ctx, sessionID, ver)
	if err != nil {
		v.fallbackFails.Add(1)
		v.skipFallbackUntil.Store(now + int64(fallbackPause))
		return nil
	}
	if revoked {
		return auth.Unauthenticated(auth.ReasonSessionRevoked)
	}
	return nil
}

// fallbackPause is how long a failed store check stops further ones.
const fallbackPause = time.Second

// MustCheckStore reports whether no feed has confirmed the view for longer
// than MaxStaleness, so that the access path must check each token in the
// store. It is a clock read and two atomic loads. The first call that finds
// the view stale (and the first that finds it current again) writes a log
// line.
func (v *View) MustCheckStore() bool {
	if v.opts.MaxStaleness == 0 {
		return false
	}
	stale := v.isStale()
	if stale && !v.stale.Load() && v.stale.CompareAndSwap(false, true) {
		v.staleEpisodes.Add(1)
		if !v.everConfirmed.Load() {
			v.opts.Logger.Info("revocation view not caught up yet: checking access tokens in the store until it is")
			return true
		}
		v.opts.Logger.Warn("revocation view is stale: checking access tokens in the store until it is confirmed",
			"unconfirmed_for", v.Staleness().Round(time.Millisecond).String(),
			"max_staleness", v.opts.MaxStaleness.String())
	}
	return stale
}

// Confirm implements auth.RevocationSink: every revocation committed by
// asOf has been delivered. An older asOf than one already confirmed
// changes nothing.
func (v *View) Confirm(asOf time.Time) {
	t := asOf.UnixNano()
	for {
		old := v.confirmedNanos.Load()
		if t <= old || v.confirmedNanos.CompareAndSwap(old, t) {
			break
		}
	}
	v.everConfirmed.Store(true)
	if v.stale.Load() && !v.isStale() && v.stale.CompareAndSwap(true, false) {
		v.opts.Logger.Info("revocation view is current again: access tokens are checked in memory")
	}
}

// isStale is MustCheckStore without the log line.
func (v *View) isStale() bool {
	if v.opts.MaxStaleness == 0 {
		return false
	}
	return v.opts.Clock().UnixNano()-v.confirmedNanos.Load() > int64(v.opts.MaxStaleness)
}

// Staleness returns how long ago a feed last confirmed the view (zero for
// a view fed in-process only).
func (v *View) Staleness() time.Duration {
	if v.opts.MaxStaleness == 0 {
		return 0
	}
	return time.Duration(v.opts.Clock().UnixNano() - v.confirmedNanos.Load())
}

// RevokeSession implements auth.RevocationSink.
func (v *View) RevokeSession(sessionID string, at time.Time) {
	v.put(&v.sessions, v.fingerprint(sessionID), at, 0)
}

// RevokeUser implements auth.RevocationSink. A user revocation also tells
// Options.Users to drop the user.
func (v *View) RevokeUser(userID string, minVersion int64, at time.Time) {
	v.put(&v.users, v.fingerprint(userID), at, minVersion)
	v.UserChanged(userID)
}

// UserChanged implements auth.RevocationSink by passing the news to
// Options.Users.
func (v *View) UserChanged(userID string) {
	if v.opts.Users != nil {
		v.opts.Users.Forget(userID)
	}
}

// Apply records a revocation read from the store's log.
func (v *View) Apply(r auth.Revocation) {
	if r.SessionID != "" {
		v.RevokeSession(r.SessionID, r.At)
		return
	}
	v.RevokeUser(r.UserID, r.MinVersion, r.At)
}

// pruneEvery is how many writes pass between two sweeps of expired
// entries, so a sweep's cost (a pass over the buckets) is spread thin.
const pruneEvery = 4096

func (v *View) put(p *atomic.Pointer[table], fp fingerprint, at time.Time, minVersion int64) {
	until := at.Add(v.opts.Window).UnixNano()
	now := v.opts.Clock().UnixNano()
	if until <= now {
		// Every token it could refuse has expired already.
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	t := p.Load()
	if t.put(fp, until, minVersion) && t.count > len(t.buckets) {
		p.Store(t.resized(2 * len(t.buckets)))
	}
	v.writes++
	if v.writes >= pruneEvery {
		v.pruneLocked(now)
	}
}

// Prune drops the revocations that can no longer matter and returns how
// many went. Writes prune as they go; a caller with a timer may call it
// too, so an idle View gives its memory back.
func (v *View) Prune() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.pruneLocked(v.opts.Clock().UnixNano())
}

func (v *View) pruneLocked(now int64) int {
	v.writes = 0
	n := 0
	for _, p := range []*atomic.Pointer[table]{&v.sessions, &v.users} {
		t := p.Load()
		n += t.prune(now)
		// Shrink once a table is under a quarter full, so the memory of a
		// past burst comes back.
		if size := len(t.buckets); size > minBuckets && t.count < size/4 {
			fit := minBuckets
			for fit < t.count {
				fit *= 2
			}
			p.Store(t.resized(fit))
		}
	}
	return n
}

// Stats are a View's counts, for metrics and tests.
type Stats struct {
	Sessions, Users int
	// Staleness is how long since a feed last confirmed the view.
	Staleness time.Duration
	// StaleChecks counts the access checks that went to the store.
	StaleChecks uint64
	// FallbackFailures counts the store checks that failed, letting the
	// view's own answer stand.
	FallbackFailures uint64
	// StaleEpisodes counts the times the view became stale.
	StaleEpisodes uint64
}

// Stats returns the View's counts.
func (v *View) Stats() Stats {
	v.mu.Lock()
	s, u := v.sessions.Load().count, v.users.Load().count
	v.mu.Unlock()
	return Stats{Sessions: s, Users: u, Staleness: v.Staleness(), StaleChecks: v.staleChecks.Load(),
		FallbackFailures: v.fallbackFails.Load(), StaleEpisodes: v.staleEpisodes.Load()}
}

// String describes the View for logs.
func (v *View) String() string {
	s := v.Stats()
	return fmt.Sprintf("revocation view: %d sessions, %d users", s.Sessions, s.Users)
}
