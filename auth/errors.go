package auth

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an error for clients. Each code maps to exactly one HTTP
// status at the REST edge and appears verbatim as extensions.code in GraphQL.
type Code string

// The codes of API.md section 5, plus NOT_FOUND for a session that is not
// the caller's.
const (
	CodeBadUserInput       Code = "BAD_USER_INPUT"
	CodeBadRequest         Code = "BAD_REQUEST"
	CodeUnauthenticated    Code = "UNAUTHENTICATED"
	CodeInvalidCredentials Code = "INVALID_CREDENTIALS"
	CodeEmailTaken         Code = "EMAIL_TAKEN"
	CodeNotFound           Code = "NOT_FOUND"
	CodeRateLimited        Code = "RATE_LIMITED"
	CodeStoreUnavailable   Code = "STORE_UNAVAILABLE"
	CodeInternal           Code = "INTERNAL"
)

// Reason says why a caller is anonymous. It accompanies UNAUTHENTICATED.
type Reason string

// The reasons of API.md section 5.
const (
	ReasonNone           Reason = ""
	ReasonTokenMissing   Reason = "TOKEN_MISSING"
	ReasonTokenExpired   Reason = "TOKEN_EXPIRED"
	ReasonTokenInvalid   Reason = "TOKEN_INVALID"
	ReasonSessionRevoked Reason = "SESSION_REVOKED"
	ReasonRefreshReused  Reason = "REFRESH_REUSED"
)

// Error is the one error type the domain hands to its edges. Message is safe
// to show to a client; Err is the internal cause, for logs only.
type Error struct {
	Code    Code
	Reason  Reason
	Message string
	// RetryAfter is set for RATE_LIMITED and STORE_UNAVAILABLE.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	msg := string(e.Code) + ": " + e.Message
	if e.Reason != ReasonNone {
		msg += " (" + string(e.Reason) + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is match on code and reason, so sentinels such as
// ErrNotFound match any error of the same kind whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return e.Code == t.Code && (t.Reason == ReasonNone || e.Reason == t.Reason)
}

// Sentinels for errors.Is. Stores return ErrNotFound, ErrEmailTaken and
// ErrStoreUnavailable (wrapped with Unavailable to keep the cause).
var (
	ErrNotFound           = &Error{Code: CodeNotFound, Message: "not found"}
	ErrEmailTaken         = &Error{Code: CodeEmailTaken, Message: "an account with this e-mail already exists"}
	ErrStoreUnavailable   = &Error{Code: CodeStoreUnavailable, Message: "the database cannot be reached; try again shortly", RetryAfter: StoreRetryAfter}
	ErrInvalidCredentials = &Error{Code: CodeInvalidCredentials, Message: "wrong e-mail or password"}
)

// StoreRetryAfter is the Retry-After a client is given when the store is down.
const StoreRetryAfter = 2 * time.Second

// Unavailable wraps a store's connection-level failure as STORE_UNAVAILABLE,
// keeping the cause for the logs.
func Unavailable(cause error) error {
	return &Error{Code: CodeStoreUnavailable, Message: ErrStoreUnavailable.Message, RetryAfter: StoreRetryAfter, Err: cause}
}

// Unauthenticated reports that a caller is needed and reason says why there
// is none.
func Unauthenticated(reason Reason) error {
	if reason == ReasonNone {
		reason = ReasonTokenMissing
	}
	return &Error{Code: CodeUnauthenticated, Reason: reason, Message: reasonMessages[reason]}
}

var reasonMessages = map[Reason]string{
	ReasonTokenMissing:   "authentication required",
	ReasonTokenExpired:   "the token has expired",
	ReasonTokenInvalid:   "the token is invalid",
	ReasonSessionRevoked: "the session has ended",
	ReasonRefreshReused:  "the refresh token was already used; the session has been ended",
}

// BadUserInput reports input that breaks a documented rule.
func BadUserInput(format string, args ...any) error {
	return &Error{Code: CodeBadUserInput, Message: fmt.Sprintf(format, args...)}
}

// BadRequest reports a request that cannot be understood as a whole
// (conflicting credentials, an oversized body).
func BadRequest(format string, args ...any) error {
	return &Error{Code: CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

// RateLimited reports a spent budget.
func RateLimited(retryAfter time.Duration) error {
	return &Error{Code: CodeRateLimited, Message: "too many attempts; try again later", RetryAfter: retryAfter}
}

// ErrorOf returns err as an *Error. Anything that is not one becomes
// INTERNAL, keeping err as the cause so it can be logged but never shown.
func ErrorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error", Err: err}
}
