package resolvers

import (
	"log/slog"
	"net/http"
)

// NewHandlerWithSchema serves sdl with root as its root resolver through
// the same transport, options and error handling as NewHandler, so tests can
// add fields (a panicking one, say) the way an adopter would.
func NewHandlerWithSchema(sdl string, root any, log *slog.Logger, limits Limits) http.Handler {
	return newHandler(sdl, root, log, limits)
}
