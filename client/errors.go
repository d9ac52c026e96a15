package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrSignedOut is returned (wrapped, so test it with errors.Is) when the
// server has ended the session for good: a refresh token reused outside
// the grace window, a revoked session, or a refresh token that has
// expired. The Client has cleared its Store by then; sign in again.
var ErrSignedOut = errors.New("client: signed out")

// The error codes of API.md section 5 that a client acts on.
const (
	CodeBadUserInput       = "BAD_USER_INPUT"
	CodeBadRequest         = "BAD_REQUEST"
	CodeUnauthenticated    = "UNAUTHENTICATED"
	CodeInvalidCredentials = "INVALID_CREDENTIALS"
	CodeEmailTaken         = "EMAIL_TAKEN"
	CodeNotFound           = "NOT_FOUND"
	CodeRateLimited        = "RATE_LIMITED"
	CodeStoreUnavailable   = "STORE_UNAVAILABLE"
	CodeInternal           = "INTERNAL"
)

// The reasons that accompany CodeUnauthenticated.
const (
	ReasonTokenMissing   = "TOKEN_MISSING"
	ReasonTokenExpired   = "TOKEN_EXPIRED"
	ReasonTokenInvalid   = "TOKEN_INVALID"
	ReasonSessionRevoked = "SESSION_REVOKED"
	ReasonRefreshReused  = "REFRESH_REUSED"
)

// Error is an error the server answered: a problem+json body on REST, or
// the first error of a GraphQL response. Code and Reason are the wire
// names of API.md section 5; Code is empty when the answer was not
// tokengate's (a proxy's 502, say).
type Error struct {
	// Status is the HTTP status of the response.
	Status  int
	Code    string
	Reason  string
	Message string
	// RetryAfter is the server's Retry-After, set for RATE_LIMITED and
	// STORE_UNAVAILABLE.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := "tokengate: " + strconv.Itoa(e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// signedOut wraps the server's answer so that both errors.Is(err,
// ErrSignedOut) and errors.As(err, **Error) work.
func signedOut(e *Error) error {
	if e == nil {
		return ErrSignedOut
	}
	return fmt.Errorf("%w: %w", ErrSignedOut, e)
}

// endsSession reports whether the reason means no token of the session
// will ever work again.
func endsSession(reason string) bool {
	return reason == ReasonSessionRevoked || reason == ReasonRefreshReused
}

// parseError reads the error of a response body: problem+json, or a
// GraphQL response's first error with a code. It returns nil when the body
// has neither, as a foreign server's body would not.
func parseError(status int, h http.Header, body []byte) *Error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil
	}
	var doc struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Code   string `json:"code"`
		Reason string `json:"reason"`
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code       string `json:"code"`
				Reason     string `json:"reason"`
				RetryAfter int    `json:"retryAfter"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return nil
	}
	e := &Error{Status: status, RetryAfter: retryAfter(h)}
	switch {
	case doc.Code != "":
		e.Code, e.Reason, e.Message = doc.Code, doc.Reason, doc.Detail
		if e.Message == "" {
			e.Message = doc.Title
		}
	default:
		// The first error with a code, but an UNAUTHENTICATED one before
		// any other: it is what the client can act on.
		pick := -1
		for i, ge := range doc.Errors {
			if ge.Extensions.Code == CodeUnauthenticated {
				pick = i
				break
			}
			if pick < 0 && ge.Extensions.Code != "" {
				pick = i
			}
		}
		if pick < 0 {
			return nil
		}
		ge := doc.Errors[pick]
		e.Code, e.Reason, e.Message = ge.Extensions.Code, ge.Extensions.Reason, ge.Message
		if e.RetryAfter == 0 && ge.Extensions.RetryAfter > 0 {
			e.RetryAfter = time.Duration(ge.Extensions.RetryAfter) * time.Second
		}
	}
	return e
}

// unexpected describes a failed response that carries no tokengate error,
// as a proxy in front of the server may send: it has no Code.
func unexpected(status int, h http.Header) *Error {
	return &Error{Status: status, Message: "unexpected response: " + http.StatusText(status), RetryAfter: retryAfter(h)}
}

// retryAfter reads a Retry-After header of delay-seconds; tokengate sends
// no HTTP dates.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
