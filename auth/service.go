package auth

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

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
	// passwordChanged queues the "your password was changed" notice; set
	// by NewRecovery, nil without it.
	passwordChanged func(ctx context.Context, userID string) error
	// revChecker, revSink and users are the revocation view and the user
	// cache (WithRevocation); nil without them.
	revChecker RevocationChecker
	revSink    RevocationSink
	users      UserCache
	store      Store
	tokens     TokenCodec
	policy     Policy
	limits     Limits
	now        Clock
	log        *slog.Logger
	obs        Observer
	flights    singleflight.Group
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

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error {
	return s.store.Ping(ctx)
}
