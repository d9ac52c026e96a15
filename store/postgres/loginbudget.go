package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokengate/tokengate/auth"
)

// LoginBudget is the failed-login budget per account kept in PostgreSQL, so
// that every instance on one database spends the same budget (API.md
// section 5). It implements auth.Limiter: Check is one primary-key read,
// Spend one INSERT … ON CONFLICT … RETURNING on an UNLOGGED table.
//
// The budget is N failures per Per, as GCRA (the same long-run bound as
// ratelimit.Limiter), with rising delays inside it instead of a burst and
// then a wall: the first Free failures in a row cost nothing, then each one
// makes the account wait BaseDelay, doubling, never more than Per/N. A few
// typos cost their owner nothing or seconds, and someone guessing cannot
// spend the whole budget in one second; the long-run rate stays N per Per.
//
// Put ratelimit.Layered in front of it, so that a flood this instance has
// already refused never reaches the database.
type LoginBudget struct {
	pool     querierExec
	now      auth.Clock
	interval time.Duration // Per / N
	tau      time.Duration // (N-1) * interval: GCRA's burst tolerance
	free     int
	base     time.Duration
	timeout  time.Duration
	failures atomic.Uint64
}

// querierExec is the part of a pool the budget uses.
type querierExec interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var _ auth.Limiter = (*LoginBudget)(nil)

// LoginBudgetConfig configures Store.LoginBudget.
type LoginBudgetConfig struct {
	// N failures per Per: RATE_LIMIT_LOGIN.
	N   int
	Per time.Duration
	// Free is how many failures in a row cost no delay (default 3; it is
	// capped at N).
	Free int
	// BaseDelay is the first delay after the free ones (default 1s).
	BaseDelay time.Duration
	// Clock reads the time.
	Clock auth.Clock
}

// LoginBudget returns the shared failed-login budget on the store's pool.
// It panics on a configuration that cannot work.
func (s *Store) LoginBudget(cfg LoginBudgetConfig) *LoginBudget {
	if cfg.N < 1 || cfg.Per <= 0 || cfg.Clock == nil {
		panic(fmt.Sprintf("postgres: LoginBudget needs N >= 1, Per > 0 and a clock (got %d per %v)", cfg.N, cfg.Per))
	}
	if cfg.Free == 0 {
		cfg.Free = 3
	}
	cfg.Free = min(cfg.Free, cfg.N)
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = time.Second
	}
	interval := cfg.Per / time.Duration(cfg.N)
	return &LoginBudget{
		pool: s.pool, now: cfg.Clock, interval: interval, tau: time.Duration(cfg.N-1) * interval,
		free: cfg.Free, base: min(cfg.BaseDelay, interval), timeout: 2 * time.Second,
	}
}

// budgetKey hashes the account key: the table never holds an address.
func budgetKey(key string) []byte {
	h := sha256.Sum256([]byte("tokengate login budget\x00" + key))
	return h[:]
}

// Failures counts the calls the database could not answer.
func (b *LoginBudget) Failures() uint64 { return b.failures.Load() }

// Check implements auth.Limiter: whether key may try now. A database that
// cannot answer lets the attempt through and is counted in Failures.
func (b *LoginBudget) Check(key string) (time.Duration, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	now := b.now()
	var next time.Time
	err := b.pool.QueryRow(ctx, `SELECT next_at FROM login_budget WHERE key = $1`, budgetKey(key)).Scan(&next)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, true
	case err != nil:
		b.failures.Add(1)
		return 0, true
	case now.Before(next):
		return roundUp(next.Sub(now)), false
	}
	return 0, true
}

// spendSQL is the whole budget in one statement. An attempt before next_at
// is refused and changes nothing; one at or after it is granted and moves
// the row on: the streak grows (or starts again at 1 once the budget was
// full, tat <= now), tat advances by one interval, and next_at becomes the
// later of now plus the streak's delay and GCRA's own earliest time.
// Parameters: $1 key, $2 now, $3 interval, $4 tau, $5 free, $6 base delay.
const spendSQL = `
	INSERT INTO login_budget AS b (key, tat, streak, next_at, granted)
	VALUES ($1, $2::timestamptz + $3::interval, 1,
		greatest($2::timestamptz + CASE WHEN 1 <= $5::int THEN interval '0' ELSE least($3::interval, $6::interval) END,
			$2::timestamptz + $3::interval - $4::interval),
		true)
	ON CONFLICT (key) DO UPDATE SET
		granted = $2 >= b.next_at,
		streak  = CASE WHEN $2 < b.next_at THEN b.streak WHEN b.tat <= $2 THEN 1 ELSE b.streak + 1 END,
		tat     = CASE WHEN $2 < b.next_at THEN b.tat ELSE greatest(b.tat, $2) + $3 END,
		next_at = CASE WHEN $2 < b.next_at THEN b.next_at ELSE greatest(
			$2 + CASE
				WHEN (CASE WHEN b.tat <= $2 THEN 1 ELSE b.streak + 1 END) <= $5 THEN interval '0'
				ELSE least($3, $6 * power(2, least((CASE WHEN b.tat <= $2 THEN 1 ELSE b.streak + 1 END) - $5 - 1, 40))::float8)
			END,
			greatest(b.tat, $2) + $3 - $4) END
	RETURNING granted, next_at`

// Spend implements auth.Limiter: one failed attempt of key. A database that
// cannot answer lets it through and is counted in Failures.
func (b *LoginBudget) Spend(key string) (time.Duration, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	now := ts(b.now())
	var granted bool
	var next time.Time
	err := b.pool.QueryRow(ctx, spendSQL, budgetKey(key), now, b.interval, b.tau, b.free, b.base).Scan(&granted, &next)
	if err != nil {
		b.failures.Add(1)
		return 0, true
	}
	if !granted {
		return roundUp(next.Sub(now)), false
	}
	return 0, true
}

// PruneLoginBudget deletes the rows of accounts whose budget is full again
// at now (forgetting them changes nothing) and returns how many went.
func (s *Store) PruneLoginBudget(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM login_budget WHERE tat <= $1 AND next_at <= $1`, ts(now))
	if err != nil {
		return 0, classify("prune login budget", err)
	}
	return tag.RowsAffected(), nil
}

// roundUp rounds a wait up to whole seconds, at least one, as
// ratelimit.Limiter does: Retry-After is in seconds.
func roundUp(d time.Duration) time.Duration {
	switch {
	case d <= time.Second:
		return time.Second
	case d > math.MaxInt64-time.Second:
		return d.Truncate(time.Second)
	}
	return (d + time.Second - 1).Truncate(time.Second)
}
