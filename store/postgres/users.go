package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tokengate/tokengate/auth"
)

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
	if !storable(email) {
		return auth.User{}, noRow("user by email")
	}
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
	if !storable(id) {
		return auth.User{}, noRow("user by id")
	}
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
	if !storable(userID) {
		return noRow("set password hash")
	}
	tag, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3`,
		hashValue(newHash), userID, hashValue(oldHash))
	return classify("set password hash", mustAffect(tag, err))
}

// ChangePassword replaces the hash, increments the token counter, advances
// keep's generation and revokes the user's other sessions, all or nothing.
// The user row is locked first, as in every transaction here, so two of
// them never wait on each other in opposite orders.
func (s *Store) ChangePassword(ctx context.Context, userID, keepSessionID string, hash []byte, now time.Time) (auth.User, auth.Session, error) {
	if !storable(userID, keepSessionID) {
		return auth.User{}, auth.Session{}, noRow("change password")
	}
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
	if !storable(userID) {
		return noRow("revoke user")
	}
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
