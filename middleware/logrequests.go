package middleware

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"

	"github.com/tokengate/tokengate/auth"
)

// HeaderRequestID carries the request id LogRequests gives every request
// back to the client, so a user's report can be matched to the log line.
const HeaderRequestID = "X-Request-Id"

// logRecord is what LogRequests learns about a request from middleware
// further in: who the caller turned out to be. The logger runs first, before
// the caller is decided, so it puts this mutable record in the context and
// reads it back once the handler has returned.
type logRecord struct {
	id string

	mu     sync.Mutex
	userID string
	reason auth.Reason
}

type logRecordKey struct{}

// LogRequests writes one structured record per request to log once it is
// answered: request id, user id when known, method, route pattern (never the
// raw path or query, which may carry ids or values a client should not see
// in logs), status, bytes written and latency. It never logs a header or a
// body, so no token, password or secret can reach the log through it.
// Requests answered with a server error are logged at level Error.
//
// Place it first in the chain, so that the latency covers everything and a
// panic answered by Recoverer is logged with its 500, and put LogCaller
// right after ValidateTokens to fill in the user.
func LogRequests(log *slog.Logger) func(http.Handler) http.Handler {
	if log == nil {
		panic("middleware: LogRequests needs a logger")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &logRecord{id: newRequestID()}
			w.Header().Set(HeaderRequestID, rec.id)
			ww := chimw.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), logRecordKey{}, rec)))

			status := ww.Status()
			if status == 0 {
				status = http.StatusOK // nothing written: net/http answers 200
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			ctx := r.Context()
			h := log.Handler()
			if !h.Enabled(ctx, level) {
				return
			}
			// A record made here, rather than through log.LogAttrs, skips
			// the caller's program counter, which the line would not show
			// and which slog captures on every call (runtime.Callers).
			line := slog.NewRecord(time.Now(), level, "request", 0)
			line.AddAttrs(slog.String("request_id", rec.id))
			rec.mu.Lock()
			if rec.userID != "" {
				line.AddAttrs(slog.String("user", rec.userID))
			} else if rec.reason != auth.ReasonNone && rec.reason != auth.ReasonTokenMissing {
				// A token was sent and refused: say why, never what it was.
				line.AddAttrs(slog.String("auth_reason", string(rec.reason)))
			}
			rec.mu.Unlock()
			line.AddAttrs(
				slog.String("method", r.Method),
				slog.String("route", RoutePattern(r)),
				slog.Int("status", status),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Duration("latency", time.Since(start)),
			)
			// A log that cannot be written has nowhere to report it.
			_ = h.Handle(ctx, line)
		})
	}
}

// SetLogUser records the request's user id for LogRequests' record. It does
// nothing outside a request LogRequests serves. LogCaller calls it with the
// caller ValidateTokens decided; an adopter's own authentication middleware
// may call it too.
func SetLogUser(ctx context.Context, userID string) {
	if rec, ok := ctx.Value(logRecordKey{}).(*logRecord); ok {
		rec.mu.Lock()
		rec.userID = userID
		rec.mu.Unlock()
	}
}

// LogCaller copies the caller ValidateTokens put in the request's context
// into LogRequests' record: the user id, or for an anonymous request that
// sent a bad token, the reason it was refused. Place it right after
// ValidateTokens.
func LogCaller(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if rec, ok := ctx.Value(logRecordKey{}).(*logRecord); ok {
			c := auth.CallerFromContext(ctx)
			rec.mu.Lock()
			rec.userID, rec.reason = c.UserID, c.Reason
			rec.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// RequestIDFromContext returns the id LogRequests gave the request, or ""
// outside one, so that other log lines of the request can carry it.
func RequestIDFromContext(ctx context.Context) string {
	if rec, ok := ctx.Value(logRecordKey{}).(*logRecord); ok {
		return rec.id
	}
	return ""
}

// newRequestID returns 16 random hex digits: unique enough to find one
// request in a day of logs, and unguessable so it tells nothing about the
// traffic.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// RoutePattern returns the chi pattern of the route that serves r, such as
// /auth/sessions/{id}, never the raw path, or "unmatched" when no route
// matches. Call it after the router ran. A request a middleware answered
// before routing (a 503 from ValidateTokens, say) gets the pattern it would
// have reached, so it is counted under its route, not lost among 404s.
func RoutePattern(r *http.Request) string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil {
		return unmatched
	}
	if p := rctx.RoutePattern(); p != "" {
		return p
	}
	if rctx.Routes != nil {
		if p := rctx.Routes.Find(chi.NewRouteContext(), r.Method, r.URL.Path); p != "" {
			return p
		}
	}
	return unmatched
}

const unmatched = "unmatched"
