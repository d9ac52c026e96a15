// Package rest is tokengate's HTTP/JSON edge under /auth (API.md section 4).
// Its handlers decode a request (edge.ReadJSON), call the auth.Service and
// encode the answer; errors are answered as problem+json (this file), with
// the status and public form edge.Answer decides.
package rest

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
)

// problem is an RFC 9457 problem details object with tokengate's code and
// reason as extension members.
type problem struct {
	Type   string      `json:"type"`
	Title  string      `json:"title"`
	Status int         `json:"status"`
	Code   auth.Code   `json:"code"`
	Reason auth.Reason `json:"reason,omitempty"`
	Detail string      `json:"detail"`
}

// NewErrorWriter returns the ErrorWriter that answers every failed request,
// from the middleware and from the handlers alike, as
// application/problem+json, as Answer decides.
func NewErrorWriter(log *slog.Logger) edge.ErrorWriter {
	if log == nil {
		panic("rest: NewErrorWriter needs a logger")
	}
	return func(w http.ResponseWriter, r *http.Request, err error) {
		status, e := edge.Answer(log, r, err)
		writeProblem(w, r, status, e)
	}
}

// NotFound answers a request for a route that does not exist; it is chi's
// NotFound hook.
func NotFound(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, http.StatusNotFound, &auth.Error{Code: auth.CodeNotFound, Message: "no such route"})
}

// MethodNotAllowed answers a request whose path exists for other methods
// only; it is chi's MethodNotAllowed hook. The code is BAD_REQUEST, but the
// status is 405 rather than what statusOf says, with the Allow header RFC
// 9110 requires.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if allow := allowedMethods(r); len(allow) > 0 {
		w.Header()["Allow"] = allow
	}
	writeProblem(w, r, http.StatusMethodNotAllowed,
		&auth.Error{Code: auth.CodeBadRequest, Message: "method " + r.Method + " is not allowed on this route"})
}

// allowedMethods asks the router which methods the request's path has,
// since chi does not hand a custom 405 handler the list it knows.
func allowedMethods(r *http.Request) []string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil || rctx.Routes == nil {
		return nil
	}
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		if rctx.Routes.Match(chi.NewRouteContext(), m, path) {
			allow = append(allow, m)
		}
	}
	return allow
}

// writeProblem writes e with the given status. Callers pass edge.Answer's
// status except for a 405, which has no code of its own.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, e *auth.Error) {
	edge.SetErrorHeaders(w.Header(), status, e)
	_ = writeJSON(w, status, "application/problem+json", problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Code:   e.Code,
		Reason: e.Reason,
		Detail: e.Message,
	})
}
