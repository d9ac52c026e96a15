// Package server assembles tokengate's HTTP handler: the middleware chain
// every request passes through and, in routes.go, every route.
package server

import (
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/cors"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/metrics"
	"github.com/tokengate/tokengate/middleware"
	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/rest"
)

// Deps is everything the HTTP layer needs, built by main.
type Deps struct {
	Service *auth.Service
	Logger  *slog.Logger
	// CORSAllowedOrigins lists the origins whose scripts may call the API;
	// empty means no cross-origin access.
	CORSAllowedOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	GraphQL        resolvers.Limits
	// Metrics, when set, records request latency by route and is served at
	// GET /metrics; nil serves no metrics.
	Metrics *metrics.Metrics
	// JWKS serves GET /.well-known/jwks.json; nil serves none.
	JWKS http.Handler
	// Extra mounts operational handlers (pprof) by path; they pass through
	// the same middleware as every other route.
	Extra map[string]http.Handler
}

// New returns the handler serving every route of API.md behind the
// validate-tokens middleware.
func New(d Deps) http.Handler {
	if d.Service == nil || d.Logger == nil {
		panic("server: Service and Logger are required")
	}
	onError := errorWriter(d.Logger)

	r := chi.NewRouter()
	// Logging and metrics come first, so that they time the whole request
	// and see the 500 of a recovered panic.
	r.Use(middleware.LogRequests(d.Logger))
	if d.Metrics != nil {
		r.Use(d.Metrics.Middleware)
	}
	r.Use(middleware.Recoverer(d.Logger, onError))
	r.Use(middleware.ClientIP(d.TrustedProxies))
	if len(d.CORSAllowedOrigins) > 0 {
		r.Use(cors.Handler(cors.Options{
			AllowedOrigins: d.CORSAllowedOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodDelete},
			AllowedHeaders: []string{"Content-Type", "Authorization", middleware.HeaderAccessToken, middleware.HeaderRefreshToken},
			ExposedHeaders: []string{middleware.HeaderAccessToken, middleware.HeaderRefreshToken, "WWW-Authenticate"},
			// Tokens travel in headers, never cookies, so credentials mode is
			// not needed and stays off.
			AllowCredentials: false,
			MaxAge:           600,
		}))
	}
	r.Use(middleware.ValidateTokens(d.Service, onError))
	r.Use(middleware.LogCaller)
	r.NotFound(rest.NotFound)
	r.MethodNotAllowed(rest.MethodNotAllowed)

	addRoutes(r, d, onError)
	return r
}

// errorWriter answers the errors of the middleware and of the REST handlers
// as problem+json, except on /graphql, where a GraphQL client expects every
// answer, a refused request's too, to be a GraphQL response.
func errorWriter(log *slog.Logger) middleware.ErrorWriter {
	problems := rest.NewErrorWriter(log)
	graphQL := resolvers.NewErrorWriter(log)
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if r.URL.Path == graphQLPath {
			graphQL(w, r, err)
			return
		}
		problems(w, r, err)
	}
}
