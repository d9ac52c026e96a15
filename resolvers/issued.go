package resolvers

import (
	"context"
	"sync"

	"github.com/tokengate/tokengate/auth"
)

// issuedTokens collects the tokens the operation's resolvers issued, so the
// handler can put them in the response headers before it writes the body
// (a header set after WriteHeader is lost). Safe for concurrent use:
// resolvers may run in parallel.
type issuedTokens struct {
	mu     sync.Mutex
	tokens auth.Tokens
	set    bool
}

type issuedKey struct{}

func withIssuedTokens(ctx context.Context) (context.Context, *issuedTokens) {
	it := &issuedTokens{}
	return context.WithValue(ctx, issuedKey{}, it), it
}

// recordIssued remembers t as the operation's newest tokens.
func recordIssued(ctx context.Context, t auth.Tokens) {
	if it, ok := ctx.Value(issuedKey{}).(*issuedTokens); ok {
		it.mu.Lock()
		it.tokens, it.set = t, true
		it.mu.Unlock()
	}
}

func (it *issuedTokens) last() (auth.Tokens, bool) {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.tokens, it.set
}

// maxStoreFields caps the fields of one operation that read or write the
// store. graphql-go's selection limit counts fields, not their cost: 500
// aliases of sessions would be 500 store queries for one request.
const maxStoreFields = 10

type storeFieldsKey struct{}

type storeFieldBudget struct {
	mu   sync.Mutex
	left int
}

func withStoreFieldBudget(ctx context.Context) context.Context {
	return context.WithValue(ctx, storeFieldsKey{}, &storeFieldBudget{left: maxStoreFields})
}

// errTooManyStoreFields is the error of a field past the budget.
var errTooManyStoreFields = auth.BadRequest("too many fields that read the store in one operation; at most %d", maxStoreFields)

// spendStoreField takes one field from the operation's budget of store
// fields, and refuses the field when the budget is spent. Every resolver
// that reaches the store starts with it; an adopter's resolver that does
// may call StoreField.
func spendStoreField(ctx context.Context) error {
	b, ok := ctx.Value(storeFieldsKey{}).(*storeFieldBudget)
	if !ok {
		return nil // not run by the handler (a test calling a resolver)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left <= 0 {
		return errTooManyStoreFields
	}
	b.left--
	return nil
}

// StoreField spends one of the operation's store fields (at most 10 per
// operation, against aliases that multiply a query); an adopter's resolver
// that reads the store starts with it and returns its error.
func StoreField(ctx context.Context) error { return spendStoreField(ctx) }
