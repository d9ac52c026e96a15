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
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/migrations"
)

// versionTable is goose's bookkeeping table, named as in the PostgreSQL
// store.
const versionTable = "tokengate_schema_version"

// Memory is the path that opens a private in-memory database.
const Memory = ":memory:"

// Store is the SQLite auth.Store. It is safe for concurrent use.
type Store struct {
	// w is the only connection that writes.
	w *sql.DB
	// r serves queries; it is w itself for an in-memory database, where
	// every connection would be a separate, empty database.
	r *sql.DB
}

var _ auth.Store = (*Store)(nil)

// options are the knobs tests turn; Open uses the production values.
type options struct {
	// driver is the database/sql driver name, so a test can count the
	// statements a method sends through a wrapping driver.
	driver string
	// busyTimeout is how long a statement waits for another process's lock
	// before it fails as STORE_UNAVAILABLE.
	busyTimeout time.Duration
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
		return &Store{w: db, r: db}, nil
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
	return &Store{w: w, r: r}, nil
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
		q.Add("_pragma", "synchronous(FULL)")
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
	if s.r == s.w {
		return s.w.Close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

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

// CreateUser inserts u, keyed for uniqueness by auth.EmailKey(u.Email).
func (s *Store) CreateUser(ctx context.Context, u auth.User) error {
	// ON CONFLICT names the e-mail key, so only a taken e-mail is skipped;
	// a duplicate id still fails loudly.
	res, err := s.w.ExecContext(ctx, `
		INSERT INTO users (id, email, email_key, name, password_hash, token_version, created_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
		ON CONFLICT (email_key) DO NOTHING`,
		u.ID, u.Email, auth.EmailKey(u.Email), u.Name, hashValue(u.PasswordHash), u.TokenVersion, micros(u.CreatedAt))
	if err != nil {
		return classify("create user", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return classify("create user", err)
	} else if n == 0 {
		return fmt.Errorf("create user: %w", auth.ErrEmailTaken)
	}
	return nil
}

// UserByEmail finds a user by e-mail, case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (auth.User, error) {
	var r userRow
	err := s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = ?1`,
		auth.EmailKey(email)).Scan(r.dest()...)
	if err != nil {
		return auth.User{}, classify("user by email", err)
	}
	return r.value(), nil
}

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id string) (auth.User, error) {
	var r userRow
	err := s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?1`, id).Scan(r.dest()...)
	if err != nil {
		return auth.User{}, classify("user by id", err)
	}
	return r.value(), nil
}

// SetPasswordHash replaces a user's hash, leaving the token counter alone,
// if the hash is still oldHash.
func (s *Store) SetPasswordHash(ctx context.Context, userID string, oldHash, newHash []byte) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET password_hash = ?1 WHERE id = ?2 AND password_hash = ?3`,
		hashValue(newHash), userID, hashValue(oldHash))
	return classify("set password hash", mustAffect(res, err))
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

// ChangePassword replaces the hash, increments the token counter, advances
// keep's generation and revokes the user's other sessions, all or nothing.
func (s *Store) ChangePassword(ctx context.Context, userID, keepSessionID string, hash []byte, now time.Time) (auth.User, auth.Session, error) {
	var u userRow
	var sess sessionRow
	err := s.inTx(ctx, "change password", func(tx *sql.Tx) error {
		ok, err := returningOne(ctx, tx, u.dest(), `
			UPDATE users SET password_hash = ?1, token_version = token_version + 1
			WHERE id = ?2
			RETURNING `+userColumns,
			hashValue(hash), userID)
		if err != nil || !ok {
			return notFoundIfNone(ok, err)
		}
		ok, err = returningOne(ctx, tx, sess.dest(), `
			UPDATE sessions SET generation = generation + 1, rotated_at = ?1
			WHERE id = ?2 AND user_id = ?3 AND revoked_at IS NULL AND expires_at > ?1
			RETURNING `+sessionColumns,
			micros(now), keepSessionID, userID)
		if err != nil || !ok {
			return notFoundIfNone(ok, err)
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE sessions SET revoked_at = ?1
			WHERE user_id = ?2 AND id <> ?3 AND revoked_at IS NULL`,
			micros(now), userID, keepSessionID)
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
	return s.inTx(ctx, "revoke user", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET token_version = token_version + 1 WHERE id = ?1`, userID)
		if err := mustAffect(res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL`,
			micros(now), userID)
		return err
	})
}

// CreateSession inserts sess and, when maxLive > 0, revokes the user's
// oldest sessions live at sess.CreatedAt beyond the newest maxLive. It
// returns ErrNotFound when the user does not exist.
func (s *Store) CreateSession(ctx context.Context, sess auth.Session, maxLive int) error {
	return s.inTx(ctx, "create session", func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?1`, sess.UserID).Scan(&one); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO sessions (`+sessionColumns+`)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)`,
			sess.ID, sess.UserID, sess.Generation, micros(sess.CreatedAt), micros(sess.LastUsedAt),
			micros(sess.RotatedAt), micros(sess.ExpiresAt), micros(sess.MaxExpiresAt), nullMicros(sess.RevokedAt),
			sess.UserAgent, sess.IP)
		if err != nil || maxLive <= 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE sessions SET revoked_at = ?1
			WHERE id IN (
				SELECT id FROM sessions
				WHERE user_id = ?2 AND revoked_at IS NULL AND expires_at > ?1
				ORDER BY created_at DESC, id DESC
				LIMIT -1 OFFSET ?3)`,
			micros(sess.CreatedAt), sess.UserID, maxLive)
		return err
	})
}

// rotateSQL is the whole refresh check in one statement: the WHERE clause is
// the compare-and-swap on the generation, and the scalar subqueries return
// the user in the same step, since SQLite's RETURNING cannot name an
// UPDATE-FROM table.
const rotateSQL = `
	UPDATE sessions SET
		generation   = generation + 1,
		rotated_at   = ?1,
		last_used_at = ?1,
		expires_at   = min(?2, max_expires_at),
		user_agent   = CASE WHEN ?3 = '' THEN user_agent ELSE ?3 END,
		ip           = CASE WHEN ?4 = '' THEN ip ELSE ?4 END
	WHERE id = ?5 AND user_id = ?6 AND generation = ?7
		AND revoked_at IS NULL AND expires_at > ?1
		AND EXISTS (SELECT 1 FROM users WHERE users.id = sessions.user_id AND users.token_version = ?8)
	RETURNING ` + sessionColumns + `,
		(SELECT id            FROM users WHERE users.id = sessions.user_id),
		(SELECT email         FROM users WHERE users.id = sessions.user_id),
		(SELECT name          FROM users WHERE users.id = sessions.user_id),
		(SELECT password_hash FROM users WHERE users.id = sessions.user_id),
		(SELECT token_version FROM users WHERE users.id = sessions.user_id),
		(SELECT created_at    FROM users WHERE users.id = sessions.user_id),
		(SELECT email_verified FROM users WHERE users.id = sessions.user_id)`

// RotateSession advances the session's generation in one statement if and
// only if every condition of the refresh check holds.
func (s *Store) RotateSession(ctx context.Context, r auth.Rotation) (auth.Rotated, bool, error) {
	var sess sessionRow
	var u userRow
	ok, err := returningOne(ctx, s.w, append(sess.dest(), u.dest()...), rotateSQL,
		micros(r.Now), micros(r.ExpiresAt), r.UserAgent, r.IP,
		r.SessionID, r.UserID, r.Generation, r.TokenVersion)
	if err != nil || !ok {
		return auth.Rotated{}, false, classify("rotate session", err)
	}
	return auth.Rotated{Session: sess.value(), User: u.value()}, true, nil
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

// SessionState returns a session and its user.
func (s *Store) SessionState(ctx context.Context, sessionID string) (auth.Session, auth.User, error) {
	var sess sessionRow
	var u userRow
	err := s.r.QueryRowContext(ctx, `
		SELECT s.id, s.user_id, s.generation, s.created_at, s.last_used_at, s.rotated_at,
			s.expires_at, s.max_expires_at, s.revoked_at, s.user_agent, s.ip,
			u.id, u.email, u.name, u.password_hash, u.token_version, u.created_at, u.email_verified
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = ?1`, sessionID).Scan(append(sess.dest(), u.dest()...)...)
	if err != nil {
		return auth.Session{}, auth.User{}, classify("session state", err)
	}
	return sess.value(), u.value(), nil
}

// RevokeSession revokes one of userID's sessions that is live at now.
func (s *Store) RevokeSession(ctx context.Context, userID, sessionID string, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `
		UPDATE sessions SET revoked_at = ?1
		WHERE id = ?2 AND user_id = ?3 AND revoked_at IS NULL AND expires_at > ?1`,
		micros(now), sessionID, userID)
	return classify("revoke session", mustAffect(res, err))
}

// EndSession revokes a session whoever owns it. A session already revoked
// keeps its first revocation time, and one that does not exist (perhaps
// pruned) is already as ended as it can be: neither is an error.
func (s *Store) EndSession(ctx context.Context, sessionID string, now time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL`,
		micros(now), sessionID)
	return classify("end session", err)
}

// ListSessions returns the user's sessions live at now, newest first.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]auth.Session, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2
		ORDER BY created_at DESC, id DESC`, userID, micros(now))
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
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1`, micros(cutoff))
	if err != nil {
		return 0, classify("prune sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, classify("prune sessions", err)
	}
	return n, nil
}
