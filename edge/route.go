package edge

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Unmatched is the route pattern of a request no route serves.
const Unmatched = "unmatched"

// RoutePattern returns the chi pattern of the route that serves r, such as
// /auth/sessions/{id}, never the raw path (which may carry ids a log or a
// metric label must not), or Unmatched when no route matches. A request a
// middleware answered before routing (a 503 from ValidateTokens, say) gets
// the pattern it would have reached, so it is logged and counted under its
// route, not lost among 404s.
func RoutePattern(r *http.Request) string {
	return routePattern(chi.RouteContext(r.Context()), r.Method, r.URL.Path)
}

func routePattern(rctx *chi.Context, method, path string) string {
	if rctx == nil {
		return Unmatched
	}
	if p := rctx.RoutePattern(); p != "" {
		return p
	}
	if rctx.Routes != nil {
		if p := rctx.Routes.Find(chi.NewRouteContext(), method, path); p != "" {
			return p
		}
	}
	return Unmatched
}

// RoutePath is the path a router sees for r: below a chi Mount, the part
// after the mount point; elsewhere the whole path.
func RoutePath(r *http.Request) string {
	if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePath != "" {
		return rctx.RoutePath
	}
	if r.URL.RawPath != "" {
		return r.URL.RawPath
	}
	return r.URL.Path
}
