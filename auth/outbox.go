package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// The e-mails the domain sends, by template name. The mail package has one
// template of each name.
const (
	MailPasswordReset     = "password_reset"
	MailEmailVerification = "email_verification"
	MailPasswordChanged   = "password_changed"
)

// Mail is one queued e-mail. Payload is sealed under the LinkKey (a link's
// token is in it); OpenMail gives its values. Logs name a mail by ID only,
// never by its address or contents.
type Mail struct {
	ID       string
	Template string
	// To is the address as the user typed it, filled in by the store from
	// the user's row when the mail is queued.
	To        string
	Payload   []byte
	Attempts  int
	CreatedAt time.Time
}

// MailValues are what a mail's template is filled with: "link" (the whole
// URL, token in its fragment) and "expiresIn" for a link, nothing more.
type MailValues map[string]string

// OpenMail returns the values sealed in m's payload.
func (k *LinkKey) OpenMail(m Mail) (MailValues, error) {
	plain, err := k.open(m.ID, m.Payload)
	if err != nil {
		return nil, fmt.Errorf("open mail %s: %w", m.ID, err)
	}
	var v MailValues
	if err := json.Unmarshal(plain, &v); err != nil {
		return nil, fmt.Errorf("open mail %s: %w", m.ID, err)
	}
	return v, nil
}

// sealMail builds a queued mail whose payload is v, sealed.
func (k *LinkKey) sealMail(id, template string, v MailValues, now time.Time) (Mail, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return Mail{}, fmt.Errorf("seal mail: %w", err)
	}
	sealed, err := k.seal(id, plain)
	if err != nil {
		return Mail{}, err
	}
	return Mail{ID: id, Template: template, Payload: sealed, CreatedAt: now}, nil
}

// LinkOutcome says what RequestLink did. The Service answers the same
// whatever it is; it exists for tests and the store contract.
type LinkOutcome int

// The outcomes of RecoveryStore.RequestLink.
const (
	LinkQueued LinkOutcome = iota + 1
	// LinkNoAccount: no user has the address (or id); nothing was queued.
	LinkNoAccount
	// LinkBudgetSpent: the address's e-mail budget for the window is spent;
	// nothing was queued.
	LinkBudgetSpent
)

// LinkRequest is the input of RecoveryStore.RequestLink.
type LinkRequest struct {
	// EmailKey finds the user (a reset request); when UserID is set it is
	// used instead (a verification request by a signed-in user).
	EmailKey string
	UserID   string
	// BudgetKey is the key of the e-mail budget spent: at most Budget
	// requests per address in a window of Window.
	BudgetKey []byte
	Budget    int
	Window    time.Duration
	Now       time.Time
	// Link is stored with the user's id; Mail is queued to the user's
	// address, due at once.
	Link Link
	Mail Mail
}

// PasswordReset is the input of RecoveryStore.ResetPassword.
type PasswordReset struct {
	LinkID    string
	TokenHash []byte
	Hash      []byte
	Now       time.Time
	// Notice is queued to the user's address: "your password was changed".
	Notice Mail
}

// RecoveryStore is the persistence of account recovery, e-mail
// verification and the outbox. Both stores implement it beside Store and
// pass its part of the contract suite. Errors are ErrNotFound where
// documented, STORE_UNAVAILABLE (see Unavailable), or internal.
type RecoveryStore interface {
	// RequestLink, in one transaction, spends one from r.BudgetKey's
	// budget (a new window starts when the last began r.Window or more
	// before r.Now) and, if the budget allowed it and the user exists,
	// deletes the user's links of r.Link.Kind (a newer link supersedes
	// them), inserts r.Link and queues r.Mail. It sends the same
	// statements whether or not the user exists and writes as much: the
	// budget always, and r.Link and r.Mail as void rows (never found, never
	// sent, pruned) when there is no user.
	RequestLink(ctx context.Context, r LinkRequest) (LinkOutcome, error)
	// LinkByID returns a pending link, expired or not. ErrNotFound when
	// there is none (never made, used, superseded, or its user deleted).
	LinkByID(ctx context.Context, id string) (Link, error)
	// ResetPassword, in one transaction, deletes the password-reset link
	// r.LinkID if its hash is still r.TokenHash and it has not expired at
	// r.Now (else ErrNotFound and nothing changes), sets the user's hash,
	// increments the token counter, revokes every session, marks the
	// address verified, deletes the user's other reset links, and queues
	// r.Notice. It returns the updated user.
	ResetPassword(ctx context.Context, r PasswordReset) (User, error)
	// VerifyEmail, in one transaction, deletes the e-mail-verification link
	// like ResetPassword does (ErrNotFound the same way), marks the user's
	// address verified and deletes the user's other verification links. It
	// returns the updated user.
	VerifyEmail(ctx context.Context, linkID string, tokenHash []byte, now time.Time) (User, error)
	// DeleteUser deletes the user with its sessions, its links and its
	// mail, sent or still queued. ErrNotFound for no such user.
	DeleteUser(ctx context.Context, userID string) error
	// QueueMail queues m to the user's address, due at once. ErrNotFound
	// for no such user.
	QueueMail(ctx context.Context, userID string, m Mail) error
	// PruneLinks deletes links that expired before cutoff, the mail that
	// left the queue (sent, failed, of unknown fate, or void) before it,
	// and the e-mail budget windows that began before it (so cutoff must be
	// at least one budget window ago). It returns how many links went.
	PruneLinks(ctx context.Context, cutoff time.Time) (int64, error)

	// ClaimMail marks up to limit queued mails due at now as being sent
	// (attempts + 1, claimed at now) and returns them, oldest first.
	// Concurrent claimers, in this process or another on the same
	// database, never get the same mail.
	ClaimMail(ctx context.Context, now time.Time, limit int) ([]Mail, error)
	// MarkMailSent records a claimed mail as sent and wipes its address
	// and payload. ErrNotFound when it is not being sent.
	MarkMailSent(ctx context.Context, id string, now time.Time) error
	// RetryMail puts a claimed mail back in the queue, due at next, with
	// the reason it failed. ErrNotFound when it is not being sent.
	RetryMail(ctx context.Context, id string, next time.Time, reason string) error
	// FailMail gives up on a claimed mail and wipes its address and
	// payload. ErrNotFound when it is not being sent.
	FailMail(ctx context.Context, id string, now time.Time, reason string) error
	// AbandonMail marks the mails claimed before claimedBefore and never
	// marked as of unknown fate: a worker stopped between claiming and
	// marking, so each may have been sent. They are never sent again. It
	// wipes their addresses and payloads and returns their ids.
	AbandonMail(ctx context.Context, claimedBefore, now time.Time) ([]string, error)
}
