package resolvers

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/graph-gophers/graphql-go"
	gqlerrors "github.com/graph-gophers/graphql-go/errors"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
	"github.com/tokengate/tokengate/graphiql"
	"github.com/tokengate/tokengate/schema"
)

// Limits bound what one GraphQL request may cost before any resolver runs.
type Limits struct {
	// MaxBodyBytes caps the POST body; a longer one is refused unread.
	MaxBodyBytes int64
	// MaxDepth caps field nesting, counted through fragments.
	MaxDepth int
	// MaxQueryLength caps the query document in bytes.
	MaxQueryLength int
	// MaxSelections caps the fields an operation expands to once fragments
	// are spread, against documents that grow exponentially.
	MaxSelections int
}

// DefaultLimits returns limits above what the tokengate schema needs and
// what GraphiQL's introspection query takes, and far below what would let
// one request occupy the server. The depth is set by introspection, not by
// tokengate's own types (at most 3 deep): the introspection query of
// graphql-js, which GraphiQL sends, reaches depth 13, and a lower limit
// leaves GraphiQL without docs or completion; 15 leaves room for clients
// that ask for deeper type references.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:   1 << 20,
		MaxDepth:       15,
		MaxQueryLength: 64 << 10,
		MaxSelections:  500,
	}
}

// maxParallelism bounds the resolvers of one request running at once.
// tokengate's fields are cheap; adopters with slow fields may raise it.
const maxParallelism = 10

const contentTypeJSON = "application/json"

// graphqlParams are the parameters of GraphQL over HTTP that, sent to GET,
// show a client trying to run an operation by GET.
var graphqlParams = []string{"query", "operationName", "variables", "extensions"}

// handler is the GraphQL transport. It holds nothing per request.
type handler struct {
	schema *graphql.Schema
	log    *slog.Logger
	limits Limits
	// graphiql serves the GraphiQL page, whose assets come from the binary
	// too (package graphiql).
	graphiql http.Handler
}

// NewHandler returns the GraphQL endpoint: POST executes one operation, GET
// serves GraphiQL. It parses the schema against the resolvers once, so a
// field without a resolver (or the other way round) panics here, at
// start-up, as does a limit that is not positive.
//
// A GET never executes anything: a GET that carries GraphQL parameters
// (query, variables, ...) is answered 405 with Allow: POST rather than
// with the page, so a client that puts operations in URLs, where they end
// up in logs and histories, learns at once that this server will not run
// them.
func NewHandler(svc *auth.Service, rec *auth.Recovery, log *slog.Logger, limits Limits) http.Handler {
	return newHandler(schema.SDL(), New(svc, rec), log, limits)
}

// NewSchemaHandler is NewHandler for a composed schema: sdl is tokengate's
// schema with an adopter's extensions (schema.Compose), root a root
// resolver that embeds *Resolver, so tokengate's fields and the adopter's
// sit side by side, and the adopter's can hold their own services. The
// transport, its limits and its error handling are NewHandler's.
func NewSchemaHandler(sdl string, root any, log *slog.Logger, limits Limits) http.Handler {
	return newHandler(sdl, root, log, limits)
}

func newHandler(sdl string, root any, log *slog.Logger, limits Limits) *handler {
	if log == nil {
		panic("resolvers: NewHandler needs a logger")
	}
	if limits.MaxBodyBytes <= 0 || limits.MaxDepth <= 0 || limits.MaxQueryLength <= 0 || limits.MaxSelections <= 0 {
		// graphql-go reads zero as "no limit"; a forgotten field must not
		// silently switch a protection off.
		panic("resolvers: every GraphQL limit must be positive; start from DefaultLimits")
	}
	s := graphql.MustParseSchema(sdl, root,
		graphql.UseStringDescriptions(),
		graphql.MaxDepth(limits.MaxDepth),
		graphql.MaxQueryLength(limits.MaxQueryLength),
		graphql.MaxSelections(limits.MaxSelections),
		graphql.MaxParallelism(maxParallelism),
		graphql.PanicHandler(panicHandler{}),
		graphql.Logger(panicLogger(log)),
	)
	return &handler{
		schema:   s,
		log:      log,
		limits:   limits,
		graphiql: graphiql.Handler(""),
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		h.serveOperation(w, r)
	case http.MethodGet, http.MethodHead:
		h.serveGraphiQL(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeRequestError(w, http.StatusMethodNotAllowed, "use POST to run a GraphQL operation", map[string]any{"code": string(auth.CodeBadRequest)})
	}
}

func (h *handler) serveGraphiQL(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, p := range graphqlParams {
		if q.Has(p) {
			w.Header().Set("Allow", http.MethodPost)
			w.Header().Set("Cache-Control", "no-store")
			writeRequestError(w, http.StatusMethodNotAllowed, "GraphQL operations are not run by GET; send them by POST",
				map[string]any{"code": string(auth.CodeBadRequest)})
			return
		}
	}
	h.graphiql.ServeHTTP(w, r)
}

// request is one GraphQL-over-HTTP operation. extensions is accepted and
// ignored; any other member is refused, as edge.DecodeJSON refuses every
// member it does not know.
type request struct {
	Query         string          `json:"query"`
	OperationName string          `json:"operationName"`
	Variables     map[string]any  `json:"variables"`
	Extensions    json.RawMessage `json:"extensions"`
}

// maxErrors caps the errors of one response: a 50 KB document of unknown
// fields would otherwise be answered with over a megabyte of them.
const maxErrors = 20

func (h *handler) serveOperation(w http.ResponseWriter, r *http.Request) {
	edge.NoStore(w.Header())
	req, err := h.readRequest(w, r)
	if err != nil {
		e := auth.ErrorOf(err)
		writeRequestError(w, http.StatusBadRequest, e.Message, map[string]any{"code": string(e.Code)})
		return
	}

	ctx, op := withOperation(r.Context())
	res := h.schema.Exec(ctx, req.Query, req.OperationName, req.Variables)
	if len(res.Errors) > maxErrors {
		res.Errors = append(res.Errors[:maxErrors], &gqlerrors.QueryError{
			Message:    fmt.Sprintf("too many errors; the first %d are shown", maxErrors),
			Extensions: map[string]any{"code": string(auth.CodeBadUserInput)},
		})
	}
	publicErrors(ctx, h.log, res.Errors)
	// Before anything is written, since headers set later are lost; and
	// whatever the outcome, since a rotation that happened is not undone.
	if t, ok := op.lastIssued(); ok {
		edge.WriteTokens(w, t)
	}
	body, err := json.Marshal(res)
	if err != nil {
		h.log.ErrorContext(ctx, "encode graphql response", "err", err)
		writeRequestError(w, http.StatusInternalServerError, edge.InternalMessage, map[string]any{"code": string(auth.CodeInternal)})
		return
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// readRequest reads exactly one operation with the edge's strict reader,
// the one REST uses: application/json in one Content-Type header, a
// bounded body, UTF-8, no unpaired surrogate escapes, no key twice, no
// unknown member. Requiring application/json also keeps other sites'
// forms and text/plain "simple" requests, which a browser sends cross-site
// without asking, from ever running an operation.
func (h *handler) readRequest(w http.ResponseWriter, r *http.Request) (request, error) {
	body, err := edge.ReadBody(w, r, h.limits.MaxBodyBytes)
	if err != nil {
		return request{}, err
	}
	return decodeRequest(body)
}

func decodeRequest(body []byte) (request, error) {
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
		return request{}, auth.BadRequest("batched operations are not supported")
	}
	var req request
	if err := edge.DecodeJSON(body, &req); err != nil {
		return request{}, err
	}
	if strings.TrimSpace(req.Query) == "" {
		return request{}, auth.BadUserInput("query is required")
	}
	if edge.HasUnpairedSurrogateEscape(req.Query) {
		// graphql-go's lexer would read it as U+FFFD, as encoding/json
		// would in a variable: two different passwords would become one.
		return request{}, auth.BadUserInput(`the query has a \u escape of an unpaired UTF-16 surrogate`)
	}
	return req, nil
}
