package resolvers

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/graph-gophers/graphql-go"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/middleware"
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

var (
	//go:embed graphiql.html
	graphiqlHTML string
	//go:embed graphiql.js
	graphiqlJS string
)

// handler is the GraphQL transport. It holds nothing per request.
type handler struct {
	schema *graphql.Schema
	log    *slog.Logger
	limits Limits
	page   []byte
	csp    string
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
func NewHandler(svc *auth.Service, log *slog.Logger, limits Limits) http.Handler {
	return newHandler(schema.SDL(), New(svc), log, limits)
}

// newHandler serves sdl with root as its root resolver; tests use it to add
// fields to the real schema.
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
	// The bootstrap script is inline; its hash in the CSP lets exactly it
	// run, besides the pinned CDN scripts.
	sum := sha256.Sum256([]byte(graphiqlJS))
	return &handler{
		schema: s,
		log:    log,
		limits: limits,
		page:   []byte(strings.Replace(graphiqlHTML, "{{BOOTSTRAP}}", graphiqlJS, 1)),
		csp: "default-src 'none'; " +
			"script-src https://cdn.jsdelivr.net 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
			"style-src https://cdn.jsdelivr.net 'unsafe-inline'; " +
			"img-src https://cdn.jsdelivr.net data:; font-src https://cdn.jsdelivr.net data:; " +
			"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		h.serveOperation(w, r)
	case http.MethodGet:
		h.serveGraphiQL(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeTransportError(w, &transportError{status: http.StatusMethodNotAllowed, code: auth.CodeBadRequest, message: "use POST to run a GraphQL operation"})
	}
}

func (h *handler) serveGraphiQL(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, p := range graphqlParams {
		if q.Has(p) {
			w.Header().Set("Allow", http.MethodPost)
			w.Header().Set("Cache-Control", "no-store")
			writeTransportError(w, &transportError{status: http.StatusMethodNotAllowed, code: auth.CodeBadRequest,
				message: "GraphQL operations are not run by GET; send them by POST"})
			return
		}
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	w.Write(h.page)
}

// request is one GraphQL-over-HTTP operation. Other members, such as
// extensions, are ignored.
type request struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
}

func (h *handler) serveOperation(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	req, terr := h.readRequest(w, r)
	if terr != nil {
		writeTransportError(w, terr)
		return
	}

	ctx, issued := auth.NewContextWithIssuedTokens(r.Context())
	res := h.schema.Exec(ctx, req.Query, req.OperationName, req.Variables)
	publicErrors(ctx, h.log, res.Errors)
	// Before anything is written, since headers set later are lost; and
	// whatever the outcome, since a rotation that happened is not undone.
	if t, ok := issued.Last(); ok {
		middleware.WriteTokenHeaders(w, t)
	}
	body, err := json.Marshal(res)
	if err != nil {
		h.log.ErrorContext(ctx, "encode graphql response", "err", err)
		writeTransportError(w, &transportError{status: http.StatusInternalServerError, code: auth.CodeInternal, message: internalMessage})
		return
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// readRequest checks the content type, reads the bounded body and decodes
// exactly one operation from it. Requiring application/json also keeps
// other sites' forms and text/plain "simple" requests, which a browser
// sends cross-site without asking, from ever running an operation.
func (h *handler) readRequest(w http.ResponseWriter, r *http.Request) (request, *transportError) {
	// The exact type most clients send needs no parsing.
	if ct := r.Header.Get("Content-Type"); ct != contentTypeJSON {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != contentTypeJSON {
			return request{}, badRequest("Content-Type must be %s", contentTypeJSON)
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return request{}, badRequest("the request body must be UTF-8")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.limits.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return request{}, badRequest("request body exceeds %d bytes", h.limits.MaxBodyBytes)
	case err != nil:
		return request{}, badRequest("the request body could not be read")
	}
	return decodeRequest(body)
}

func decodeRequest(body []byte) (request, *transportError) {
	if !utf8.Valid(body) {
		return request{}, badUserInput("the request body is not valid UTF-8")
	}
	switch trimmed := bytes.TrimLeft(body, " \t\r\n"); {
	case len(trimmed) > 0 && trimmed[0] == '[':
		return request{}, badRequest("batched operations are not supported")
	case len(trimmed) == 0 || trimmed[0] != '{':
		return request{}, badUserInput("the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var req request
	if err := dec.Decode(&req); err != nil {
		return request{}, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return request{}, badUserInput("unexpected data after the JSON object")
	}
	switch key, problem := checkKeys(body); problem {
	case keyTwice:
		return request{}, badUserInput("duplicate key %s in the request body", quoteKey(key))
	case keyMisspelt:
		return request{}, badUserInput("unknown key %s in the request body; member names are case-sensitive: query, operationName, variables, extensions", quoteKey(key))
	}
	if strings.TrimSpace(req.Query) == "" {
		return request{}, badUserInput("query is required")
	}
	return req, nil
}

// jsonError describes a decoding failure in the request's own terms, not
// in those of the Go types it is decoded into.
func jsonError(err error) *transportError {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		want := "a string"
		if typeErr.Field == "variables" {
			want = "an object"
		}
		return badUserInput("%s must be %s", typeErr.Field, want)
	case errors.As(err, &syntaxErr):
		return badUserInput("malformed JSON at byte %d", syntaxErr.Offset)
	default:
		return badUserInput("malformed JSON")
	}
}

// quoteKey quotes a client's key for an error message, leaving out one too
// long to be worth echoing.
func quoteKey(key string) string {
	if len(key) > 64 {
		return "(too long to show)"
	}
	return strconv.Quote(key)
}
