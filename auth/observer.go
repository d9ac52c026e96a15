package auth

import "errors"

// Observer is told the outcome of every sign-in, every refresh and every
// request a rate limit refused, so that operations can count them (the
// metrics package implements it with Prometheus counters). The domain only
// names the outcomes; it knows nothing of how they are recorded.
//
// Its methods are called on the request path, possibly concurrently, and
// must not block.
type Observer interface {
	// Login is called once per Login call with one of the Login* outcomes.
	Login(outcome string)
	// Refresh is called once per refresh-token check with one of the
	// Refresh* outcomes. Parallel requests that share one store round trip
	// (see Service.Rotate) count once.
	Refresh(outcome string)
	// RateLimited is called when a budget refuses a request, with one of
	// the Budget* names.
	RateLimited(budget string)
}

// The outcomes passed to Observer.Login.
const (
	LoginSuccess = "success"
	// LoginInvalidCredentials counts every attempt refused for what the
	// client sent: a wrong or unknown e-mail or password, or one that breaks
	// the input rules.
	LoginInvalidCredentials = "invalid_credentials"
	LoginRateLimited        = "rate_limited"
	// LoginError is anything else: the store or the server failed.
	LoginError = "error"
)

// The outcomes passed to Observer.Refresh.
const (
	RefreshRotated = "rotated"
	// RefreshGrace is the previous generation's token answered inside the
	// reuse grace window, without advancing the session.
	RefreshGrace       = "grace"
	RefreshReused      = "reused"
	RefreshRevoked     = "revoked"
	RefreshExpired     = "expired"
	RefreshInvalid     = "invalid"
	RefreshStoreError  = "store_error"
	RefreshRateLimited = "rate_limited"
)

// The budgets passed to Observer.RateLimited: the three of Limits.
const (
	BudgetLogin   = "login"
	BudgetIP      = "ip"
	BudgetRefresh = "refresh"
)

// Option configures a Service beyond its required dependencies.
type Option func(*Service)

// WithObserver makes the Service report outcomes to o. Without it, nothing
// is reported.
func WithObserver(o Observer) Option {
	return func(s *Service) {
		if o != nil {
			s.obs = o
		}
	}
}

// noObserver is the default Observer: it records nothing.
type noObserver struct{}

func (noObserver) Login(string)       {}
func (noObserver) Refresh(string)     {}
func (noObserver) RateLimited(string) {}

// loginOutcome classifies the result of Login for the Observer.
func loginOutcome(err error) string {
	if err == nil {
		return LoginSuccess
	}
	switch ErrorOf(err).Code {
	case CodeInvalidCredentials, CodeBadUserInput:
		return LoginInvalidCredentials
	case CodeRateLimited:
		return LoginRateLimited
	}
	return LoginError
}

// refreshFailure classifies a failed refresh for the Observer.
func refreshFailure(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		return RefreshStoreError
	}
	switch {
	case e.Code == CodeRateLimited:
		return RefreshRateLimited
	case e.Code != CodeUnauthenticated:
		return RefreshStoreError
	case e.Reason == ReasonRefreshReused:
		return RefreshReused
	case e.Reason == ReasonSessionRevoked:
		return RefreshRevoked
	case e.Reason == ReasonTokenExpired:
		return RefreshExpired
	}
	return RefreshInvalid
}
