package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tokengate/tokengate/auth"
)

var _ auth.RecoveryStore = (*Store)(nil)

const (
	linkColumns = `id, token_hash, user_id, kind, created_at, expires_at`
	mailColumns = `id, template, to_addr, payload, attempts, created_at`
)

type linkRow struct {
	l                auth.Link
	kind             string
	created, expires int64
}

func (r *linkRow) dest() []any {
	return []any{&r.l.ID, &r.l.TokenHash, &r.l.UserID, &r.kind, &r.created, &r.expires}
}

func (r *linkRow) value() auth.Link {
	r.l.Kind = auth.LinkKind(r.kind)
	r.l.CreatedAt = fromMicros(r.created)
	r.l.ExpiresAt = fromMicros(r.expires)
	return r.l
}

type mailRow struct {
	m       auth.Mail
	created int64
}

func (r *mailRow) dest() []any {
	return []any{&r.m.ID, &r.m.Template, &r.m.To, &r.m.Payload, &r.m.Attempts, &r.created}
}

func (r *mailRow) value() auth.Mail {
	r.m.CreatedAt = fromMicros(r.created)
	return r.m
}

// queueMailSQL queues a mail (?3 to ?6) to the address of the user the
// appended WHERE clause finds, by ?1; it inserts nothing when there is none.
const queueMailSQL = `
	INSERT INTO outbox (id, user_id, template, to_addr, payload, state, attempts, created_at, next_attempt_at)
	SELECT ?3, users.id, ?4, users.email, ?5, 'queued', 0, ?6, ?6 FROM users `

// RequestLink spends the address's e-mail budget and, within it, replaces
// the user's links of the kind and queues the mail, in one transaction.
// Whether the user exists changes how many rows the statements touch, never
// which statements run.
func (s *Store) RequestLink(ctx context.Context, r auth.LinkRequest) (auth.LinkOutcome, error) {
	// Every statement takes the user's key as ?1 and, as ?2, whether the
	// budget allowed the request, so a spent budget runs the same
	// statements too.
	match, arg := `WHERE users.email_key = ?1`, r.EmailKey
	if r.UserID != "" {
		match, arg = `WHERE users.id = ?1`, r.UserID
	}
	var outcome auth.LinkOutcome
	err := s.inTx(ctx, "request link", func(tx *sql.Tx) error {
		var spent int
		err := tx.QueryRowContext(ctx, `
			INSERT INTO email_budget (key_hash, window_start, spent) VALUES (?1, ?2, 1)
			ON CONFLICT (key_hash) DO UPDATE SET
				spent = CASE WHEN email_budget.window_start <= ?3 THEN 1 ELSE email_budget.spent + 1 END,
				window_start = CASE WHEN email_budget.window_start <= ?3 THEN ?2 ELSE email_budget.window_start END
			RETURNING spent`,
			r.BudgetKey, micros(r.Now), micros(r.Now.Add(-r.Window))).Scan(&spent)
		if err != nil {
			return err
		}
		allowed := spent <= r.Budget
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM links WHERE kind = ?3 AND ?2
				AND user_id = (SELECT users.id FROM users `+match+`)`,
			arg, allowed, string(r.Link.Kind)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO links (`+linkColumns+`)
			SELECT ?3, ?4, users.id, ?5, ?6, ?7
			FROM (SELECT 1) LEFT JOIN users ON `+strings.TrimPrefix(match, "WHERE ")+`
			WHERE ?2`,
			arg, allowed, r.Link.ID, r.Link.TokenHash, string(r.Link.Kind),
			micros(r.Link.CreatedAt), micros(r.Link.ExpiresAt)); err != nil {
			return err
		}
		// Without an account the mail is still written, as a void row that
		// is never sent and is pruned, so the commit writes as much.
		var state string
		ok, err := returningOne(ctx, tx, []any{&state}, `
			INSERT INTO outbox (id, user_id, template, to_addr, payload, state, attempts, created_at, next_attempt_at, done_at)
			SELECT ?3, users.id, ?4, coalesce(users.email, ''), ?5,
				CASE WHEN users.id IS NULL THEN 'void' ELSE 'queued' END, 0, ?6, ?6,
				CASE WHEN users.id IS NULL THEN ?6 END
			FROM (SELECT 1) LEFT JOIN users ON `+strings.TrimPrefix(match, "WHERE ")+`
			WHERE ?2
			RETURNING state`,
			arg, allowed, r.Mail.ID, r.Mail.Template, r.Mail.Payload, micros(r.Mail.CreatedAt))
		switch {
		case err != nil:
			return err
		case !allowed || !ok:
			outcome = auth.LinkBudgetSpent
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
	err := s.r.QueryRowContext(ctx, `SELECT `+linkColumns+` FROM links WHERE id = ?1 AND user_id IS NOT NULL`, id).Scan(r.dest()...)
	if err != nil {
		return auth.Link{}, classify("link by id", err)
	}
	return r.value(), nil
}

// useLink deletes a link that is still good and returns its user's id, or
// ErrNotFound.
func useLink(ctx context.Context, tx *sql.Tx, kind auth.LinkKind, id string, hash []byte, now time.Time) (string, error) {
	var userID string
	ok, err := returningOne(ctx, tx, []any{&userID}, `
		DELETE FROM links WHERE id = ?1 AND token_hash = ?2 AND kind = ?3 AND expires_at > ?4
			AND user_id IS NOT NULL
		RETURNING user_id`, id, hash, string(kind), micros(now))
	if err != nil || !ok {
		return "", notFoundIfNone(ok, err)
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM links WHERE user_id = ?1 AND kind = ?2`, userID, string(kind))
	return userID, err
}

// ResetPassword uses the reset link and, with it, sets the password, ends
// every session, marks the address verified and queues the notice.
func (s *Store) ResetPassword(ctx context.Context, r auth.PasswordReset) (auth.User, error) {
	var u userRow
	err := s.inTx(ctx, "reset password", func(tx *sql.Tx) error {
		userID, err := useLink(ctx, tx, auth.LinkPasswordReset, r.LinkID, r.TokenHash, r.Now)
		if err != nil {
			return err
		}
		ok, err := returningOne(ctx, tx, u.dest(), `
			UPDATE users SET password_hash = ?1, token_version = token_version + 1, email_verified = 1
			WHERE id = ?2
			RETURNING `+userColumns, hashValue(r.Hash), userID)
		if err != nil || !ok {
			return notFoundIfNone(ok, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL`,
			micros(r.Now), userID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, queueMailSQL+`WHERE users.id = ?1 AND ?2`,
			userID, true, r.Notice.ID, r.Notice.Template, r.Notice.Payload, micros(r.Notice.CreatedAt))
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
	err := s.inTx(ctx, "verify email", func(tx *sql.Tx) error {
		userID, err := useLink(ctx, tx, auth.LinkEmailVerification, linkID, tokenHash, now)
		if err != nil {
			return err
		}
		ok, err := returningOne(ctx, tx, u.dest(), `
			UPDATE users SET email_verified = 1 WHERE id = ?1 RETURNING `+userColumns, userID)
		return notFoundIfNone(ok, err)
	})
	if err != nil {
		return auth.User{}, err
	}
	return u.value(), nil
}

// DeleteUser deletes the user; the foreign keys take its sessions, links
// and mail with it.
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM users WHERE id = ?1`, userID)
	return classify("delete user", mustAffect(res, err))
}

// QueueMail queues m to the user's address.
func (s *Store) QueueMail(ctx context.Context, userID string, m auth.Mail) error {
	res, err := s.w.ExecContext(ctx, queueMailSQL+`WHERE users.id = ?1 AND ?2`,
		userID, true, m.ID, m.Template, m.Payload, micros(m.CreatedAt))
	return classify("queue mail", mustAffect(res, err))
}

// PruneLinks deletes the links that expired before cutoff, the mail that
// left the queue before it, and the e-mail budget windows that began
// before it.
func (s *Store) PruneLinks(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, "prune links", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM links WHERE expires_at < ?1`, micros(cutoff))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE done_at < ?1`, micros(cutoff)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM email_budget WHERE window_start < ?1`, micros(cutoff))
		return err
	})
	return n, err
}

// ClaimMail marks due mails as being sent. SQLite has one writer, so the
// statement that selects them also claims them: no two claimers can see
// the same mail as queued.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, limit int) ([]auth.Mail, error) {
	rows, err := s.w.QueryContext(ctx, `
		UPDATE outbox SET state = 'sending', attempts = attempts + 1, claimed_at = ?1
		WHERE id IN (
			SELECT id FROM outbox WHERE state = 'queued' AND next_attempt_at <= ?1
			ORDER BY next_attempt_at, created_at, id LIMIT ?2)
		RETURNING `+mailColumns, micros(now), limit)
	if err != nil {
		return nil, classify("claim mail", err)
	}
	defer rows.Close()
	var list []auth.Mail
	for rows.Next() {
		var r mailRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, classify("claim mail", err)
		}
		list = append(list, r.value())
	}
	if err := rows.Err(); err != nil {
		return nil, classify("claim mail", err)
	}
	if err := rows.Close(); err != nil {
		return nil, classify("claim mail", err)
	}
	// RETURNING has no order of its own.
	slices.SortFunc(list, func(a, b auth.Mail) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return list, nil
}

// finishMail moves a mail that is being sent to state, wiping its address
// and payload when it leaves the queue for good.
func (s *Store) finishMail(ctx context.Context, op, id, set string, args ...any) error {
	res, err := s.w.ExecContext(ctx, `UPDATE outbox SET `+set+` WHERE id = ?1 AND state = 'sending'`,
		append([]any{id}, args...)...)
	return classify(op, mustAffect(res, err))
}

// MarkMailSent records a mail as sent.
func (s *Store) MarkMailSent(ctx context.Context, id string, now time.Time) error {
	return s.finishMail(ctx, "mark mail sent", id,
		`state = 'sent', done_at = ?2, to_addr = '', payload = x''`, micros(now))
}

// RetryMail puts a mail back in the queue, due at next.
func (s *Store) RetryMail(ctx context.Context, id string, next time.Time, reason string) error {
	return s.finishMail(ctx, "retry mail", id,
		`state = 'queued', next_attempt_at = ?2, last_error = ?3`, micros(next), reason)
}

// FailMail gives up on a mail.
func (s *Store) FailMail(ctx context.Context, id string, now time.Time, reason string) error {
	return s.finishMail(ctx, "fail mail", id,
		`state = 'failed', done_at = ?2, last_error = ?3, to_addr = '', payload = x''`, micros(now), reason)
}

// AbandonMail marks mails claimed before claimedBefore as of unknown fate.
func (s *Store) AbandonMail(ctx context.Context, claimedBefore, now time.Time) ([]string, error) {
	rows, err := s.w.QueryContext(ctx, `
		UPDATE outbox SET state = 'unknown', done_at = ?1, to_addr = '', payload = x'',
			last_error = 'claimed but never marked: a worker stopped while sending'
		WHERE state = 'sending' AND claimed_at < ?2
		RETURNING id`, micros(now), micros(claimedBefore))
	if err != nil {
		return nil, classify("abandon mail", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, classify("abandon mail", err)
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, classify("abandon mail", err)
	}
	slices.Sort(ids)
	return ids, nil
}
