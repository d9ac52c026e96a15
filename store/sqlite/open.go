package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/migrations"
)

// versionTable is goose's bookkeeping table, named as in the PostgreSQL
// store.
const versionTable = "tokengate_schema_version"

// options are the knobs tests turn; Open uses the production values.
type options struct {
	// driver is the database/sql driver name, so a test can count the
	// statements a method sends through a wrapping driver.
	driver string
	// busyTimeout is how long a statement waits for another process's lock
	// before it fails as STORE_UNAVAILABLE.
	busyTimeout time.Duration
	// synchronous is the writer's synchronous pragma, FULL when empty; only
	// BenchmarkRotateSession sets it, to measure what FULL costs.
	synchronous string
}

func defaultOptions() options {
	return options{driver: "sqlite", busyTimeout: 5 * time.Second}
}

// Open opens (creating if need be) the database at path, or a private
// in-memory database for Memory, and applies the migrations. The parent
// directory of a file is created with mode 0700: it holds every password
// hash.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, defaultOptions())
}

func open(ctx context.Context, path string, o options) (*Store, error) {
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	if path == Memory {
		db, err := openDB(ctx, o.driver, memoryDSN(), 1)
		if err != nil {
			return nil, err
		}
		if err := migrate(ctx, db); err != nil {
			return nil, errors.Join(err, db.Close())
		}
		return newStore(ctx, db, db)
	}

	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite: create directory: %w", err)
	}
	// The file holds password hashes: create it private. SQLite gives its
	// -wal and -shm files the database file's mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	f.Close()
	w, err := openDB(ctx, o.driver, fileDSN(abs, o, false), 1)
	if err != nil {
		return nil, err
	}
	// Migrate before the readers open, so the writer has switched the file
	// to WAL before anyone else looks at it.
	if err := migrate(ctx, w); err != nil {
		return nil, errors.Join(err, w.Close())
	}
	r, err := openDB(ctx, o.driver, fileDSN(abs, o, true), max(4, runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, errors.Join(err, w.Close())
	}
	return newStore(ctx, w, r)
}

// newStore prepares the statements of the refresh path on the writer once:
// database/sql prepares a query string at every call otherwise, and for the
// rotation that parse cost more than the update itself.
func newStore(ctx context.Context, w, r *sql.DB) (*Store, error) {
	s := &Store{w: w, r: r}
	var err error
	if s.rotate, err = w.PrepareContext(ctx, rotateSQL); err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite: prepare rotation: %w", err), s.Close())
	}
	return s, nil
}

// openDB opens a pool of at most conns connections and checks that one
// opens, so a bad path fails at start-up rather than at the first request.
func openDB(ctx context.Context, driver, dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	// Never recycle connections: for an in-memory database the connection
	// is the data.
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(classify("open sqlite", err), db.Close())
	}
	return db, nil
}

func memoryDSN() string {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return Memory + "?" + q.Encode()
}

// fileDSN builds a file: URI, so a path containing '?', '#' or '%' is
// escaped rather than cut short.
func fileDSN(abs string, o options, reader bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.busyTimeout.Milliseconds(), 10)+")")
	if reader {
		// A reader never writes; query_only turns a mistake into an error.
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "journal_mode(WAL)")
		// FULL syncs the WAL at every commit: a rotation must be on disk
		// before its tokens are sent, or a crash would resurrect the old
		// generation and reject the client's new refresh token.
		//
		// NORMAL would let rotations (and everything else) commit without
		// the sync, but unlike PostgreSQL's WAL writer nothing then syncs
		// the WAL within a bounded time: a power cut could take back any
		// number of one session's rotations, more than the lost-rotation
		// rule recovers (auth.Store.RotateSession). Measured in
		// bench/README.md ("SQLite").
		sync := o.synchronous
		if sync == "" {
			sync = "FULL"
		}
		q.Add("_pragma", "synchronous("+sync+")")
		// Transactions take the write lock at BEGIN, so two of them can
		// never deadlock upgrading from read to write.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

func migrate(ctx context.Context, db *sql.DB) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.SQLite(),
		goose.WithTableName(versionTable),
		goose.WithGoMigrations(migrations.EmailRekey(migrations.SQLitePlaceholder, auth.EmailKey)),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return classify("migrate sqlite", err)
	}
	return nil
}

// Ping reports whether the store answers a query.
func (s *Store) Ping(ctx context.Context) error {
	return classify("ping", s.r.PingContext(ctx))
}

// Close closes every connection. An in-memory database is gone after it.
func (s *Store) Close() error {
	if s.rotate != nil {
		s.rotate.Close()
	}
	if s.r == s.w {
		return s.w.Close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}
