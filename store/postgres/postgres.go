// Package postgres is the PostgreSQL auth.Store, on a pgx connection pool.
// Several tokengate instances may share one database: migrations run under
// an advisory lock, and the refresh check is a single compare-and-swap
// statement, so instances never need to coordinate otherwise.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/tokengate/tokengate/auth"
)

// Store is the PostgreSQL auth.Store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// durableCommit is the server's synchronous_commit as the store's
	// connections get it: what a rotation commits with when it must wait
	// for the disk (rotateSQL), and what every other statement commits
	// with.
	durableCommit string
}

var _ auth.Store = (*Store)(nil)

// emailKeyConstraint is the unique constraint on users.email_key
// (migrations/postgres/00001_init.sql).
const emailKeyConstraint = "users_email_key_unique"

// classify maps a pgx error onto the domain's errors, with op as context.
func classify(op string, err error) error {
	var domain *auth.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &domain):
		return fmt.Errorf("%s: %w", op, err)
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", op, withCause(auth.ErrNotFound, err))
	case emailTaken(err):
		return fmt.Errorf("%s: %w", op, withCause(auth.ErrEmailTaken, err))
	case unavailable(err):
		return auth.Unavailable(fmt.Errorf("%s: %w", op, err))
	}
	return fmt.Errorf("%s: %w", op, err)
}

func emailTaken(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == emailKeyConstraint
}

// unavailable reports a failure to reach or keep the server, as opposed to
// an answer from it: the client should retry, and nothing is wrong with
// the request.
func unavailable(err error) bool {
	// Checked before PgError: a failed connection attempt may carry the
	// server's refusal (too many connections, starting up) inside it.
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", // admin_shutdown: the server is stopping, or the backend was terminated
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now: starting up or in recovery
			"53300": // too_many_connections
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") // connection_exception
	}
	var netErr net.Error
	return errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, puddle.ErrClosedPool) ||
		// A deadline that ran out waiting for the server (to connect, for a
		// free connection, or for an answer) means it is not answering in time.
		errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) ||
		// Failed before anything reached the server.
		pgconn.SafeToRetry(err)
}

// ts is how a time is written: UTC, truncated to the microsecond that
// timestamptz keeps, so both stores hand back exactly the same instant.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullTS writes the zero time (not revoked) as NULL.
func nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// hashValue keeps a nil hash from becoming NULL in a NOT NULL column.
func hashValue(h []byte) []byte {
	if h == nil {
		return []byte{}
	}
	return h
}

// withCause returns a copy of a domain sentinel carrying the driver's
// error, so errors.Is still matches the sentinel and the logs keep the cause.
func withCause(sentinel *auth.Error, cause error) error {
	e := *sentinel
	e.Err = cause
	return &e
}

// The columns every query reads, in the order the scan helpers expect.
const (
	userColumns    = `id, email, name, password_hash, token_version, created_at, email_verified`
	sessionColumns = `id, user_id, generation, created_at, last_used_at, rotated_at, expires_at, max_expires_at, revoked_at, user_agent, ip`
)

// userRow and sessionRow receive a row; value returns it with every time in
// UTC (pgx hands timestamptz back in the local zone).
type userRow struct{ u auth.User }

func (r *userRow) dest() []any {
	return []any{&r.u.ID, &r.u.Email, &r.u.Name, &r.u.PasswordHash, &r.u.TokenVersion, &r.u.CreatedAt, &r.u.EmailVerified}
}

func (r *userRow) value() auth.User {
	r.u.CreatedAt = r.u.CreatedAt.UTC()
	return r.u
}

type sessionRow struct {
	s       auth.Session
	revoked *time.Time
}

func (r *sessionRow) dest() []any {
	return []any{&r.s.ID, &r.s.UserID, &r.s.Generation, &r.s.CreatedAt, &r.s.LastUsedAt, &r.s.RotatedAt,
		&r.s.ExpiresAt, &r.s.MaxExpiresAt, &r.revoked, &r.s.UserAgent, &r.s.IP}
}

func (r *sessionRow) value() auth.Session {
	s := r.s
	for _, t := range []*time.Time{&s.CreatedAt, &s.LastUsedAt, &s.RotatedAt, &s.ExpiresAt, &s.MaxExpiresAt} {
		*t = t.UTC()
	}
	s.RevokedAt = time.Time{}
	if r.revoked != nil {
		s.RevokedAt = r.revoked.UTC()
	}
	return s
}

// mustAffect turns a statement that matched no row into ErrNotFound.
func mustAffect(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// inTx runs fn in one transaction, committing only if fn succeeds.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return classify(op, err)
	}
	if err := fn(tx); err != nil {
		// The rollback's own error adds nothing: the transaction is over
		// either way, and the pool discards a broken connection.
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return classify(op, err)
	}
	return classify(op, tx.Commit(ctx))
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
