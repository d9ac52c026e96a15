package resolvers

import (
	"context"
	"sync"

	"github.com/tokengate/tokengate/auth"
)

// operation is what the handler tracks of one operation while its
// resolvers run (possibly in parallel, hence the lock): the tokens they
// issued, which go in the response headers before the body is written (a
// header set after WriteHeader is lost), and the store fields it may still
// resolve. One value in the context carries both.
type operation struct {
	mu              sync.Mutex
	tokens          auth.Tokens
	issued          bool
	storeFieldsLeft int
}

type operationKey struct{}

// maxStoreFields caps the fields of one operation that read or write the
// store. graphql-go's selection limit counts fields, not their cost: 500
// aliases of sessions would be 500 store queries for one request.
const maxStoreFields = 10

func withOperation(ctx context.Context) (context.Context, *operation) {
	op := &operation{storeFieldsLeft: maxStoreFields}
	return context.WithValue(ctx, operationKey{}, op), op
}

// recordIssued remembers t as the operation's newest tokens.
func recordIssued(ctx context.Context, t auth.Tokens) {
	if op, ok := ctx.Value(operationKey{}).(*operation); ok {
		op.mu.Lock()
		op.tokens, op.issued = t, true
		op.mu.Unlock()
	}
}

func (op *operation) lastIssued() (auth.Tokens, bool) {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.tokens, op.issued
}

// errTooManyStoreFields is the error of a field past the budget.
var errTooManyStoreFields = auth.BadRequest("too many fields that read the store in one operation; at most %d", maxStoreFields)

// StoreField takes one of the operation's store fields (at most 10 per
// operation, against aliases that multiply a query's cost) and refuses the
// field once they are spent. Every resolver of tokengate's that reaches
// the store starts with it; an adopter's resolver that does should too.
func StoreField(ctx context.Context) error {
	op, ok := ctx.Value(operationKey{}).(*operation)
	if !ok {
		return nil // not run by the handler (a test calling a resolver)
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.storeFieldsLeft <= 0 {
		return errTooManyStoreFields
	}
	op.storeFieldsLeft--
	return nil
}
