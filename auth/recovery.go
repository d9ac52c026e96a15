package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// RecoveryConfig holds the settings of account recovery and e-mail
// verification (API.md sections 7 and 10).
type RecoveryConfig struct {
	// PublicURL is the origin links point to, without a trailing slash:
	// links are PublicURL/reset-password#token=… and
	// PublicURL/verify-email#token=….
	PublicURL string
	// ResetTTL and VerificationTTL are how long a link stays good
	// (PASSWORD_RESET_TTL, EMAIL_VERIFICATION_TTL).
	ResetTTL        time.Duration
	VerificationTTL time.Duration
	// EmailBudget e-mails per address per EmailWindow (RATE_LIMIT_EMAIL).
	EmailBudget int
	EmailWindow time.Duration
}

// DefaultRecoveryConfig returns the defaults of API.md section 7.
func DefaultRecoveryConfig() RecoveryConfig {
	return RecoveryConfig{
		PublicURL:       "http://localhost:8080",
		ResetTTL:        30 * time.Minute,
		VerificationTTL: 48 * time.Hour,
		EmailBudget:     5,
		EmailWindow:     time.Hour,
	}
}

// Recovery carries out the operations of API.md section 10: the password
// reset, e-mail verification and account deletion. It works beside a
// Service, sharing its store, token codec, clock, password hashing and
// per-IP budget.
type Recovery struct {
	svc   *Service
	store RecoveryStore
	key   *LinkKey
	cfg   RecoveryConfig
}

// NewRecovery builds the recovery operations on top of svc. store is the
// same database as svc's Store.
func NewRecovery(svc *Service, store RecoveryStore, key *LinkKey, cfg RecoveryConfig) (*Recovery, error) {
	switch {
	case svc == nil || store == nil || key == nil:
		return nil, errors.New("recovery: service, store and link key are required")
	case cfg.ResetTTL <= 0 || cfg.VerificationTTL <= 0:
		return nil, errors.New("recovery: link lifetimes must be positive")
	case cfg.EmailBudget < 1 || cfg.EmailWindow <= 0:
		return nil, errors.New("recovery: the e-mail budget must allow at least one e-mail per positive window")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	r := &Recovery{svc: svc, store: store, key: key, cfg: cfg}
	// From now on a password change sends its notice; this is part of
	// building the service, before it serves anything.
	svc.passwordChanged = r.NotifyPasswordChanged
	return r, nil
}

// RequestPasswordReset mails a reset link to the account with the address
// email, if there is one. It answers the same, after the same work, whether
// or not there is: nil, unless the input is not an address
// (BAD_USER_INPUT), the client's IP budget is spent (RATE_LIMITED), or the
// store is down (STORE_UNAVAILABLE). The address's e-mail budget never
// changes the answer; a spent one only stops the sending.
func (r *Recovery) RequestPasswordReset(ctx context.Context, email string) error {
	s := r.svc
	if err := s.spend(BudgetIP, s.limits.IP, ipBudgetKey(ClientFromContext(ctx).IP)); err != nil {
		return err
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	key := EmailKey(email)
	req, err := r.linkRequest(LinkPasswordReset, r.cfg.ResetTTL, MailPasswordReset, "/reset-password", r.key.budgetKey(key))
	if err != nil {
		return err
	}
	req.EmailKey = key
	if _, err := r.store.RequestLink(ctx, req); err != nil {
		return fmt.Errorf("request password reset: %w", err)
	}
	return nil
}

// RequestEmailVerification mails the caller's own address a verification
// link. UNAUTHENTICATED without a caller; the e-mail budget, as for a
// reset, stops the sending but not the answer.
func (r *Recovery) RequestEmailVerification(ctx context.Context) error {
	s := r.svc
	c, err := RequireCaller(ctx)
	if err != nil {
		return err
	}
	if err := s.spend(BudgetIP, s.limits.IP, ipBudgetKey(ClientFromContext(ctx).IP)); err != nil {
		return err
	}
	u, err := s.store.UserByID(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) {
		return Unauthenticated(ReasonSessionRevoked)
	}
	if err != nil {
		return fmt.Errorf("request e-mail verification: %w", err)
	}
	req, err := r.linkRequest(LinkEmailVerification, r.cfg.VerificationTTL, MailEmailVerification, "/verify-email", r.key.budgetKey(EmailKey(u.Email)))
	if err != nil {
		return err
	}
	req.UserID = u.ID
	if _, err := r.store.RequestLink(ctx, req); err != nil {
		return fmt.Errorf("request e-mail verification: %w", err)
	}
	return nil
}

// linkRequest makes a new link of kind and the sealed mail that carries it.
// It is the same work whether or not an account will be found.
func (r *Recovery) linkRequest(kind LinkKind, ttl time.Duration, template, page string, budgetKey []byte) (LinkRequest, error) {
	now := r.svc.now().UTC()
	token, id, secret, err := newLinkToken()
	if err != nil {
		return LinkRequest{}, err
	}
	m, err := r.key.sealMail(uuid.NewString(), template, MailValues{
		"link":      r.cfg.PublicURL + page + "#token=" + token,
		"expiresIn": humanDuration(ttl),
	}, now)
	if err != nil {
		return LinkRequest{}, err
	}
	return LinkRequest{
		BudgetKey: budgetKey,
		Budget:    r.cfg.EmailBudget,
		Window:    r.cfg.EmailWindow,
		Now:       now,
		Link: Link{ID: id, TokenHash: r.key.hashLink(kind, id, secret), Kind: kind,
			CreatedAt: now, ExpiresAt: now.Add(ttl)},
		Mail: m,
	}, nil
}

// checkLink finds the pending link a token names and checks it: the right
// kind, the secret's keyed hash equal in constant time, not expired. Every
// failure is the one ErrLinkInvalid.
func (r *Recovery) checkLink(ctx context.Context, kind LinkKind, token string) (Link, error) {
	id, secret, ok := parseLinkToken(token)
	if !ok {
		return Link{}, ErrLinkInvalid
	}
	l, err := r.store.LinkByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Link{}, ErrLinkInvalid
	}
	if err != nil {
		return Link{}, fmt.Errorf("find link: %w", err)
	}
	if !r.key.linkMatches(l.TokenHash, kind, id, secret) || l.Kind != kind || !r.svc.now().Before(l.ExpiresAt) {
		return Link{}, ErrLinkInvalid
	}
	return l, nil
}

// ResetPassword sets a new password through a reset link's token: it ends
// every session and refresh token of the user (the token counter is
// incremented), marks the address verified, mails a "your password was
// changed" notice, and signs the user in on a new session. LINK_INVALID for
// a token that is unknown, expired, used or superseded; BAD_USER_INPUT for
// a password outside the policy, which leaves the token usable.
//
// Access tokens of the ended sessions are refused once the revocation view
// (API.md section 9) is told: the caller of this method should report
// tokens.User.ID as revoked up to tokens.User.TokenVersion.
func (r *Recovery) ResetPassword(ctx context.Context, token, newPassword string) (Tokens, error) {
	s := r.svc
	if err := s.spend(BudgetIP, s.limits.IP, ipBudgetKey(ClientFromContext(ctx).IP)); err != nil {
		return Tokens{}, err
	}
	l, err := r.checkLink(ctx, LinkPasswordReset, token)
	if err != nil {
		return Tokens{}, err
	}
	if err := CheckPassword(newPassword); err != nil {
		return Tokens{}, err
	}
	hash, err := s.hash(ctx, newPassword)
	if err != nil {
		return Tokens{}, err
	}
	now := s.now().UTC()
	notice, err := r.key.sealMail(uuid.NewString(), MailPasswordChanged, MailValues{}, now)
	if err != nil {
		return Tokens{}, err
	}
	u, err := r.store.ResetPassword(ctx, PasswordReset{LinkID: l.ID, TokenHash: l.TokenHash, Hash: hash, Now: now, Notice: notice})
	if errors.Is(err, ErrNotFound) {
		// Used by a concurrent reset, or superseded, since it was checked.
		return Tokens{}, ErrLinkInvalid
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("reset password: %w", err)
	}
	s.userRevoked(u.ID, u.TokenVersion, now)
	return s.startSession(ctx, u)
}

// VerifyEmail marks the address of a verification link's user verified and
// returns the user. It needs no caller: the link proves the mailbox.
// LINK_INVALID as for ResetPassword.
func (r *Recovery) VerifyEmail(ctx context.Context, token string) (User, error) {
	s := r.svc
	if err := s.spend(BudgetIP, s.limits.IP, ipBudgetKey(ClientFromContext(ctx).IP)); err != nil {
		return User{}, err
	}
	l, err := r.checkLink(ctx, LinkEmailVerification, token)
	if err != nil {
		return User{}, err
	}
	u, err := r.store.VerifyEmail(ctx, l.ID, l.TokenHash, s.now().UTC())
	if errors.Is(err, ErrNotFound) {
		return User{}, ErrLinkInvalid
	}
	if err != nil {
		return User{}, fmt.Errorf("verify e-mail: %w", err)
	}
	s.userChanged(u.ID)
	return u, nil
}

// NotifyPasswordChanged queues the "your password was changed" notice to
// the user's address. ChangePassword's caller runs it after a successful
// change (a reset queues its own, in the reset's transaction).
func (r *Recovery) NotifyPasswordChanged(ctx context.Context, userID string) error {
	notice, err := r.key.sealMail(uuid.NewString(), MailPasswordChanged, MailValues{}, r.svc.now().UTC())
	if err != nil {
		return err
	}
	if err := r.store.QueueMail(ctx, userID, notice); err != nil {
		return fmt.Errorf("notify password changed: %w", err)
	}
	return nil
}

// DeleteAccount deletes the caller's account, its sessions and its pending
// links, after checking password like a sign-in does (INVALID_CREDENTIALS,
// spending the account's failed-login budget). The user's refresh tokens
// are then refused with SESSION_REVOKED; the caller of this method should
// report the user's sessions to the revocation view (API.md section 9) so
// its access tokens are refused too.
func (r *Recovery) DeleteAccount(ctx context.Context, password string) error {
	s := r.svc
	c, err := RequireCaller(ctx)
	if err != nil {
		return err
	}
	if password == "" {
		return BadUserInput("password is required")
	}
	if len(password) > MaxPasswordBytes {
		return ErrInvalidCredentials
	}
	u, err := s.store.UserByID(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) {
		return Unauthenticated(ReasonSessionRevoked)
	}
	if err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	account := EmailKey(u.Email)
	if err := s.check(BudgetLogin, s.limits.LoginFailures, account); err != nil {
		return err
	}
	if err := s.compare(ctx, u.PasswordHash, password); err != nil {
		if errors.Is(err, ErrInvalidCredentials) {
			charge(s.limits.LoginFailures, account)
		}
		return err
	}
	err = r.store.DeleteUser(ctx, u.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("delete account: %w", err)
	}
	s.userRevoked(u.ID, DeletedVersion, s.now().UTC())
	return nil
}

// PruneLinks deletes links that expired, and mail that left the queue,
// more than retain ago, and the e-mail budgets of windows that began
// before that; retain is never taken shorter than the budget's window.
func (r *Recovery) PruneLinks(ctx context.Context, retain time.Duration) (int64, error) {
	return r.store.PruneLinks(ctx, r.svc.now().UTC().Add(-max(retain, r.cfg.EmailWindow)))
}

// humanDuration says a link lifetime the way a mail does: "30 minutes",
// "48 hours".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return d.String()
}
