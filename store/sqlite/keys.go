package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/tokengate/tokengate/auth"
)

var _ auth.KeyStore = (*Store)(nil)

const signingKeyColumns = `id, alg, public_key, sealed_private_key, created_at, activates_at, retired_at`

// SigningKeys returns every stored signing key, oldest activation first.
func (s *Store) SigningKeys(ctx context.Context) ([]auth.SigningKey, error) {
	keys, err := signingKeys(ctx, s.r)
	return keys, classify("read signing keys", err)
}

func signingKeys(ctx context.Context, q querier) ([]auth.SigningKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY activates_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []auth.SigningKey
	for rows.Next() {
		var (
			k                  auth.SigningKey
			created, activates int64
			retired            sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.Alg, &k.Public, &k.SealedPrivate, &created, &activates, &retired); err != nil {
			return nil, err
		}
		k.CreatedAt, k.ActivatesAt = fromMicros(created), fromMicros(activates)
		if retired.Valid {
			k.RetiredAt = fromMicros(retired.Int64)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// ChangeSigningKeys decides and writes in one write transaction (BEGIN
// IMMEDIATE), which holds SQLite's write lock from the start: a second
// process's step waits, then reads what the first wrote. Other processes
// on the file see the change at their next reload; SQLite has no
// notifications.
func (s *Store) ChangeSigningKeys(ctx context.Context, decide func([]auth.SigningKey) (auth.KeyChanges, error)) error {
	return s.inTx(ctx, "change signing keys", func(tx *sql.Tx) error {
		keys, err := signingKeys(ctx, tx)
		if err != nil {
			return err
		}
		ch, err := decide(keys)
		if err != nil {
			return err
		}
		for _, k := range ch.Insert {
			if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`,
				k.ID, k.Alg, k.Public, k.SealedPrivate, micros(k.CreatedAt), micros(k.ActivatesAt), nullMicros(k.RetiredAt)); err != nil {
				return err
			}
		}
		for id, at := range ch.Activate {
			if err := mustAffect(tx.ExecContext(ctx, `UPDATE signing_keys SET activates_at = ?1 WHERE id = ?2`, micros(at), id)); err != nil {
				return fmt.Errorf("activate key %s: %w", id, err)
			}
		}
		for id, at := range ch.Retire {
			if err := mustAffect(tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ?1 WHERE id = ?2`, micros(at), id)); err != nil {
				return fmt.Errorf("retire key %s: %w", id, err)
			}
		}
		return nil
	})
}
