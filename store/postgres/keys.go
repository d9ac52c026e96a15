package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokengate/tokengate/auth"
)

var (
	_ auth.KeyStore   = (*Store)(nil)
	_ auth.KeyWatcher = (*Store)(nil)
)

// signingKeysLock is the advisory lock under which the key schedule is
// changed ("tokengate signing keys" in ASCII, shortened to 63 bits).
const signingKeysLock int64 = 0x746b6e67_6b657973

// signingKeysChannel is the NOTIFY channel a change of the keys is
// announced on.
const signingKeysChannel = "tokengate_signing_keys"

const signingKeyColumns = `id, alg, public_key, sealed_private_key, created_at, activates_at, retired_at`

// SigningKeys returns every stored signing key, oldest activation first.
func (s *Store) SigningKeys(ctx context.Context) ([]auth.SigningKey, error) {
	keys, err := signingKeys(ctx, s.pool)
	return keys, classify("read signing keys", err)
}

type keyQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func signingKeys(ctx context.Context, q keyQuerier) ([]auth.SigningKey, error) {
	rows, err := q.Query(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY activates_at, id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (auth.SigningKey, error) {
		var (
			k       auth.SigningKey
			retired *time.Time
		)
		if err := row.Scan(&k.ID, &k.Alg, &k.Public, &k.SealedPrivate, &k.CreatedAt, &k.ActivatesAt, &retired); err != nil {
			return k, err
		}
		k.CreatedAt, k.ActivatesAt = k.CreatedAt.UTC(), k.ActivatesAt.UTC()
		if retired != nil {
			k.RetiredAt = retired.UTC()
		}
		return k, nil
	})
}

// ChangeSigningKeys decides and writes in one transaction holding the
// signing-keys advisory lock, so instances starting or rotating at once
// take turns and the second decides on what the first wrote. A non-empty
// change is announced with NOTIFY, delivered when the transaction commits.
func (s *Store) ChangeSigningKeys(ctx context.Context, decide func([]auth.SigningKey) (auth.KeyChanges, error)) error {
	return s.inTx(ctx, "change signing keys", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, signingKeysLock); err != nil {
			return err
		}
		keys, err := signingKeys(ctx, tx)
		if err != nil {
			return err
		}
		ch, err := decide(keys)
		if err != nil || ch.Empty() {
			return err
		}
		for _, k := range ch.Insert {
			if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				k.ID, k.Alg, k.Public, k.SealedPrivate, ts(k.CreatedAt), ts(k.ActivatesAt), nullTS(k.RetiredAt)); err != nil {
				return err
			}
		}
		for id, at := range ch.Activate {
			if err := mustAffect(tx.Exec(ctx, `UPDATE signing_keys SET activates_at = $1 WHERE id = $2`, ts(at), id)); err != nil {
				return fmt.Errorf("activate key %s: %w", id, err)
			}
		}
		for id, at := range ch.Retire {
			if err := mustAffect(tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE id = $2`, ts(at), id)); err != nil {
				return fmt.Errorf("retire key %s: %w", id, err)
			}
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, '')`, signingKeysChannel)
		return err
	})
}

// WatchSigningKeys LISTENs on a connection of its own (not one of the
// pool's) and calls changed after every announced change, until ctx ends
// or the connection fails.
func (s *Store) WatchSigningKeys(ctx context.Context, changed func()) error {
	return s.watchSigningKeys(ctx, s.pool.Config().ConnConfig.Copy(), changed)
}

// KeysListeningAt is the store as a KeyStore whose WatchSigningKeys
// LISTENs through url (DATABASE_LISTEN_URL) instead of the pool's
// address: LISTEN needs a session of its own, which a transaction-pooling
// proxy in front of the pool does not give.
func (s *Store) KeysListeningAt(url string) (auth.KeyStore, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, errors.New("DATABASE_LISTEN_URL: not a PostgreSQL connection URL")
	}
	return keysListener{Store: s, listen: cfg}, nil
}

// keysListener is a Store whose signing-key watch connects elsewhere.
type keysListener struct {
	*Store
	listen *pgx.ConnConfig
}

func (k keysListener) WatchSigningKeys(ctx context.Context, changed func()) error {
	return k.watchSigningKeys(ctx, k.listen.Copy(), changed)
}

func (s *Store) watchSigningKeys(ctx context.Context, cc *pgx.ConnConfig, changed func()) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return classify("listen for signing keys", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+signingKeysChannel); err != nil {
		return classify("listen for signing keys", err)
	}
	// Anything changed while not listening is caught by this first call.
	changed()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return ctx.Err()
			}
			return classify("listen for signing keys", err)
		}
		changed()
	}
}
