package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/tokengate/tokengate/edge"
	"github.com/tokengate/tokengate/graphiql"
	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/rest"
	"github.com/tokengate/tokengate/web"
)

// graphQLPath is where GraphQL is served, and where errors are GraphQL-shaped.
const graphQLPath = "/graphql"

// addRoutes is the one list of every route tokengate serves. Adopters add
// their own through Deps.Routes, Deps.Schema and Deps.Root (package app
// wires them), never by editing this list.
func addRoutes(r chi.Router, d Deps, onError edge.ErrorWriter) {
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
	r.Method(http.MethodGet, "/favicon.ico", web.HandleFavicon())
	r.Method(http.MethodGet, "/reset-password", web.HandleRecoveryPage())
	r.Method(http.MethodGet, "/verify-email", web.HandleRecoveryPage())
	r.Method(http.MethodGet, "/recovery.js", web.HandleRecoveryScript())
	r.Method(http.MethodGet, graphiql.AssetPrefix+"*", graphiql.Assets())

	graphql := resolvers.NewHandler(svc, d.Recovery, d.Logger, d.GraphQL)
	if d.Schema != "" || d.Root != nil {
		graphql = resolvers.NewSchemaHandler(d.Schema, d.Root, d.Logger, d.GraphQL)
	}
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
		if rec := d.Recovery; rec != nil {
			r.Method(http.MethodDelete, "/me", rest.HandleDeleteAccount(rec, onError))
			r.Method(http.MethodPost, "/password/forgot", rest.HandleForgotPassword(rec, onError))
			r.Method(http.MethodPost, "/password/reset", rest.HandleResetPassword(rec, onError))
			r.Method(http.MethodPost, "/email/verification", rest.HandleRequestVerification(rec, onError))
			r.Method(http.MethodPost, "/email/verify", rest.HandleVerifyEmail(rec, onError))
		}
	})

	for path, h := range d.Extra {
		r.Mount(path, h)
	}
	if d.Routes != nil {
		d.Routes(r, onError)
	}
}
