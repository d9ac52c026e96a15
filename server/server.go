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
	"github.com/tokengate/tokengate/edge"
	"github.com/tokengate/tokengate/metrics"
	"github.com/tokengate/tokengate/middleware"
	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/rest"
)

// Deps is everything the HTTP layer needs, built by main.
type Deps struct {
	Service *auth.Service
	// Recovery serves password reset, e-mail verification and account
	// deletion; nil (a test's stack on a store that keeps no outbox) serves
	// none of their routes.
	Recovery *auth.Recovery
	Logger   *slog.Logger
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

	// Schema is the GraphQL schema served at /graphql, and Root its root
	// resolver: empty and nil serve tokengate's own. An adopter passes
	// schema.Compose's answer and a root that embeds *resolvers.Resolver.
	Schema string
	Root   any
	// Routes adds an adopter's own routes beside tokengate's, behind the
	// same middleware; onError answers their errors as tokengate answers
	// its own.
	Routes func(r chi.Router, onError edge.ErrorWriter)
}

// New returns the handler serving every route of API.md behind the
// validate-tokens middleware.
func New(d Deps) http.Handler {
	if d.Service == nil || d.Logger == nil {
		panic("server: Service and Logger are required")
	}
	// Every line logged with a request's context names the request, its
	// route and its user, whoever logs it.
	d.Logger = slog.New(edge.LogHandler(d.Logger.Handler()))

	r := chi.NewRouter()
	onError := errorWriter(r, d.Logger)
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
			AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete},
			AllowedHeaders: []string{"Content-Type", "Authorization", edge.HeaderAccessToken, edge.HeaderRefreshToken},
			ExposedHeaders: edge.ExposedHeaders,
			// Tokens travel in headers, never cookies, so credentials mode is
			// not needed and stays off.
			AllowCredentials: false,
			MaxAge:           600,
		}))
	}
	r.Use(middleware.ValidateTokens(d.Service, onError))
	r.Use(middleware.LogCaller)
	r.Use(headAsGet(r))
	r.NotFound(rest.NotFound)
	r.MethodNotAllowed(rest.MethodNotAllowed)

	addRoutes(r, d, onError)
	return r
}

// errorWriter answers the errors of the middleware and of the REST handlers
// as problem+json, except on the GraphQL route, where a GraphQL client
// expects every answer, a refused request's too, to be a GraphQL response.
// The route is found in mux itself, by the path the router sees, so the
// choice holds wherever an adopter mounts the handler.
func errorWriter(mux *chi.Mux, log *slog.Logger) edge.ErrorWriter {
	problems := rest.NewErrorWriter(log)
	graphQL := resolvers.NewErrorWriter(log)
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if mux.Find(chi.NewRouteContext(), r.Method, edge.RoutePath(r)) == graphQLPath {
			graphQL(w, r, err)
			return
		}
		problems(w, r, err)
	}
}

// headAsGet answers HEAD on every GET route (RFC 9110 section 9.3.2), as
// the GET handler does; net/http drops the body. A route with a HEAD
// handler of its own keeps it.
func headAsGet(mux *chi.Mux) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead {
				rctx := chi.RouteContext(r.Context())
				path := edge.RoutePath(r)
				if rctx != nil && !mux.Match(chi.NewRouteContext(), http.MethodHead, path) {
					rctx.RouteMethod = http.MethodGet
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}
