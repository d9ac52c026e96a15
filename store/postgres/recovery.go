package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokengate/tokengate/auth"
)

var _ auth.RecoveryStore = (*Store)(nil)

const (
	linkColumns = `id, token_hash, user_id, kind, created_at, expires_at`
	mailColumns = `id, template, to_addr, payload, attempts, created_at`
)

type linkRow struct {
	l    auth.Link
	kind string
}

func (r *linkRow) dest() []any {
	return []any{&r.l.ID, &r.l.TokenHash, &r.l.UserID, &r.kind, &r.l.CreatedAt, &r.l.ExpiresAt}
}

func (r *linkRow) value() auth.Link {
	r.l.Kind = auth.LinkKind(r.kind)
	r.l.CreatedAt = r.l.CreatedAt.UTC()
	r.l.ExpiresAt = r.l.ExpiresAt.UTC()
	return r.l
}

type mailRow struct{ m auth.Mail }

func (r *mailRow) dest() []any {
	return []any{&r.m.ID, &r.m.Template, &r.m.To, &r.m.Payload, &r.m.Attempts, &r.m.CreatedAt}
}

func (r *mailRow) value() auth.Mail {
	r.m.CreatedAt = r.m.CreatedAt.UTC()
	return r.m
}

// queueMailSQL queues a mail ($3 to $6) to the address of the user the
// appended WHERE clause finds, by $1; it inserts nothing when there is none.
const queueMailSQL = `
	INSERT INTO outbox (id, user_id, template, to_addr, payload, state, attempts, created_at, next_attempt_at)
	SELECT $3, users.id, $4, users.email, $5, 'queued', 0, $6, $6 FROM users `

// RequestLink spends the address's e-mail budget and, within it, replaces
// the user's links of the kind and queues the mail, in one transaction.
// Whether the user exists changes how many rows the statements touch, never
// which statements run.
func (s *Store) RequestLink(ctx context.Context, r auth.LinkRequest) (auth.LinkOutcome, error) {
	// Every statement takes the user's key as $1 and, as $2, whether the
	// budget allowed the request, so a spent budget runs the same
	// statements too.
	match, arg := `WHERE users.email_key = $1`, r.EmailKey
	if r.UserID != "" {
		match, arg = `WHERE users.id = $1`, r.UserID
	}
	var outcome auth.LinkOutcome
	err := s.inTx(ctx, "request link", func(tx pgx.Tx) error {
		var spent int
		// The upsert takes the budget row's lock, so concurrent requests
		// for one address count one after another.
		err := tx.QueryRow(ctx, `
			INSERT INTO email_budget AS b (key_hash, window_start, spent) VALUES ($1, $2, 1)
			ON CONFLICT (key_hash) DO UPDATE SET
				spent = CASE WHEN b.window_start <= $3 THEN 1 ELSE b.spent + 1 END,
				window_start = CASE WHEN b.window_start <= $3 THEN $2 ELSE b.window_start END
			RETURNING spent`,
			r.BudgetKey, ts(r.Now), ts(r.Now.Add(-r.Window))).Scan(&spent)
		if err != nil {
			return err
		}
		allowed := spent <= r.Budget
		if _, err := tx.Exec(ctx, `
			DELETE FROM links WHERE kind = $3 AND $2::boolean
				AND user_id = (SELECT users.id FROM users `+match+`)`,
			arg, allowed, string(r.Link.Kind)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO links (`+linkColumns+`)
			SELECT $3, $4, users.id, $5, $6, $7
			FROM (SELECT 1) AS one LEFT JOIN users ON `+strings.TrimPrefix(match, "WHERE ")+`
			WHERE $2::boolean`,
			arg, allowed, r.Link.ID, r.Link.TokenHash, string(r.Link.Kind),
			ts(r.Link.CreatedAt), ts(r.Link.ExpiresAt)); err != nil {
			return err
		}
		// Without an account the mail is still written, as a void row that
		// is never sent and is pruned, so the commit writes as much.
		var state string
		err = tx.QueryRow(ctx, `
			INSERT INTO outbox (id, user_id, template, to_addr, payload, state, attempts, created_at, next_attempt_at, done_at)
			SELECT $3, users.id, $4, coalesce(users.email, ''), $5,
				CASE WHEN users.id IS NULL THEN 'void' ELSE 'queued' END, 0, $6, $6,
				CASE WHEN users.id IS NULL THEN $6::timestamptz END
			FROM (SELECT 1) AS one LEFT JOIN users ON `+strings.TrimPrefix(match, "WHERE ")+`
			WHERE $2::boolean
			RETURNING state`,
			arg, allowed, r.Mail.ID, r.Mail.Template, r.Mail.Payload, ts(r.Mail.CreatedAt)).Scan(&state)
		switch {
		case errors.Is(err, pgx.ErrNoRows) || (err == nil && !allowed):
			outcome = auth.LinkBudgetSpent
		case err != nil:
			return err
		case state == "void":
			outcome = auth.LinkNoAccount
		default:
			outcome = auth.LinkQueued
		}
		return nil
	})
	return outcome, err
}

// LinkByID returns a pending link.
func (s *Store) LinkByID(ctx context.Context, id string) (auth.Link, error) {
	var r linkRow
	err := s.pool.QueryRow(ctx, `SELECT `+linkColumns+` FROM links WHERE id = $1 AND user_id IS NOT NULL`, id).Scan(r.dest()...)
	if err != nil {
		return auth.Link{}, classify("link by id", err)
	}
	return r.value(), nil
}

// useLink deletes a link that is still good and returns its user's id, or
// ErrNotFound. Two concurrent uses of one link: the second waits on the
// row lock, then finds it gone.
func useLink(ctx context.Context, tx pgx.Tx, kind auth.LinkKind, id string, hash []byte, now time.Time) (string, error) {
	var userID string
	err := tx.QueryRow(ctx, `
		DELETE FROM links WHERE id = $1 AND token_hash = $2 AND kind = $3 AND expires_at > $4
			AND user_id IS NOT NULL
		RETURNING user_id`, id, hash, string(kind), ts(now)).Scan(&userID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", auth.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	_, err = tx.Exec(ctx, `DELETE FROM links WHERE user_id = $1 AND kind = $2`, userID, string(kind))
	return userID, err
}

// ResetPassword uses the reset link and, with it, sets the password, ends
// every session, marks the address verified and queues the notice.
func (s *Store) ResetPassword(ctx context.Context, r auth.PasswordReset) (auth.User, error) {
	var u userRow
	err := s.inTx(ctx, "reset password", func(tx pgx.Tx) error {
		userID, err := useLink(ctx, tx, auth.LinkPasswordReset, r.LinkID, r.TokenHash, r.Now)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `
			UPDATE users SET password_hash = $1, token_version = token_version + 1, email_verified = true
			WHERE id = $2
			RETURNING `+userColumns, hashValue(r.Hash), userID).Scan(u.dest()...)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL`,
			ts(r.Now), userID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, queueMailSQL+`WHERE users.id = $1 AND $2::boolean`,
			userID, true, r.Notice.ID, r.Notice.Template, r.Notice.Payload, ts(r.Notice.CreatedAt))
		return err
	})
	if err != nil {
		return auth.User{}, err
	}
	return u.value(), nil
}

// VerifyEmail uses the verification link and marks the address verified.
func (s *Store) VerifyEmail(ctx context.Context, linkID string, tokenHash []byte, now time.Time) (auth.User, error) {
	var u userRow
	err := s.inTx(ctx, "verify email", func(tx pgx.Tx) error {
		userID, err := useLink(ctx, tx, auth.LinkEmailVerification, linkID, tokenHash, now)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `UPDATE users SET email_verified = true WHERE id = $1 RETURNING `+userColumns,
			userID).Scan(u.dest()...)
	})
	if err != nil {
		return auth.User{}, err
	}
	return u.value(), nil
}

// DeleteUser deletes the user; the foreign keys take its sessions, links
// and mail with it.
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, userID)
	return classify("delete user", mustAffect(tag, err))
}

// QueueMail queues m to the user's address.
func (s *Store) QueueMail(ctx context.Context, userID string, m auth.Mail) error {
	tag, err := s.pool.Exec(ctx, queueMailSQL+`WHERE users.id = $1 AND $2::boolean`,
		userID, true, m.ID, m.Template, m.Payload, ts(m.CreatedAt))
	return classify("queue mail", mustAffect(tag, err))
}

// PruneLinks deletes the links that expired before cutoff, the mail that
// left the queue before it, and the e-mail budget windows that began
// before it.
func (s *Store) PruneLinks(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, "prune links", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM links WHERE expires_at < $1`, ts(cutoff))
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE done_at < $1`, ts(cutoff)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM email_budget WHERE window_start < $1`, ts(cutoff))
		return err
	})
	return n, err
}

// ClaimMail marks due mails as being sent. FOR UPDATE SKIP LOCKED lets
// instances sharing the database claim side by side: each takes rows no
// other claim holds, and a row claimed and committed is no longer queued,
// so no two instances ever send one mail.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, limit int) ([]auth.Mail, error) {
	rows, err := s.pool.Query(ctx, `
		WITH due AS (
			SELECT id FROM outbox WHERE state = 'queued' AND next_attempt_at <= $1
			ORDER BY next_attempt_at, created_at, id
			LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE outbox AS o SET state = 'sending', attempts = o.attempts + 1, claimed_at = $1
		FROM due WHERE o.id = due.id
		RETURNING o.id, o.template, o.to_addr, o.payload, o.attempts, o.created_at`, ts(now), limit)
	if err != nil {
		return nil, classify("claim mail", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (auth.Mail, error) {
		var r mailRow
		err := row.Scan(r.dest()...)
		return r.value(), err
	})
	if err != nil {
		return nil, classify("claim mail", err)
	}
	slices.SortFunc(list, func(a, b auth.Mail) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return list, nil
}

func (s *Store) finishMail(ctx context.Context, op, id, set string, args ...any) error {
	tag, err := s.pool.Exec(ctx, `UPDATE outbox SET `+set+` WHERE id = $1 AND state = 'sending'`,
		append([]any{id}, args...)...)
	return classify(op, mustAffect(tag, err))
}

// MarkMailSent records a mail as sent.
func (s *Store) MarkMailSent(ctx context.Context, id string, now time.Time) error {
	return s.finishMail(ctx, "mark mail sent", id,
		`state = 'sent', done_at = $2, to_addr = '', payload = ''::bytea`, ts(now))
}

// RetryMail puts a mail back in the queue, due at next.
func (s *Store) RetryMail(ctx context.Context, id string, next time.Time, reason string) error {
	return s.finishMail(ctx, "retry mail", id,
		`state = 'queued', next_attempt_at = $2, last_error = $3`, ts(next), reason)
}

// FailMail gives up on a mail.
func (s *Store) FailMail(ctx context.Context, id string, now time.Time, reason string) error {
	return s.finishMail(ctx, "fail mail", id,
		`state = 'failed', done_at = $2, last_error = $3, to_addr = '', payload = ''::bytea`, ts(now), reason)
}

// AbandonMail marks mails claimed before claimedBefore as of unknown fate.
func (s *Store) AbandonMail(ctx context.Context, claimedBefore, now time.Time) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		UPDATE outbox SET state = 'unknown', done_at = $1, to_addr = '', payload = ''::bytea,
			last_error = 'claimed but never marked: a worker stopped while sending'
		WHERE state = 'sending' AND claimed_at < $2
		RETURNING id`, ts(now), ts(claimedBefore))
	if err != nil {
		return nil, classify("abandon mail", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, classify("abandon mail", err)
	}
	slices.Sort(ids)
	return ids, nil
}
