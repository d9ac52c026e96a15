package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tokengate/tokengate/auth"
)

// CreateSession inserts sess and, when maxLive > 0, revokes the user's
// oldest sessions live at sess.CreatedAt beyond the newest maxLive. It
// returns ErrNotFound when the user does not exist.
func (s *Store) CreateSession(ctx context.Context, sess auth.Session, maxLive int) error {
	if !storable(sess.UserID) {
		return noRow("create session")
	}
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
//
// The generation matches the token's ($7) or is one behind it: the
// lost-rotation rule (auth.Store.RotateSession). Either way the session
// moves to $7 + 1, the generation after the token's.
//
// The last condition chooses how this statement commits (set_config with
// is_local applies to its own implicit transaction only, and the WHERE
// clause is evaluated on the row version that is updated, re-check
// included). Normally synchronous_commit is off: the commit returns before
// its WAL reaches disk, and a crash loses at most the rotations of the
// last few hundred milliseconds, which the rule recovers, since it loses
// at most one per session. That holds only while no session has two
// rotations waiting for the flush, so a rotation commits with the server's
// own setting ($9) when the session's previous rotation may not be on disk
// yet (rotated within syncWindow) or was lost (the rule was used): its
// commit then flushes the earlier one too.
const rotateSQL = `
	UPDATE sessions AS s SET
		generation   = $7::bigint + 1,
		rotated_at   = $1,
		last_used_at = $1,
		expires_at   = LEAST($2, s.max_expires_at),
		user_agent   = CASE WHEN $3 = '' THEN s.user_agent ELSE $3 END,
		ip           = CASE WHEN $4 = '' THEN s.ip ELSE $4 END
	FROM users AS u
	WHERE s.id = $5 AND s.user_id = $6 AND s.generation IN ($7::bigint, $7::bigint - 1)
		AND s.revoked_at IS NULL AND s.expires_at > $1
		AND u.id = s.user_id AND u.token_version = $8
		AND set_config('synchronous_commit',
			CASE WHEN s.generation <> $7::bigint OR s.rotated_at > $1 - ` + syncWindow + `
				THEN $9 ELSE 'off' END, true) IS NOT NULL
	RETURNING s.id, s.user_id, s.generation, s.created_at, s.last_used_at, s.rotated_at,
		s.expires_at, s.max_expires_at, s.revoked_at, s.user_agent, s.ip,
		u.id, u.email, u.name, u.password_hash, u.token_version, u.created_at, u.email_verified`

// syncWindow is how long after a rotation the next one of the same session
// still commits synchronously. PostgreSQL's WAL writer flushes an
// asynchronous commit within three times wal_writer_delay (200ms by
// default); five times, and never under a second, leaves room for a slow
// flush. It follows the server's setting, and the statement's own clock
// ($1, the caller's, like rotated_at), so a test's clock moves it too.
const syncWindow = `GREATEST(interval '1 second', 5 * current_setting('wal_writer_delay')::interval)`

// RotateSession advances the session's generation in one statement if and
// only if every condition of the refresh check holds, accepting a token one
// generation ahead (a rotation the store lost), and commits without waiting
// for the disk unless the session's previous rotation may still be waiting
// for it (rotateSQL).
func (s *Store) RotateSession(ctx context.Context, r auth.Rotation) (auth.Rotated, bool, error) {
	if !storable(r.SessionID, r.UserID) {
		return auth.Rotated{}, false, nil
	}
	var sess sessionRow
	var u userRow
	// The statement is prepared on every connection (hotStatements), and
	// pgx then uses it whatever the mode. QueryExecModeExec is for a
	// connection where it is not: parse, bind and execute go together, one
	// round trip, where the default mode would first prepare in another.
	err := s.pool.QueryRow(ctx, rotateSQL, pgx.QueryExecModeExec,
		ts(r.Now), ts(r.ExpiresAt), r.UserAgent, r.IP,
		r.SessionID, r.UserID, r.Generation, r.TokenVersion, s.durableCommit,
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
	if !storable(sessionID) {
		return auth.Session{}, auth.User{}, noRow("session state")
	}
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
	if !storable(userID, sessionID) {
		return noRow("revoke session")
	}
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
	if !storable(sessionID) {
		return nil // no such session: already as ended as it can be
	}
	_, err := s.pool.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`,
		ts(now), sessionID)
	return classify("end session", err)
}

// ListSessions returns the user's sessions live at now, newest first.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]auth.Session, error) {
	if !storable(userID) {
		return []auth.Session{}, nil
	}
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
