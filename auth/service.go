package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/singleflight"
)

// Policy holds the session and password settings the Service enforces.
type Policy struct {
	RefreshTTL    time.Duration
	SessionMaxAge time.Duration
	// ReuseGrace is how long the previous generation's refresh token is
	// still honoured after a rotation (parallel requests of one client).
	ReuseGrace time.Duration
	BcryptCost int
	// MaxSessionsPerUser caps live sessions; the oldest are ended first.
	MaxSessionsPerUser int
	// MaxConcurrentHashes bounds bcrypt work so a login flood cannot starve
	// the rest of the server; HashWait is how long an attempt queues for a
	// slot before it is refused with RATE_LIMITED.
	MaxConcurrentHashes int
	HashWait            time.Duration
}

// DefaultPolicy returns the defaults of API.md section 7.
func DefaultPolicy() Policy {
	return Policy{
		RefreshTTL:         168 * time.Hour,
		SessionMaxAge:      720 * time.Hour,
		ReuseGrace:         10 * time.Second,
		BcryptCost:         12,
		MaxSessionsPerUser: 100,
		// One hash per CPU: sign-ins get the machine's whole capacity. A
		// flood of them past the rate limits then slows every other
		// request (on two CPUs the access path's p99 rose sevenfold, to
		// 25 ms), where one slot fewer than the CPUs kept it near 6 ms for
		// half the sign-ins; BCRYPT_CONCURRENCY makes that trade
		// (docs/reliability.md, bench/flood).
		MaxConcurrentHashes: runtime.GOMAXPROCS(0),
		HashWait:            2 * time.Second,
	}
}

// Limits are the three separate budgets of API.md section 5. A nil Limiter
// never limits.
type Limits struct {
	// LoginFailures is spent by failed sign-ins, keyed by account e-mail.
	LoginFailures Limiter
	// IP is spent by register, login and explicit refresh, keyed by client IP.
	IP Limiter
	// Refresh is spent by rotations, keyed by session.
	Refresh Limiter
}

// rotateTimeout bounds a shared rotation: it runs detached from the request
// that started it, so that request giving up does not fail the others.
const rotateTimeout = 10 * time.Second

// Service carries out every account and session operation. The REST
// handlers and the GraphQL resolvers are thin translations onto it.
type Service struct {
	store   Store
	tokens  TokenCodec
	policy  Policy
	limits  Limits
	now     Clock
	log     *slog.Logger
	obs     Observer
	flights singleflight.Group
	// hashSlots bounds concurrent bcrypt work.
	hashSlots chan struct{}
	// dummyHash is compared against when the e-mail is unknown, so an
	// unknown account costs the same time as a wrong password.
	dummyHash []byte
}

// NewService builds the Service. It spends one bcrypt hash at the
// configured cost to prepare the unknown-account comparison.
func NewService(store Store, tokens TokenCodec, policy Policy, limits Limits, now Clock, log *slog.Logger, opts ...Option) (*Service, error) {
	if policy.MaxConcurrentHashes < 1 {
		policy.MaxConcurrentHashes = 1
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("tokengate-unknown-account"), policy.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("prepare dummy hash: %w", err)
	}
	s := &Service{
		store:     store,
		tokens:    tokens,
		policy:    policy,
		limits:    limits,
		now:       now,
		log:       log,
		obs:       noObserver{},
		hashSlots: make(chan struct{}, policy.MaxConcurrentHashes),
		dummyHash: dummy,
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// VerifyAccess checks an access token without any I/O.
func (s *Service) VerifyAccess(raw string) (AccessClaims, error) {
	return s.tokens.VerifyAccess(raw)
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error {
	return s.store.Ping(ctx)
}

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
	if err := s.store.CreateUser(ctx, u); err != nil {
		return Tokens{}, fmt.Errorf("register: %w", err)
	}
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

// Refresh is the explicit refresh operation. raw defaults to the request's
// x-refresh-token. A request is rotated at most once: when the middleware
// already rotated that same token, its tokens are returned again, and when
// it tried and failed, its verdict is.
func (s *Service) Refresh(ctx context.Context, raw string) (Tokens, error) {
	state := refreshFromContext(ctx)
	if raw == "" {
		raw = state.header
	}
	if raw == "" {
		return Tokens{}, Unauthenticated(ReasonTokenMissing)
	}
	if state.rotated != nil {
		if raw != state.header {
			return Tokens{}, BadRequest("conflicting credentials: the refresh token differs from x-refresh-token")
		}
		RecordIssued(ctx, *state.rotated)
		return *state.rotated, nil
	}
	if err := s.spend(BudgetIP, s.limits.IP, ipBudgetKey(ClientFromContext(ctx).IP)); err != nil {
		return Tokens{}, err
	}
	if c := CallerFromContext(ctx); raw == state.header && !c.Authenticated() && c.Reason != "" {
		// The middleware tried this token and it failed. Trying again would
		// be a second rotation attempt, and for a reused token it would find
		// the session the first attempt ended and hide the reuse.
		return Tokens{}, Unauthenticated(c.Reason)
	}
	return s.Rotate(ctx, raw)
}

// Rotate verifies a refresh token, checks and advances its session in one
// store statement, and issues a new pair. Concurrent calls with the same
// token in this process share one store round trip and one result.
func (s *Service) Rotate(ctx context.Context, raw string) (Tokens, error) {
	claims, err := s.tokens.VerifyRefresh(raw)
	if err != nil {
		s.obs.Refresh(refreshFailure(err))
		return Tokens{}, err
	}
	client := ClientFromContext(ctx)
	v, err, _ := s.flights.Do(raw, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rotateTimeout)
		defer cancel()
		t, err := s.rotate(ctx, claims, client)
		if err != nil {
			s.obs.Refresh(refreshFailure(err))
		}
		return t, err
	})
	if err != nil {
		return Tokens{}, err
	}
	t := v.(Tokens)
	RecordIssued(ctx, t)
	return t, nil
}

func (s *Service) rotate(ctx context.Context, claims RefreshClaims, client Client) (Tokens, error) {
	if err := s.check(BudgetRefresh, s.limits.Refresh, claims.SessionID); err != nil {
		return Tokens{}, err
	}
	now := s.now().UTC()
	r, ok, err := s.store.RotateSession(ctx, Rotation{
		SessionID:    claims.SessionID,
		UserID:       claims.UserID,
		TokenVersion: claims.TokenVersion,
		Generation:   claims.Generation,
		Now:          now,
		ExpiresAt:    now.Add(s.policy.RefreshTTL),
		UserAgent:    client.UserAgent,
		IP:           client.IP,
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("rotate session: %w", err)
	}
	if ok {
		// Checked before the statement; concurrent rotations may overdraw by
		// a few, which a budget tolerates.
		charge(s.limits.Refresh, claims.SessionID)
		s.obs.Refresh(RefreshRotated)
		return s.issue(r.User, r.Session)
	}
	return s.explainRotation(ctx, claims, now)
}

// explainRotation decides what a refused rotation was: the previous
// generation inside the grace window (answered with the current
// generation's tokens), reuse of an older one (the session is ended), or a
// revoked or expired session.
func (s *Service) explainRotation(ctx context.Context, claims RefreshClaims, now time.Time) (Tokens, error) {
	sess, u, err := s.store.SessionState(ctx, claims.SessionID)
	if errors.Is(err, ErrNotFound) {
		return Tokens{}, Unauthenticated(ReasonSessionRevoked)
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("explain rotation: %w", err)
	}
	switch {
	case sess.UserID != claims.UserID:
		return Tokens{}, Unauthenticated(ReasonTokenInvalid)
	case u.TokenVersion != claims.TokenVersion || !sess.RevokedAt.IsZero():
		return Tokens{}, Unauthenticated(ReasonSessionRevoked)
	case !sess.Live(now):
		return Tokens{}, Unauthenticated(ReasonTokenExpired)
	case claims.Generation == sess.Generation-1 && now.Sub(sess.RotatedAt) <= s.policy.ReuseGrace:
		s.obs.Refresh(RefreshGrace)
		return s.issue(u, sess)
	case claims.Generation < sess.Generation:
		if err := s.store.EndSession(ctx, sess.ID, now); err != nil {
			return Tokens{}, fmt.Errorf("end reused session: %w", err)
		}
		s.log.WarnContext(ctx, "refresh token reused outside the grace window; session ended",
			"user", sess.UserID, "session", sess.ID, "generation", claims.Generation, "current", sess.Generation)
		return Tokens{}, Unauthenticated(ReasonRefreshReused)
	default:
		return Tokens{}, Unauthenticated(ReasonTokenInvalid)
	}
}

// Logout ends the caller's session. Ending an already ended session is not
// an error.
func (s *Service) Logout(ctx context.Context) error {
	c, err := RequireCaller(ctx)
	if err != nil {
		return err
	}
	err = s.store.RevokeSession(ctx, c.UserID, c.SessionID, s.now().UTC())
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// LogoutAll increments the caller's token counter: every refresh token
// issued before stops working, on every device.
func (s *Service) LogoutAll(ctx context.Context) error {
	c, err := RequireCaller(ctx)
	if err != nil {
		return err
	}
	if err := s.store.RevokeUser(ctx, c.UserID, s.now().UTC()); err != nil {
		return fmt.Errorf("logout all: %w", err)
	}
	return nil
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

// RevokeSession ends one of the caller's sessions. A session that is not
// the caller's is NOT_FOUND, the same as one that does not exist.
func (s *Service) RevokeSession(ctx context.Context, sessionID string) error {
	c, err := RequireCaller(ctx)
	if err != nil {
		return err
	}
	err = s.store.RevokeSession(ctx, c.UserID, sessionID, s.now().UTC())
	if errors.Is(err, ErrNotFound) {
		return &Error{Code: CodeNotFound, Message: "no such session", Err: err}
	}
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
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
	u, sess, err := s.store.ChangePassword(ctx, u.ID, c.SessionID, hash, s.now().UTC())
	if errors.Is(err, ErrNotFound) {
		return Tokens{}, Unauthenticated(ReasonSessionRevoked)
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("change password: %w", err)
	}
	t, err := s.issue(u, sess)
	if err != nil {
		return Tokens{}, err
	}
	RecordIssued(ctx, t)
	return t, nil
}

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context) (User, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return User{}, err
	}
	u, err := s.store.UserByID(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) {
		return User{}, Unauthenticated(ReasonTokenInvalid)
	}
	if err != nil {
		return User{}, fmt.Errorf("load user: %w", err)
	}
	return u, nil
}

// Sessions lists the caller's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context) ([]Session, error) {
	c, err := RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.store.ListSessions(ctx, c.UserID, s.now().UTC())
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return list, nil
}

// PruneSessions deletes sessions that ended more than retain ago.
func (s *Service) PruneSessions(ctx context.Context, retain time.Duration) (int64, error) {
	return s.store.PruneSessions(ctx, s.now().UTC().Add(-retain))
}

func (s *Service) startSession(ctx context.Context, u User) (Tokens, error) {
	now := s.now().UTC()
	client := ClientFromContext(ctx)
	maxExpiry := now.Add(s.policy.SessionMaxAge)
	sess := Session{
		ID:           uuid.NewString(),
		UserID:       u.ID,
		Generation:   1,
		CreatedAt:    now,
		LastUsedAt:   now,
		RotatedAt:    now,
		ExpiresAt:    earliest(now.Add(s.policy.RefreshTTL), maxExpiry),
		MaxExpiresAt: maxExpiry,
		UserAgent:    client.UserAgent,
		IP:           client.IP,
	}
	if err := s.store.CreateSession(ctx, sess, s.policy.MaxSessionsPerUser); err != nil {
		return Tokens{}, fmt.Errorf("create session: %w", err)
	}
	t, err := s.issue(u, sess)
	if err != nil {
		return Tokens{}, err
	}
	RecordIssued(ctx, t)
	return t, nil
}

// issue signs a pair for the session's current generation. The refresh
// token expires with the session's sliding expiry.
func (s *Service) issue(u User, sess Session) (Tokens, error) {
	access, accessExp, err := s.tokens.IssueAccess(u.ID, sess.ID, u.TokenVersion)
	if err != nil {
		return Tokens{}, fmt.Errorf("issue access token: %w", err)
	}
	refresh, err := s.tokens.IssueRefresh(RefreshClaims{
		UserID:       u.ID,
		SessionID:    sess.ID,
		TokenVersion: u.TokenVersion,
		Generation:   sess.Generation,
		ExpiresAt:    sess.ExpiresAt,
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("issue refresh token: %w", err)
	}
	return Tokens{
		AccessToken:          access,
		RefreshToken:         refresh,
		AccessTokenExpiresAt: accessExp,
		// JWT times are whole seconds; report what the token says.
		RefreshTokenExpiresAt: sess.ExpiresAt.Truncate(time.Second),
		User:                  u,
		SessionID:             sess.ID,
	}, nil
}

func (s *Service) hash(ctx context.Context, password string) ([]byte, error) {
	var hash []byte
	err := s.withHashSlot(ctx, func() (err error) {
		hash, err = bcrypt.GenerateFromPassword([]byte(password), s.policy.BcryptCost)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// compare returns ErrInvalidCredentials on a mismatch. bcrypt's comparison
// is constant-time in the password.
func (s *Service) compare(ctx context.Context, hash []byte, password string) error {
	return s.withHashSlot(ctx, func() error {
		if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
			return ErrInvalidCredentials
		}
		return nil
	})
}

func (s *Service) withHashSlot(ctx context.Context, fn func() error) error {
	wait := time.NewTimer(s.policy.HashWait)
	defer wait.Stop()
	select {
	case s.hashSlots <- struct{}{}:
		defer func() { <-s.hashSlots }()
		return fn()
	case <-wait.C:
		return RateLimited(time.Second)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) check(budget string, l Limiter, key string) error {
	if l == nil {
		return nil
	}
	if retry, ok := l.Check(key); !ok {
		s.obs.RateLimited(budget)
		return RateLimited(retry)
	}
	return nil
}

func (s *Service) spend(budget string, l Limiter, key string) error {
	if l == nil {
		return nil
	}
	if retry, ok := l.Spend(key); !ok {
		s.obs.RateLimited(budget)
		return RateLimited(retry)
	}
	return nil
}

// ipBudgetKey is the key of a client's per-IP budget. An IPv6 client
// usually holds a whole /64 and could otherwise rotate through fresh
// budgets, so IPv6 addresses share one budget per /64.
func ipBudgetKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is6() || addr.Is4In6() {
		return ip
	}
	p, _ := addr.Prefix(64)
	return p.String()
}

// charge spends after the fact: the attempt already happened, so the budget
// only affects the next one.
func charge(l Limiter, key string) {
	if l != nil {
		l.Spend(key)
	}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
