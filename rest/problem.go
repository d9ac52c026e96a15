// Package rest is tokengate's HTTP/JSON edge under /auth (API.md section 4).
// Its handlers decode a request, call the auth.Service and encode the answer;
// this file is the one place an auth.Code becomes an HTTP status.
package rest

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/middleware"
)

// statusOf is the one map from a domain code to an HTTP status (API.md
// section 5). A code missing here is a bug, answered as INTERNAL.
var statusOf = map[auth.Code]int{
	auth.CodeBadUserInput:       http.StatusBadRequest,
	auth.CodeBadRequest:         http.StatusBadRequest,
	auth.CodeUnauthenticated:    http.StatusUnauthorized,
	auth.CodeInvalidCredentials: http.StatusUnauthorized,
	auth.CodeEmailTaken:         http.StatusConflict,
	auth.CodeNotFound:           http.StatusNotFound,
	auth.CodeRateLimited:        http.StatusTooManyRequests,
	auth.CodeStoreUnavailable:   http.StatusServiceUnavailable,
	auth.CodeInternal:           http.StatusInternalServerError,
}

// problem is an RFC 9457 problem details object with tokengate's code and
// reason as extension members.
type problem struct {
	Type   string      `json:"type"`
	Title  string      `json:"title"`
	Status int         `json:"status"`
	Code   auth.Code   `json:"code"`
	Reason auth.Reason `json:"reason,omitempty"`
	Detail string      `json:"detail"`
}

// internalMessage is all a client learns of an INTERNAL error.
const internalMessage = "internal error"

// NewErrorWriter returns the ErrorWriter that answers every failed request,
// from the middleware and from the handlers alike, as
// application/problem+json, as Answer decides.
func NewErrorWriter(log *slog.Logger) middleware.ErrorWriter {
	if log == nil {
		panic("rest: NewErrorWriter needs a logger")
	}
	return func(w http.ResponseWriter, r *http.Request, err error) {
		status, e := Answer(log, r, err)
		writeProblem(w, r, status, e)
	}
}

// Answer decides how a failed request is answered, whatever the shape of
// the body: its status, and the error as the client may see it. INTERNAL
// errors, and errors of a code with no status (a bug), are logged with
// their cause and shown only as "internal error"; STORE_UNAVAILABLE is
// logged as a warning so an outage is visible in the logs.
func Answer(log *slog.Logger, r *http.Request, err error) (status int, public *auth.Error) {
	e := auth.ErrorOf(err)
	status, known := statusOf[e.Code]
	if !known {
		e, status = &auth.Error{Code: auth.CodeInternal}, http.StatusInternalServerError
	}
	switch e.Code {
	case auth.CodeInternal:
		logFailure(log, r, slog.LevelError, err)
		e = &auth.Error{Code: auth.CodeInternal, Message: internalMessage}
	case auth.CodeStoreUnavailable:
		logFailure(log, r, slog.LevelWarn, err)
	}
	return status, e
}

// logFailure names the request by method, path and caller only: headers,
// bodies and tokens stay out of the logs.
func logFailure(log *slog.Logger, r *http.Request, level slog.Level, err error) {
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
	}
	if c := auth.CallerFromContext(r.Context()); c.Authenticated() {
		attrs = append(attrs, slog.String("user", c.UserID))
	}
	attrs = append(attrs, slog.Any("err", err))
	log.LogAttrs(r.Context(), level, "request failed", attrs...)
}

// NotFound answers a request for a route that does not exist; it is chi's
// NotFound hook.
func NotFound(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, statusOf[auth.CodeNotFound], &auth.Error{Code: auth.CodeNotFound, Message: "no such route"})
}

// MethodNotAllowed answers a request whose path exists for other methods
// only; it is chi's MethodNotAllowed hook. The code is BAD_REQUEST, but the
// status is 405 rather than what statusOf says, with the Allow header RFC
// 9110 requires.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if allow := allowedMethods(r); len(allow) > 0 {
		w.Header()["Allow"] = allow
	}
	writeProblem(w, r, http.StatusMethodNotAllowed,
		&auth.Error{Code: auth.CodeBadRequest, Message: "method " + r.Method + " is not allowed on this route"})
}

// allowedMethods asks the router which methods the request's path has,
// since chi does not hand a custom 405 handler the list it knows.
func allowedMethods(r *http.Request) []string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil || rctx.Routes == nil {
		return nil
	}
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		if rctx.Routes.Match(chi.NewRouteContext(), m, path) {
			allow = append(allow, m)
		}
	}
	return allow
}

// writeProblem writes e with the given status. Callers pass statusOf's
// answer except for a 405, which has no code of its own.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, e *auth.Error) {
	SetErrorHeaders(w.Header(), status, e)
	_ = writeJSON(w, status, "application/problem+json", problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Code:   e.Code,
		Reason: e.Reason,
		Detail: e.Message,
	})
}

// SetErrorHeaders sets what every error answer carries whatever the shape
// of its body: the challenge of a 401, the Retry-After of a 429 or 503, and
// no-store, since an error depends on state (a budget, the store, a token)
// and must never be replayed from a cache.
func SetErrorHeaders(h http.Header, status int, e *auth.Error) {
	switch status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", challenge(e))
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		h.Set("Retry-After", retryAfter(e.RetryAfter))
	}
	h.Set("Cache-Control", "no-store")
}

// challenge is the RFC 6750 WWW-Authenticate value of a 401.
func challenge(e *auth.Error) string {
	// RFC 6750: invalid_token says the presented token is bad, and clients
	// drop their tokens on it. So it is said only when a token was sent and
	// failed (a reason other than TOKEN_MISSING), never for a wrong password
	// or a missing token, even if the request carried some other good token.
	if e.Code == auth.CodeUnauthenticated && e.Reason != auth.ReasonNone && e.Reason != auth.ReasonTokenMissing {
		return `Bearer error="invalid_token"`
	}
	return "Bearer"
}

// retryAfter renders d in whole seconds, rounded up and at least 1: a
// client told 0 would retry at once.
func retryAfter(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(secs, 1), 10)
}
