package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/tokengate/tokengate/edge"
)

// Recoverer turns a panic in a handler into an INTERNAL error response and a
// log line with the stack, so a bug never kills the connection's goroutine
// silently nor shows the client anything internal.
func Recoverer(log *slog.Logger, onError edge.ErrorWriter) func(http.Handler) http.Handler {
	if log == nil || onError == nil {
		panic("middleware: Recoverer needs a logger and an ErrorWriter")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v) // net/http's way to abort a response on purpose
				}
				log.ErrorContext(r.Context(), "handler panicked", "method", r.Method,
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				onError(w, r, fmt.Errorf("panic: %v", v))
			}()
			next.ServeHTTP(w, r)
		})
	}
}
