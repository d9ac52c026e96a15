package resolvers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	gqlerrors "github.com/graph-gophers/graphql-go/errors"
	gqllog "github.com/graph-gophers/graphql-go/log"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
)

// This file is the one place where an error becomes what a GraphQL client
// sees: extensions.code (and reason, retryAfter) from the domain's
// *auth.Error, and for anything else INTERNAL with a fixed message, the
// cause going only to the log.

// publicError is an error in the form a client may see. It implements
// graphql-go's Extensions() so the library puts code and reason in the
// error's extensions.
type publicError struct {
	err *auth.Error
}

func (e *publicError) Error() string { return e.err.Message }

func (e *publicError) Unwrap() error { return e.err }

// Extensions returns code, reason when there is one, and for the codes that
// tell the client to come back, retryAfter in whole seconds.
func (e *publicError) Extensions() map[string]any {
	ext := map[string]any{"code": string(e.err.Code)}
	if e.err.Reason != auth.ReasonNone {
		ext["reason"] = string(e.err.Reason)
	}
	switch e.err.Code {
	case auth.CodeRateLimited, auth.CodeStoreUnavailable:
		// The same figure as the Retry-After header of the same answer.
		ext["retryAfter"] = edge.RetryAfterSeconds(e.err.RetryAfter)
	}
	return ext
}

// publicize turns any error into its public form by edge.Public's rule,
// the one REST follows too: errors that are not domain errors, or of a
// code with no status, become INTERNAL and are logged with their cause,
// which the client never sees; so is a STORE_UNAVAILABLE's cause, as a
// warning, since the client is only told to retry.
func publicize(ctx context.Context, log *slog.Logger, err error) *publicError {
	_, e, level, logIt := edge.Public(err)
	if logIt {
		log.Log(ctx, level, "graphql operation failed", "err", err)
	}
	return &publicError{err: e}
}

// publicErrors rewrites the errors of an executed operation in place. A
// resolver's error becomes its public form whatever its type, so a resolver
// an adopter adds cannot leak a cause by returning it. Errors graphql-go
// raised itself (a document that does not parse or validate, variables of
// the wrong type, a limit exceeded) are the client's input and become
// BAD_USER_INPUT; those that already have extensions (a recovered panic)
// are left as they are.
func publicErrors(ctx context.Context, log *slog.Logger, errs []*gqlerrors.QueryError) {
	for _, qe := range errs {
		switch {
		case qe.ResolverError != nil:
			pe := publicize(ctx, log, qe.ResolverError)
			qe.Message, qe.Extensions, qe.ResolverError = pe.Error(), pe.Extensions(), pe
		case qe.Extensions == nil:
			qe.Extensions = map[string]any{"code": string(auth.CodeBadUserInput)}
		}
	}
}

// panicHandler replaces graphql-go's default, whose message includes the
// panic value.
type panicHandler struct{}

func (panicHandler) MakePanicError(context.Context, any) *gqlerrors.QueryError {
	return &gqlerrors.QueryError{
		Message:    edge.InternalMessage,
		Extensions: map[string]any{"code": string(auth.CodeInternal)},
	}
}

// panicLogger logs a recovered resolver panic with its stack; graphql-go
// calls it just before panicHandler.
func panicLogger(log *slog.Logger) gqllog.Logger {
	return gqllog.LoggerFunc(func(ctx context.Context, v any) {
		log.ErrorContext(ctx, "graphql resolver panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	})
}

// NewErrorWriter returns the ErrorWriter for /graphql. A request there that
// fails before its operation runs (in the middleware: conflicting token
// headers, a spent refresh budget, the store down, a recovered panic) is
// answered as a GraphQL response, so that a GraphQL client reads one shape
// of error: the code, reason and retryAfter in extensions as a resolver's
// error has them, with the status, headers and logging rest gives the same
// error.
func NewErrorWriter(log *slog.Logger) edge.ErrorWriter {
	if log == nil {
		panic("resolvers: NewErrorWriter needs a logger")
	}
	return func(w http.ResponseWriter, r *http.Request, err error) {
		status, e := edge.Answer(log, r, err)
		edge.SetErrorHeaders(w.Header(), status, e)
		pe := &publicError{err: e}
		writeRequestError(w, status, pe.Error(), pe.Extensions())
	}
}

// writeRequestError answers with one error and no data: a request that
// never reached execution.
func writeRequestError(w http.ResponseWriter, status int, message string, extensions map[string]any) {
	body, err := json.Marshal(map[string]any{
		"errors": []any{map[string]any{"message": message, "extensions": extensions}},
	})
	if err != nil {
		// Strings, numbers and maps of them always marshal.
		panic(err)
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
}
