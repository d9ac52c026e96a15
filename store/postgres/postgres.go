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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jackc/puddle/v2"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/migrations"
)

// Store is the PostgreSQL auth.Store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var _ auth.Store = (*Store)(nil)

// versionTable is goose's bookkeeping table. It is named for tokengate so
// that sharing a database with another goose-migrated application cannot
// make either skip the other's migrations.
const versionTable = "tokengate_schema_version"

// emailKeyConstraint is the unique constraint on users.email_key
// (migrations/postgres/00001_init.sql).
const emailKeyConstraint = "users_email_key_unique"

// defaultConnectTimeout applies when the URL sets no connect_timeout: a
// server that silently drops packets then fails a request (and start-up)
// as unavailable within seconds instead of holding it until its deadline.
const defaultConnectTimeout = 5 * time.Second

// Open connects to the database at url (a postgres:// URL or a keyword/value
// connection string, where pgxpool's pool_max_conns and friends also
// apply) and applies the migrations.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
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
	return &Store{pool: pool}, nil
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

// CreateUser inserts u, keyed for uniqueness by auth.EmailKey(u.Email).
func (s *Store) CreateUser(ctx context.Context, u auth.User) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO users (id, email, email_key, name, password_hash, token_version, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		u.ID, u.Email, auth.EmailKey(u.Email), u.Name, hashValue(u.PasswordHash), u.TokenVersion, ts(u.CreatedAt))
	return classify("create user", err)
}

// UserByEmail finds a user by e-mail, case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (auth.User, error) {
	var r userRow
	err := s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = $1`,
		auth.EmailKey(email)).Scan(r.dest()...)
	if err != nil {
		return auth.User{}, classify("user by email", err)
	}
	return r.value(), nil
}

const userByIDSQL = `SELECT ` + userColumns + ` FROM users WHERE id = $1`

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id string) (auth.User, error) {
	var r userRow
	err := s.pool.QueryRow(ctx, userByIDSQL, id).Scan(r.dest()...)
	if err != nil {
		return auth.User{}, classify("user by id", err)
	}
	return r.value(), nil
}

// SetPasswordHash replaces a user's hash, leaving the token counter alone,
// if the hash is still oldHash.
func (s *Store) SetPasswordHash(ctx context.Context, userID string, oldHash, newHash []byte) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3`,
		hashValue(newHash), userID, hashValue(oldHash))
	return classify("set password hash", mustAffect(tag, err))
}

// ChangePassword replaces the hash, increments the token counter, advances
// keep's generation and revokes the user's other sessions, all or nothing.
// The user row is locked first, as in every transaction here, so two of
// them never wait on each other in opposite orders.
func (s *Store) ChangePassword(ctx context.Context, userID, keepSessionID string, hash []byte, now time.Time) (auth.User, auth.Session, error) {
	var u userRow
	var sess sessionRow
	err := s.inTx(ctx, "change password", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			UPDATE users SET password_hash = $1, token_version = token_version + 1
			WHERE id = $2
			RETURNING `+userColumns,
			hashValue(hash), userID).Scan(u.dest()...)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `
			UPDATE sessions SET generation = generation + 1, rotated_at = $1
			WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL AND expires_at > $1
			RETURNING `+sessionColumns,
			ts(now), keepSessionID, userID).Scan(sess.dest()...)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE sessions SET revoked_at = $1
			WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL`,
			ts(now), userID, keepSessionID)
		return err
	})
	if err != nil {
		return auth.User{}, auth.Session{}, err
	}
	return u.value(), sess.value(), nil
}

// RevokeUser increments the user's token counter and revokes every session
// of the user that is not revoked yet.
func (s *Store) RevokeUser(ctx context.Context, userID string, now time.Time) error {
	return s.inTx(ctx, "revoke user", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET token_version = token_version + 1 WHERE id = $1`, userID)
		if err := mustAffect(tag, err); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL`,
			ts(now), userID)
		return err
	})
}

// CreateSession inserts sess and, when maxLive > 0, revokes the user's
// oldest sessions live at sess.CreatedAt beyond the newest maxLive. It
// returns ErrNotFound when the user does not exist.
func (s *Store) CreateSession(ctx context.Context, sess auth.Session, maxLive int) error {
	return s.inTx(ctx, "create session", func(tx pgx.Tx) error {
		// Locking the user serializes sign-ins of one user, so two of them
		// cannot each count the other's session out and overshoot the cap.
		// NO KEY UPDATE leaves other sessions' foreign-key checks unblocked.
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`, sess.UserID).Scan(&one); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO sessions (`+sessionColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			sess.ID, sess.UserID, sess.Generation, ts(sess.CreatedAt), ts(sess.LastUsedAt),
			ts(sess.RotatedAt), ts(sess.ExpiresAt), ts(sess.MaxExpiresAt), nullTS(sess.RevokedAt),
			sess.UserAgent, sess.IP)
		if err != nil || maxLive <= 0 {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE sessions SET revoked_at = $1
			WHERE id IN (
				SELECT id FROM sessions
				WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $1
				ORDER BY created_at DESC, id DESC
				OFFSET $3)`,
			ts(sess.CreatedAt), sess.UserID, maxLive)
		return err
	})
}

// rotateSQL is the whole refresh check in one statement: the WHERE clause
// is the compare-and-swap on the generation, joined to the user's token
// counter, and RETURNING hands back the session and the user. Under READ
// COMMITTED, concurrent rotations of one generation queue on the row lock
// and re-check the WHERE clause against the winner's row, so exactly one
// matches.
const rotateSQL = `
	UPDATE sessions AS s SET
		generation   = s.generation + 1,
		rotated_at   = $1,
		last_used_at = $1,
		expires_at   = LEAST($2, s.max_expires_at),
		user_agent   = CASE WHEN $3 = '' THEN s.user_agent ELSE $3 END,
		ip           = CASE WHEN $4 = '' THEN s.ip ELSE $4 END
	FROM users AS u
	WHERE s.id = $5 AND s.user_id = $6 AND s.generation = $7
		AND s.revoked_at IS NULL AND s.expires_at > $1
		AND u.id = s.user_id AND u.token_version = $8
	RETURNING s.id, s.user_id, s.generation, s.created_at, s.last_used_at, s.rotated_at,
		s.expires_at, s.max_expires_at, s.revoked_at, s.user_agent, s.ip,
		u.id, u.email, u.name, u.password_hash, u.token_version, u.created_at, u.email_verified`

// RotateSession advances the session's generation in one statement if and
// only if every condition of the refresh check holds.
func (s *Store) RotateSession(ctx context.Context, r auth.Rotation) (auth.Rotated, bool, error) {
	var sess sessionRow
	var u userRow
	// The statement is prepared on every connection (hotStatements), and
	// pgx then uses it whatever the mode. QueryExecModeExec is for a
	// connection where it is not: parse, bind and execute go together, one
	// round trip, where the default mode would first prepare in another.
	err := s.pool.QueryRow(ctx, rotateSQL, pgx.QueryExecModeExec,
		ts(r.Now), ts(r.ExpiresAt), r.UserAgent, r.IP,
		r.SessionID, r.UserID, r.Generation, r.TokenVersion,
	).Scan(append(sess.dest(), u.dest()...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Rotated{}, false, nil
	}
	if err != nil {
		return auth.Rotated{}, false, classify("rotate session", err)
	}
	return auth.Rotated{Session: sess.value(), User: u.value()}, true, nil
}

// SessionState returns a session and its user.
func (s *Store) SessionState(ctx context.Context, sessionID string) (auth.Session, auth.User, error) {
	var sess sessionRow
	var u userRow
	err := s.pool.QueryRow(ctx, `
		SELECT s.id, s.user_id, s.generation, s.created_at, s.last_used_at, s.rotated_at,
			s.expires_at, s.max_expires_at, s.revoked_at, s.user_agent, s.ip,
			u.id, u.email, u.name, u.password_hash, u.token_version, u.created_at, u.email_verified
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = $1`, sessionID).Scan(append(sess.dest(), u.dest()...)...)
	if err != nil {
		return auth.Session{}, auth.User{}, classify("session state", err)
	}
	return sess.value(), u.value(), nil
}

// RevokeSession revokes one of userID's sessions that is live at now.
func (s *Store) RevokeSession(ctx context.Context, userID, sessionID string, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE sessions SET revoked_at = $1
		WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL AND expires_at > $1`,
		ts(now), sessionID, userID)
	return classify("revoke session", mustAffect(tag, err))
}

// EndSession revokes a session whoever owns it. A session already revoked
// keeps its first revocation time, and one that does not exist (perhaps
// pruned) is already as ended as it can be: neither is an error.
func (s *Store) EndSession(ctx context.Context, sessionID string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`,
		ts(now), sessionID)
	return classify("end session", err)
}

// ListSessions returns the user's sessions live at now, newest first.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]auth.Session, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at DESC, id DESC`, userID, ts(now))
	if err != nil {
		return nil, classify("list sessions", err)
	}
	defer rows.Close()
	// Not nil: an empty list is still a list to the JSON edge.
	list := []auth.Session{}
	for rows.Next() {
		var r sessionRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, classify("list sessions", err)
		}
		list = append(list, r.value())
	}
	if err := rows.Err(); err != nil {
		return nil, classify("list sessions", err)
	}
	return list, nil
}

// PruneSessions deletes the sessions that expired or were revoked before
// cutoff.
func (s *Store) PruneSessions(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1`, ts(cutoff))
	if err != nil {
		return 0, classify("prune sessions", err)
	}
	return tag.RowsAffected(), nil
}
