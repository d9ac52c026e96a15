package edge

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/tokengate/tokengate/auth"
)

// requestInfo is what the log lines of one request say about it. It is put
// in the context before the caller is known, so the user is filled in
// later, under the lock (GraphQL resolvers may log in parallel).
type requestInfo struct {
	id     string
	method string
	// path is kept only to find the route pattern of a request answered
	// before routing; it is never logged.
	path string

	mu     sync.Mutex
	userID string
	reason auth.Reason
}

type requestInfoKey struct{}

// NewContextWithRequest returns ctx carrying the request's id, so that
// every log line written with it (through LogHandler) names the request,
// its route and, once SetCaller has run, its user.
func NewContextWithRequest(ctx context.Context, r *http.Request, id string) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, &requestInfo{id: id, method: r.Method, path: r.URL.Path})
}

// RequestIDFromContext returns the request's id, or "" outside a request.
func RequestIDFromContext(ctx context.Context) string {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return info.id
	}
	return ""
}

// SetCaller records who the request acts as for its log lines: the user
// id, or for an anonymous request that sent a bad token, the reason it was
// refused. It does nothing outside a request.
func SetCaller(ctx context.Context, c auth.Caller) {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		info.mu.Lock()
		info.userID, info.reason = c.UserID, c.Reason
		info.mu.Unlock()
	}
}

// RequestCaller returns what SetCaller recorded.
func RequestCaller(ctx context.Context) (userID string, reason auth.Reason) {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		info.mu.Lock()
		defer info.mu.Unlock()
		return info.userID, info.reason
	}
	return "", auth.ReasonNone
}

// LogHandler wraps h so that every record logged with a request's context
// carries request_id, route and user (when known), whoever logs it (so
// nobody else adds them): the
// request log, an error answer, a recovered panic, a resolver, an
// adopter's handler. A record logged outside a request gets the user of
// its context's caller, if any, and nothing else.
func LogHandler(h slog.Handler) slog.Handler {
	if lh, ok := h.(logHandler); ok {
		return lh // wrapped once is enough
	}
	return logHandler{h}
}

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, rec slog.Record) error {
	if ctx == nil {
		return h.Handler.Handle(ctx, rec)
	}
	user := auth.CallerFromContext(ctx).UserID
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		rec.AddAttrs(slog.String("request_id", info.id),
			slog.String("route", routePattern(chi.RouteContext(ctx), info.method, info.path)))
		if user == "" {
			info.mu.Lock()
			user = info.userID
			info.mu.Unlock()
		}
	}
	if user != "" {
		rec.AddAttrs(slog.String("user", user))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{h.Handler.WithGroup(name)}
}
