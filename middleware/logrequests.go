package middleware

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	chimw "github.com/go-chi/chi/v5/middleware"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
)

// HeaderRequestID carries the request id LogRequests gives every request
// back to the client, so a user's report can be matched to the log line.
const HeaderRequestID = "X-Request-Id"

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
	h := edge.LogHandler(log.Handler())
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			id := newRequestID()
			w.Header().Set(HeaderRequestID, id)
			ww := chimw.NewWrapResponseWriter(w, r.ProtoMajor)
			ctx := edge.NewContextWithRequest(r.Context(), r, id)
			next.ServeHTTP(ww, r.WithContext(ctx))

			status := ww.Status()
			if status == 0 {
				status = http.StatusOK // nothing written: net/http answers 200
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			if !h.Enabled(ctx, level) {
				return
			}
			// A record made here, rather than through log.LogAttrs, skips
			// the caller's program counter, which the line would not show
			// and which slog captures on every call (runtime.Callers).
			// The request id, the route and the user come from h, a
			// LogHandler, as on every other line of the request.
			line := slog.NewRecord(time.Now(), level, "request", 0)
			if user, reason := edge.RequestCaller(ctx); user == "" && reason != auth.ReasonNone && reason != auth.ReasonTokenMissing {
				// A token was sent and refused: say why, never what it was.
				line.AddAttrs(slog.String("auth_reason", string(reason)))
			}
			line.AddAttrs(
				slog.String("method", r.Method),
				slog.Int("status", status),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Duration("latency", time.Since(start)),
			)
			// A log that cannot be written has nowhere to report it.
			_ = h.Handle(ctx, line)
		})
	}
}

// LogCaller records the caller ValidateTokens put in the request's context
// for the request's log lines (edge.SetCaller): the user id, or for an
// anonymous request that sent a bad token, the reason it was refused. Place
// it right after ValidateTokens.
func LogCaller(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		edge.SetCaller(r.Context(), auth.CallerFromContext(r.Context()))
		next.ServeHTTP(w, r)
	})
}

// newRequestID returns 16 random hex digits: unique enough to find one
// request in a day of logs, and unguessable so it tells nothing about the
// traffic.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
