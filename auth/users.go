package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
)

// Register creates an account and signs it in on a new session.
func (s *Service) Register(ctx context.Context, email, password, name string) (Tokens, error) {
	if err := s.spend(BudgetIP, s.limits.IP, ipBudgetKey(ClientFromContext(ctx).IP)); err != nil {
		return Tokens{}, err
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return Tokens{}, err
	}
	if err := CheckPassword(password); err != nil {
		return Tokens{}, err
	}
	if name, err = NormalizeName(name); err != nil {
		return Tokens{}, err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return Tokens{}, err
	}
	u := User{ID: uuid.NewString(), Email: email, Name: name, PasswordHash: hash, CreatedAt: s.now().UTC()}
	ticket := s.userTicket()
	if err := s.store.CreateUser(ctx, u); err != nil {
		return Tokens{}, fmt.Errorf("register: %w", err)
	}
	s.remember(u, ticket)
	return s.startSession(ctx, u)
}

// Login signs a user in on a new session. A wrong password and an unknown
// e-mail give the same error after the same bcrypt work.
func (s *Service) Login(ctx context.Context, email, password string) (_ Tokens, err error) {
	defer func() { s.obs.Login(loginOutcome(err)) }()
	if err := s.spend(BudgetIP, s.limits.IP, ipBudgetKey(ClientFromContext(ctx).IP)); err != nil {
		return Tokens{}, err
	}
	email, err = NormalizeEmail(email)
	if err != nil {
		return Tokens{}, err
	}
	if password == "" {
		return Tokens{}, BadUserInput("password is required")
	}
	if len(password) > MaxPasswordBytes {
		return Tokens{}, BadUserInput("password must be at most %d bytes", MaxPasswordBytes)
	}
	account := EmailKey(email)
	if err := s.check(BudgetLogin, s.limits.LoginFailures, account); err != nil {
		return Tokens{}, err
	}
	ticket := s.userTicket()
	u, err := s.store.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := s.compare(ctx, s.dummyHash, password); err != nil && !errors.Is(err, ErrInvalidCredentials) {
			return Tokens{}, err
		}
		charge(s.limits.LoginFailures, account)
		return Tokens{}, ErrInvalidCredentials
	case err != nil:
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	if err := s.compare(ctx, u.PasswordHash, password); err != nil {
		if errors.Is(err, ErrInvalidCredentials) {
			charge(s.limits.LoginFailures, account)
		}
		return Tokens{}, err
	}
	s.upgradeHash(ctx, u, password)
	s.remember(u, ticket)
	return s.startSession(ctx, u)
}

// upgradeHash re-hashes a password stored at a lower cost than configured.
// Failure is logged, not returned: the sign-in itself succeeded.
func (s *Service) upgradeHash(ctx context.Context, u User, password string) {
	cost, err := bcrypt.Cost(u.PasswordHash)
	if err != nil || cost >= s.policy.BcryptCost {
		return
	}
	hash, err := s.hash(ctx, password)
	if err == nil {
		err = s.store.SetPasswordHash(ctx, u.ID, u.PasswordHash, hash)
	}
	if errors.Is(err, ErrNotFound) {
		return // the password changed meanwhile; the new hash stands
	}
	if err != nil {
		s.log.WarnContext(ctx, "password hash upgrade failed", "user", u.ID, "err", err)
	}
}

// RevokeUser is the operator's version of LogoutAll, by e-mail. It needs
// only the store, so the command-line tool can run it without the token
// secrets.
func RevokeUser(ctx context.Context, st Store, email string, now time.Time) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	u, err := st.UserByEmail(ctx, email)
	if err != nil {
		return fmt.Errorf("find user: %w", err)
	}
	if err := st.RevokeUser(ctx, u.ID, now.UTC()); err != nil {
		return fmt.Errorf("revoke user: %w", err)
	}
	return nil
}

// ChangePassword replaces the caller's password after checking the current
// one, ends every other session and every refresh token issued before, and
// returns a new pair for the caller's session.
func (s *Service) ChangePassword(ctx context.Context, current, next string) (Tokens, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return Tokens{}, err
	}
	if current == "" {
		return Tokens{}, BadUserInput("currentPassword is required")
	}
	if len(current) > MaxPasswordBytes {
		return Tokens{}, ErrInvalidCredentials
	}
	if err := CheckPassword(next); err != nil {
		return Tokens{}, err
	}
	u, err := s.store.UserByID(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) {
		return Tokens{}, Unauthenticated(ReasonSessionRevoked)
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("change password: %w", err)
	}
	account := EmailKey(u.Email)
	if err := s.check(BudgetLogin, s.limits.LoginFailures, account); err != nil {
		return Tokens{}, err
	}
	if err := s.compare(ctx, u.PasswordHash, current); err != nil {
		if errors.Is(err, ErrInvalidCredentials) {
			charge(s.limits.LoginFailures, account)
		}
		return Tokens{}, err
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return Tokens{}, err
	}
	now := s.now().UTC()
	u, sess, err := s.store.ChangePassword(ctx, u.ID, c.SessionID, hash, now)
	if errors.Is(err, ErrNotFound) {
		return Tokens{}, Unauthenticated(ReasonSessionRevoked)
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("change password: %w", err)
	}
	s.userRevoked(u.ID, u.TokenVersion, now)
	if s.passwordChanged != nil {
		// The change stands even if its notice cannot be queued.
		if err := s.passwordChanged(ctx, u.ID); err != nil {
			s.log.WarnContext(ctx, "password-changed notice not queued", "err", err)
		}
	}
	return s.issue(u, sess)
}

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context) (User, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return User{}, err
	}
	if s.users != nil {
		// The caller's token was checked against the revocation view, and
		// the feed drops a copy whenever the user changes or is deleted:
		// the copy is as current as the view, and answers without the
		// store, down or not.
		if cached, ok := s.users.Get(c.UserID); ok {
			return cached, nil
		}
	}
	ticket := s.userTicket()
	u, err := s.store.UserByID(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) {
		return User{}, Unauthenticated(ReasonTokenInvalid)
	}
	if err != nil {
		return User{}, fmt.Errorf("load user: %w", err)
	}
	s.remember(u, ticket)
	return u, nil
}
