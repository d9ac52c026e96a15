package postgres

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/migrations"
)

// versionTable is goose's bookkeeping table. It is named for tokengate so
// that sharing a database with another goose-migrated application cannot
// make either skip the other's migrations.
const versionTable = "tokengate_schema_version"

// defaultConnectTimeout applies when the URL sets no connect_timeout: a
// server that silently drops packets then fails a request (and start-up)
// as unavailable within seconds instead of holding it until its deadline.
const defaultConnectTimeout = 5 * time.Second

// DefaultMaxConns is the pool's size when neither DATABASE_MAX_CONNS nor
// the URL's pool_max_conns sets it, in place of pgxpool's max(4, CPUs).
// Measured on 2 cores under a heavy shared load (bench/README.md, "Pool
// size"): 16 was never the worst of 4, 8, 16 and 32, and 32 brought only a
// worse p99; work that waits for a flush needed more than 4 (1,173
// synchronous refreshes/s at 4, 1,522 at 10). Each connection costs
// the server a backend process (several MiB) out of max_connections, which
// every instance shares.
const DefaultMaxConns = 16

// Open connects to the database at url (a postgres:// URL or a keyword/value
// connection string, where pgxpool's pool_max_conns and friends also
// apply) and applies the migrations.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenMaxConns(ctx, url, 0)
}

// OpenMaxConns is Open with a pool of at most maxConns connections
// (DATABASE_MAX_CONNS). With maxConns 0 the URL's pool_max_conns decides,
// and without one DefaultMaxConns.
func OpenMaxConns(ctx context.Context, url string, maxConns int) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	switch {
	case maxConns > 0:
		cfg.MaxConns = int32(min(maxConns, math.MaxInt32))
	case !strings.Contains(url, "pool_max_conns"):
		// pgxpool cannot say whether the URL set it; the name appears in
		// the string only if it did.
		cfg.MaxConns = DefaultMaxConns
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig is Open for a parsed pool configuration, for a caller that
// tunes the pool or traces its queries. The store owns the pool it creates;
// cfg itself is left as it was.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	cfg = cfg.Copy()
	// The hot statements can only be prepared once the migrations have
	// created their tables, and the pool connects before that: connections
	// made until then skip the preparation and are dropped below.
	var migrated atomic.Bool
	callerAfterConnect := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if callerAfterConnect != nil {
			if err := callerAfterConnect(ctx, c); err != nil {
				return err
			}
		}
		if !migrated.Load() {
			return nil
		}
		return prepareHotStatements(ctx, c)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// Fail at start-up, not at the first request, when the server is wrong
	// or down.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, classify("open postgres", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	migrated.Store(true)
	pool.Reset()
	// Connect once more now, so that a preparation that cannot succeed
	// fails start-up rather than the first request.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, classify("open postgres", err)
	}
	// Read once: a rotation that must be durable commits with this rather
	// than a fixed "on", so an operator's stronger setting (remote_apply
	// with a synchronous standby) holds for it too.
	var durable string
	if err := pool.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&durable); err != nil {
		pool.Close()
		return nil, classify("open postgres", err)
	}
	return &Store{pool: pool, durableCommit: durable}, nil
}

// hotStatements are prepared on every connection as it is made, so that
// PostgreSQL plans each once per connection instead of once per request,
// and pgx reads their rows in the binary format. Without it the rotation
// would be sent unprepared (QueryExecModeExec, to keep it to one round
// trip), parsed and planned on every refresh: measured in bench/, that was
// the largest share of a refresh's cost. pgx caches every other statement
// on first use, one extra round trip per connection.
var hotStatements = []string{rotateSQL, userByIDSQL}

// prepareHotStatements prepares each hot statement under its own text, the
// name pgx looks a query's SQL up by before anything else.
func prepareHotStatements(ctx context.Context, c *pgx.Conn) error {
	for _, sql := range hotStatements {
		if _, err := c.Prepare(ctx, sql, sql); err != nil {
			return fmt.Errorf("prepare statement: %w", err)
		}
	}
	return nil
}

// migrate applies the migrations under goose's session advisory lock, so
// instances starting together take turns and each finds the schema either
// untouched or complete.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	// Probe the lock every second rather than goose's default five: a
	// waiting instance starts sooner. 300 probes is goose's five minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close() // leaves the pool open
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.Postgres(),
		goose.WithSessionLocker(locker),
		goose.WithTableName(versionTable),
		goose.WithGoMigrations(migrations.EmailRekey(migrations.PostgresPlaceholder, auth.EmailKey)),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return classify("migrate postgres", err)
	}
	return nil
}

// Ping reports whether the server answers.
func (s *Store) Ping(ctx context.Context) error {
	return classify("ping", s.pool.Ping(ctx))
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
