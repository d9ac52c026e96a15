package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/tokengate/tokengate/middleware"
	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/rest"
	"github.com/tokengate/tokengate/web"
)

// graphQLPath is where GraphQL is served, and where errors are GraphQL-shaped.
const graphQLPath = "/graphql"

// addRoutes is the one list of every route tokengate serves. Adopters add
// REST routes here and GraphQL fields in schema/ and resolvers/.
func addRoutes(r chi.Router, d Deps, onError middleware.ErrorWriter) {
	svc := d.Service

	r.Method(http.MethodGet, "/healthz", rest.HandleHealthz())
	r.Method(http.MethodGet, "/readyz", rest.HandleReadyz(svc.Ready, onError))
	if d.JWKS != nil {
		r.Method(http.MethodGet, "/.well-known/jwks.json", d.JWKS)
	}
	if d.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", d.Metrics.Handler())
	}

	// The browser client and the demo page that uses it.
	r.Method(http.MethodGet, "/", web.HandleDemoPage())
	r.Method(http.MethodGet, "/tokengate.js", web.HandleClientScript())
	r.Method(http.MethodGet, "/demo.js", web.HandleDemoScript())
	r.Method(http.MethodGet, "/demo.css", web.HandleDemoStyle())

	graphql := resolvers.NewHandler(svc, d.Logger, d.GraphQL)
	r.Method(http.MethodPost, graphQLPath, graphql)
	r.Method(http.MethodGet, graphQLPath, graphql)

	r.Route("/auth", func(r chi.Router) {
		r.Method(http.MethodPost, "/register", rest.HandleRegister(svc, onError))
		r.Method(http.MethodPost, "/login", rest.HandleLogin(svc, onError))
		r.Method(http.MethodPost, "/refresh", rest.HandleRefresh(svc, onError))
		r.Method(http.MethodPost, "/logout", rest.HandleLogout(svc, onError))
		r.Method(http.MethodPost, "/logout-all", rest.HandleLogoutAll(svc, onError))
		r.Method(http.MethodGet, "/me", rest.HandleMe(svc, onError))
		r.Method(http.MethodGet, "/sessions", rest.HandleSessions(svc, onError))
		r.Method(http.MethodDelete, "/sessions/{id}", rest.HandleRevokeSession(svc, onError))
		r.Method(http.MethodPost, "/password", rest.HandleChangePassword(svc, onError))
	})

	for path, h := range d.Extra {
		r.Mount(path, h)
	}
}
