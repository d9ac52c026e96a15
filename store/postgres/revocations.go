package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokengate/tokengate/auth"
)

// The revocation log (migrations/postgres/00005_revocations_and_login_budget.sql) is written
// by triggers in the transaction of the change, and announced by NOTIFY in
// it, so every method of the store that ends a session, raises a counter or
// deletes a user feeds it, and a rolled-back change never does.
//
// Transactions commit in another order than they insert, so a sequence
// number cannot say where a reader stopped: a row numbered below the last
// one seen may still commit. The cursor is instead the xmin of the reader's
// snapshot, the oldest transaction still running when it read: every later
// commit belongs to a transaction at or after it, and the next read asks
// for those.

var _ auth.RevocationLog = (*Store)(nil)

// revocationChannel is the NOTIFY channel the triggers announce on.
const revocationChannel = "tokengate_revocations"

// readRevocationsSQL returns, in one statement and so one snapshot, a first
// row holding only the snapshot's xmin, then every row of a transaction at
// or after the cursor recorded at or after since.
const readRevocationsSQL = `
	SELECT NULL::text, NULL::text, NULL::bigint, NULL::timestamptz,
		pg_snapshot_xmin(pg_current_snapshot())::text::bigint
	UNION ALL
	(SELECT session_id, user_id, min_version, at, NULL::bigint FROM revocations
	 WHERE txid >= $1::text::xid8 AND at >= $2
	 ORDER BY seq)`

// querier is what both a pool and the listener's own connection offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// readRevocations runs readRevocationsSQL on q.
func readRevocations(ctx context.Context, q querier, cursor auth.RevocationCursor, since time.Time, fn func(auth.Revocation)) (auth.RevocationCursor, error) {
	rows, err := q.Query(ctx, readRevocationsSQL, strconv.FormatInt(int64(cursor), 10), ts(since))
	if err != nil {
		return cursor, classify("read revocations", err)
	}
	defer rows.Close()
	next := auth.RevocationCursor(-1)
	for rows.Next() {
		var (
			sessionID, userID *string
			minVersion, xmin  *int64
			at                *time.Time
		)
		if err := rows.Scan(&sessionID, &userID, &minVersion, &at, &xmin); err != nil {
			return cursor, classify("read revocations", err)
		}
		if xmin != nil {
			next = auth.RevocationCursor(*xmin)
			continue
		}
		r := auth.Revocation{UserID: *userID, MinVersion: *minVersion, At: at.UTC()}
		if sessionID != nil {
			r.SessionID = *sessionID
		}
		fn(r)
	}
	if err := rows.Err(); err != nil {
		return cursor, classify("read revocations", err)
	}
	if next < 0 {
		return cursor, errors.New("read revocations: no snapshot row")
	}
	return next, nil
}

// ReadRevocations implements auth.RevocationLog. The cursor is a
// transaction id (the xmin of the last read's snapshot).
func (s *Store) ReadRevocations(ctx context.Context, cursor auth.RevocationCursor, since time.Time, fn func(auth.Revocation)) (auth.RevocationCursor, error) {
	return readRevocations(ctx, s.pool, cursor, since, fn)
}

// PruneRevocations implements auth.RevocationLog.
func (s *Store) PruneRevocations(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM revocations WHERE at < $1`, ts(cutoff))
	if err != nil {
		return 0, classify("prune revocations", err)
	}
	return tag.RowsAffected(), nil
}

// AccessRevoked implements auth.RevocationLog: one read by primary keys.
func (s *Store) AccessRevoked(ctx context.Context, sessionID string, ver int64) (bool, error) {
	var revoked bool
	err := s.pool.QueryRow(ctx, `
		SELECT s.revoked_at IS NOT NULL OR u.token_version > $2
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = $1`, sessionID, ver).Scan(&revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		// Deleted with its user, or pruned long after it ended.
		return true, nil
	}
	if err != nil {
		return false, classify("access revoked", err)
	}
	return revoked, nil
}
