package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// CreateSession inserts sess and, when maxLive > 0, revokes the user's
// oldest sessions live at sess.CreatedAt beyond the newest maxLive. It
// returns ErrNotFound when the user does not exist.
func (s *Store) CreateSession(ctx context.Context, sess auth.Session, maxLive int) error {
	if !storable(sess.UserID) {
		return noRow("create session")
	}
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
// UPDATE-FROM table. The generation may be one behind the token's (the
// lost-rotation rule, auth.Store.RotateSession); the session moves to the
// one after the token's either way.
const rotateSQL = `
	UPDATE sessions SET
		generation   = ?7 + 1,
		rotated_at   = ?1,
		last_used_at = ?1,
		expires_at   = min(?2, max_expires_at),
		user_agent   = CASE WHEN ?3 = '' THEN user_agent ELSE ?3 END,
		ip           = CASE WHEN ?4 = '' THEN ip ELSE ?4 END
	WHERE id = ?5 AND user_id = ?6 AND generation IN (?7, ?7 - 1)
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
// only if every condition of the refresh check holds, accepting a token one
// generation ahead (a rotation the store lost). It commits like every other
// write, with synchronous=FULL (see fileDSN).
func (s *Store) RotateSession(ctx context.Context, r auth.Rotation) (auth.Rotated, bool, error) {
	if !storable(r.SessionID, r.UserID) {
		return auth.Rotated{}, false, nil
	}
	var sess sessionRow
	var u userRow
	rows, err := s.rotate.QueryContext(ctx,
		micros(r.Now), micros(r.ExpiresAt), r.UserAgent, r.IP,
		r.SessionID, r.UserID, r.Generation, r.TokenVersion)
	ok, err := oneRow(rows, err, append(sess.dest(), u.dest()...))
	if err != nil || !ok {
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
	if !storable(userID, sessionID) {
		return noRow("revoke session")
	}
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
	if !storable(sessionID) {
		return nil // no such session: already as ended as it can be
	}
	_, err := s.w.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL`,
		micros(now), sessionID)
	return classify("end session", err)
}

// ListSessions returns the user's sessions live at now, newest first.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]auth.Session, error) {
	if !storable(userID) {
		return []auth.Session{}, nil
	}
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
