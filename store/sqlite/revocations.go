package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// The revocation log (migrations/sqlite/00005_revocations_and_login_budget.sql) is filled by
// triggers, so every method that ends a session or raises a counter feeds
// it without knowing. One writer connection commits in seq order, so a
// reader's cursor is simply the last seq it saw.

var _ auth.RevocationLog = (*Store)(nil)

// readRevocationsSQL returns the rows past the cursor recorded at or after
// since, and always the newest row, whatever its time, so the cursor moves
// past old rows too. One statement: one snapshot.
const readRevocationsSQL = `
	SELECT seq, session_id, user_id, min_version, at FROM revocations
	WHERE seq > ?1 AND (at >= ?2 OR seq = (SELECT max(seq) FROM revocations))
	ORDER BY seq`

// ReadRevocations implements auth.RevocationLog. The cursor is the last
// seq read.
func (s *Store) ReadRevocations(ctx context.Context, cursor auth.RevocationCursor, since time.Time, fn func(auth.Revocation)) (auth.RevocationCursor, error) {
	rows, err := s.r.QueryContext(ctx, readRevocationsSQL, int64(cursor), micros(since))
	if err != nil {
		return cursor, classify("read revocations", err)
	}
	defer rows.Close()
	next := cursor
	for rows.Next() {
		var (
			seq, minVersion, at int64
			sessionID           sql.NullString
			r                   auth.Revocation
		)
		if err := rows.Scan(&seq, &sessionID, &r.UserID, &minVersion, &at); err != nil {
			return cursor, classify("read revocations", err)
		}
		next = auth.RevocationCursor(seq)
		r.SessionID, r.MinVersion, r.At = sessionID.String, minVersion, fromMicros(at)
		if !r.At.Before(since) {
			fn(r)
		}
	}
	if err := rows.Err(); err != nil {
		return cursor, classify("read revocations", err)
	}
	return next, nil
}

// PruneRevocations implements auth.RevocationLog.
func (s *Store) PruneRevocations(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM revocations WHERE at < ?`, micros(cutoff))
	if err != nil {
		return 0, classify("prune revocations", err)
	}
	n, err := res.RowsAffected()
	return n, classify("prune revocations", err)
}

// AccessRevoked implements auth.RevocationLog: one read by primary keys.
func (s *Store) AccessRevoked(ctx context.Context, sessionID string, ver int64) (bool, error) {
	var revoked bool
	err := s.r.QueryRowContext(ctx, `
		SELECT s.revoked_at IS NOT NULL OR u.token_version > ?2
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = ?1`, sessionID, ver).Scan(&revoked)
	if err == sql.ErrNoRows {
		// Deleted with its user, or pruned long after it ended.
		return true, nil
	}
	if err != nil {
		return false, classify("access revoked", err)
	}
	return revoked, nil
}
