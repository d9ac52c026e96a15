package edge

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// ErrorWriter answers a request that failed, in the shape of the route it
// was for: problem+json on REST routes, a GraphQL response on /graphql.
// The middleware, the REST handlers and an adopter's own routes all answer
// errors through one.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// InternalMessage is all a client learns of an INTERNAL error.
const InternalMessage = "internal error"

// defaultStatuses is the map from a domain code to an HTTP status of API.md
// section 5.
var defaultStatuses = map[auth.Code]int{
	auth.CodeBadUserInput:       http.StatusBadRequest,
	auth.CodeBadRequest:         http.StatusBadRequest,
	auth.CodeUnauthenticated:    http.StatusUnauthorized,
	auth.CodeInvalidCredentials: http.StatusUnauthorized,
	auth.CodeEmailTaken:         http.StatusConflict,
	auth.CodeLinkInvalid:        http.StatusBadRequest,
	auth.CodeNotFound:           http.StatusNotFound,
	auth.CodeRateLimited:        http.StatusTooManyRequests,
	auth.CodeStoreUnavailable:   http.StatusServiceUnavailable,
	auth.CodeInternal:           http.StatusInternalServerError,
}

// statuses is the one code → status map both transports read. It is
// replaced whole by RegisterCode, never changed in place, so reading it on
// the error path takes no lock.
var (
	statuses   atomic.Pointer[map[auth.Code]int]
	registerMu sync.Mutex
)

func init() {
	m := maps.Clone(defaultStatuses)
	statuses.Store(&m)
}

// RegisterCode gives an error code of the adopter's own (FORBIDDEN,
// PAYMENT_REQUIRED, ...) its HTTP status, so an *auth.Error with that code
// is answered with that status and shown with its message on REST and
// GraphQL alike, instead of as INTERNAL. Call it while setting up, before
// serving. It panics on a status outside 400-599 or on an attempt to change
// one of tokengate's own codes: either would be a programming error.
func RegisterCode(code auth.Code, status int) {
	if status < 400 || status > 599 {
		panic(fmt.Sprintf("edge: status %d of code %s is not an error status", status, code))
	}
	if _, own := defaultStatuses[code]; own {
		panic(fmt.Sprintf("edge: %s is one of tokengate's own codes", code))
	}
	registerMu.Lock()
	defer registerMu.Unlock()
	m := maps.Clone(*statuses.Load())
	m[code] = status
	statuses.Store(&m)
}

// Status returns the HTTP status of code, and false for a code nobody
// registered (a bug, answered as INTERNAL).
func Status(code auth.Code) (int, bool) {
	s, ok := (*statuses.Load())[code]
	return s, ok
}

// Public is the one rule of what of an error a client may see, whatever
// the transport: the HTTP status of its code, the error as shown, and
// whether (and at which level) it must be logged with its cause. An error
// of a known code shows its code, reason and message; INTERNAL, and a code
// with no status (a bug), show only "internal error" and are logged as
// errors; STORE_UNAVAILABLE is logged as a warning, so an outage shows in
// the logs.
func Public(err error) (status int, public *auth.Error, level slog.Level, logIt bool) {
	e := auth.ErrorOf(err)
	status, known := Status(e.Code)
	if !known || e.Code == auth.CodeInternal {
		return http.StatusInternalServerError, &auth.Error{Code: auth.CodeInternal, Message: InternalMessage}, slog.LevelError, true
	}
	if e.Code == auth.CodeStoreUnavailable {
		return status, e, slog.LevelWarn, true
	}
	return status, e, 0, false
}

// Answer decides, by Public's rule, how a failed request is answered,
// whatever the shape of its body: the status and the error as the client
// may see it; it logs what Public says to log.
func Answer(log *slog.Logger, r *http.Request, err error) (status int, public *auth.Error) {
	status, public, level, logIt := Public(err)
	if logIt {
		logFailure(log, r, level, err)
	}
	return status, public
}

// logFailure names the request by its method; LogHandler adds its id,
// route pattern and user. Headers, bodies, raw paths and tokens
// stay out of the logs.
func logFailure(log *slog.Logger, r *http.Request, level slog.Level, err error) {
	log.LogAttrs(r.Context(), level, "request failed",
		slog.String("method", r.Method),
		slog.Any("err", err))
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
		h.Set("Retry-After", strconv.FormatInt(RetryAfterSeconds(e.RetryAfter), 10))
	}
	NoStore(h)
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

// RetryAfterSeconds renders d in whole seconds, rounded up and at least 1:
// a client told 0 would retry at once.
func RetryAfterSeconds(d time.Duration) int64 {
	secs := int64((d + time.Second - 1) / time.Second)
	return max(secs, 1)
}

// Codes returns every code that has a status, tokengate's and those
// registered, in no particular order.
func Codes() []auth.Code {
	m := *statuses.Load()
	codes := make([]auth.Code, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	return codes
}
