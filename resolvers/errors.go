package resolvers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"

	gqlerrors "github.com/graph-gophers/graphql-go/errors"
	gqllog "github.com/graph-gophers/graphql-go/log"

	"github.com/tokengate/tokengate/auth"
)

// This file is the one place where an error becomes what a GraphQL client
// sees: extensions.code (and reason, retryAfter) from the domain's
// *auth.Error, and for anything else INTERNAL with a fixed message, the
// cause going only to the log.

// internalMessage is all a client learns of an unexpected failure.
const internalMessage = "internal error"

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
		if e.err.RetryAfter > 0 {
			ext["retryAfter"] = int64(math.Ceil(e.err.RetryAfter.Seconds()))
		}
	}
	return ext
}

// publicize turns any error into its public form. Errors that are not
// domain errors become INTERNAL and are logged with their cause, which the
// client never sees; so is a STORE_UNAVAILABLE's cause, at a lower level,
// since the client is only told to retry.
func publicize(ctx context.Context, log *slog.Logger, err error) *publicError {
	e := auth.ErrorOf(err)
	switch e.Code {
	case auth.CodeInternal:
		log.ErrorContext(ctx, "graphql operation failed", "err", err)
		// A domain error may carry code INTERNAL with its own message; only
		// the fixed one is shown.
		e = &auth.Error{Code: auth.CodeInternal, Message: internalMessage}
	case auth.CodeStoreUnavailable:
		log.WarnContext(ctx, "graphql operation failed: store unavailable", "err", err)
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
		Message:    internalMessage,
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

// transportError is an error of the HTTP exchange itself, found before any
// operation runs; it is shaped like a GraphQL response so clients need one
// error path.
type transportError struct {
	status  int
	code    auth.Code
	message string
}

func (e *transportError) Error() string { return e.message }

func badRequest(format string, args ...any) *transportError {
	return &transportError{status: http.StatusBadRequest, code: auth.CodeBadRequest, message: fmt.Sprintf(format, args...)}
}

func badUserInput(format string, args ...any) *transportError {
	return &transportError{status: http.StatusBadRequest, code: auth.CodeBadUserInput, message: fmt.Sprintf(format, args...)}
}

// writeTransportError answers with e as the only error of a GraphQL
// response.
func writeTransportError(w http.ResponseWriter, e *transportError) {
	body, err := json.Marshal(map[string]any{
		"errors": []any{map[string]any{
			"message":    e.message,
			"extensions": map[string]any{"code": string(e.code)},
		}},
	})
	if err != nil {
		// Strings and maps of strings always marshal.
		panic(err)
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	w.Write(body)
}
