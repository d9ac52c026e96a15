// Package sqlite is the embedded auth.Store: one SQLite file (or an
// in-memory database) on the pure-Go modernc.org/sqlite driver, so the
// binary needs no C toolchain and no database server.
//
// A file database has one writer connection and a pool of readers. SQLite
// allows one writer at a time; queueing writes on a single connection in Go
// means concurrent refreshes wait their turn instead of failing with
// SQLITE_BUSY, while WAL lets the readers carry on beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tokengate/tokengate/auth"
)

// Memory is the path that opens a private in-memory database.
const Memory = ":memory:"

// Store is the SQLite auth.Store. It is safe for concurrent use.
type Store struct {
	// w is the only connection that writes.
	w *sql.DB
	// r serves queries; it is w itself for an in-memory database, where
	// every connection would be a separate, empty database.
	r *sql.DB
	// rotate is rotateSQL, prepared on w.
	rotate *sql.Stmt
}

var _ auth.Store = (*Store)(nil)

// classify maps a driver error onto the domain's errors, with op as
// context. Lock contention that outlasted busy_timeout, and a file that
// cannot be opened, read or grown, mean the database cannot serve now:
// STORE_UNAVAILABLE, which tells the client to retry.
func classify(op string, err error) error {
	var domain *auth.Error
	var lite *sqlite.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &domain):
		return fmt.Errorf("%s: %w", op, err)
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", op, withCause(auth.ErrNotFound, err))
	case errors.Is(err, context.DeadlineExceeded):
		return auth.Unavailable(fmt.Errorf("%s: %w", op, err))
	case errors.As(err, &lite):
		switch lite.Code() & 0xff { // the primary code, without the extended bits
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL:
			return auth.Unavailable(fmt.Errorf("%s: %w", op, err))
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// withCause returns a copy of a domain sentinel carrying the driver's
// error, so errors.Is still matches the sentinel and the logs keep the cause.
func withCause(sentinel *auth.Error, cause error) error {
	e := *sentinel
	e.Err = cause
	return &e
}

// The columns every query reads, in the order scan expects them.
const (
	userColumns    = `id, email, name, password_hash, token_version, created_at, email_verified`
	sessionColumns = `id, user_id, generation, created_at, last_used_at, rotated_at, expires_at, max_expires_at, revoked_at, user_agent, ip`
)

// micros is how a time is stored: unix microseconds, UTC. Both stores keep
// microseconds, so a time round-trips identically through either.
func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros stores the zero time (not revoked) as NULL.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// userRow and sessionRow receive a row's raw columns; the times arrive as
// integers and become UTC time.Time in value.
type userRow struct {
	u       auth.User
	created int64
}

func (r *userRow) dest() []any {
	return []any{&r.u.ID, &r.u.Email, &r.u.Name, &r.u.PasswordHash, &r.u.TokenVersion, &r.created, &r.u.EmailVerified}
}

func (r *userRow) value() auth.User {
	r.u.CreatedAt = fromMicros(r.created)
	return r.u
}

type sessionRow struct {
	s                                              auth.Session
	created, lastUsed, rotated, expires, maxExpiry int64
	revoked                                        sql.NullInt64
}

func (r *sessionRow) dest() []any {
	return []any{&r.s.ID, &r.s.UserID, &r.s.Generation, &r.created, &r.lastUsed, &r.rotated,
		&r.expires, &r.maxExpiry, &r.revoked, &r.s.UserAgent, &r.s.IP}
}

func (r *sessionRow) value() auth.Session {
	r.s.CreatedAt = fromMicros(r.created)
	r.s.LastUsedAt = fromMicros(r.lastUsed)
	r.s.RotatedAt = fromMicros(r.rotated)
	r.s.ExpiresAt = fromMicros(r.expires)
	r.s.MaxExpiresAt = fromMicros(r.maxExpiry)
	r.s.RevokedAt = time.Time{}
	if r.revoked.Valid {
		r.s.RevokedAt = fromMicros(r.revoked.Int64)
	}
	return r.s
}

// hashValue keeps a nil hash from becoming NULL in a NOT NULL column.
func hashValue(h []byte) []byte {
	if h == nil {
		return []byte{}
	}
	return h
}

// inTx runs fn in one write transaction (BEGIN IMMEDIATE), committing only
// if fn succeeds.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return classify(op, err)
	}
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(classify(op, err), fmt.Errorf("%s: rollback: %w", op, rbErr))
		}
		return classify(op, err)
	}
	return classify(op, tx.Commit())
}

// notFoundIfNone is the error for a statement that returned no row.
func notFoundIfNone(found bool, err error) error {
	if err == nil && !found {
		return auth.ErrNotFound
	}
	return err
}

// mustAffect turns an UPDATE that matched no row into ErrNotFound.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return auth.ErrNotFound
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// returningOne runs a statement whose RETURNING clause yields at most one
// row, scans it into dest, and reports whether there was one. It steps the
// statement to its end rather than stopping at the row, because outside a
// transaction SQLite commits only then: a commit that fails must fail the
// call, not pass unnoticed after the row has been read.
func returningOne(ctx context.Context, q querier, dest []any, query string, args ...any) (bool, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	return oneRow(rows, err, dest)
}

// oneRow is returningOne for rows already queried (a prepared statement's).
func oneRow(rows *sql.Rows, err error, dest []any) (bool, error) {
	if err != nil {
		return false, err
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		if found {
			return false, errors.New("statement returned more than one row")
		}
		if err := rows.Scan(dest...); err != nil {
			return false, err
		}
		found = true
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	return found, rows.Close()
}

// storable reports whether every id or key can name a row. PostgreSQL's
// text holds neither NUL nor invalid UTF-8, and fails the statement when
// sent one (an internal error, logged); such a string names no user or
// session, so every method answers for it as for an unknown one, before
// any statement. SQLite would store them, but both stores answer alike.
func storable(keys ...string) bool {
	for _, k := range keys {
		if !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 {
			return false
		}
	}
	return true
}

// noRow is ErrNotFound for op, for a key no row can have.
func noRow(op string) error { return fmt.Errorf("%s: %w", op, auth.ErrNotFound) }
