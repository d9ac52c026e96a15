package auth

import (
	"context"
	"sync"
)

// Caller is who a request acts as, decided once by the validate-tokens
// middleware before any handler runs. An anonymous caller has an empty
// UserID and, when it sent a token that failed, the Reason.
type Caller struct {
	UserID    string
	SessionID string
	Reason    Reason
}

// Authenticated reports whether the caller is a signed-in user.
func (c Caller) Authenticated() bool { return c.UserID != "" }

// Client is what the request says about the device: the client IP (as
// decided by the trusted-proxy rules) and the User-Agent.
type Client struct {
	IP        string
	UserAgent string
}

type callerKey struct{}
type clientKey struct{}
type refreshKey struct{}
type issuedKey struct{}

// NewContextWithCaller returns ctx carrying c.
func NewContextWithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFromContext returns the request's caller; anonymous with reason
// TOKEN_MISSING when none was set.
func CallerFromContext(ctx context.Context) Caller {
	if c, ok := ctx.Value(callerKey{}).(Caller); ok {
		return c
	}
	return Caller{Reason: ReasonTokenMissing}
}

// RequireCaller returns the signed-in caller, or UNAUTHENTICATED carrying
// the reason the caller is anonymous. A resolver or handler that needs a user
// starts with it.
func RequireCaller(ctx context.Context) (Caller, error) {
	c := CallerFromContext(ctx)
	if !c.Authenticated() {
		return c, Unauthenticated(c.Reason)
	}
	return c, nil
}

// NewContextWithClient returns ctx carrying the client's IP and user agent.
func NewContextWithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFromContext returns the client set by the client-IP middleware.
func ClientFromContext(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

// refreshState is what the middleware knows of the request's refresh token,
// so an explicit refresh in the same request neither needs the header again
// nor rotates a second time.
type refreshState struct {
	header  string
	rotated *Tokens
}

// NewContextWithRefreshHeader records the x-refresh-token the request sent
// and, when the middleware already rotated it, the tokens that produced.
func NewContextWithRefreshHeader(ctx context.Context, header string, rotated *Tokens) context.Context {
	return context.WithValue(ctx, refreshKey{}, refreshState{header: header, rotated: rotated})
}

func refreshFromContext(ctx context.Context) refreshState {
	s, _ := ctx.Value(refreshKey{}).(refreshState)
	return s
}

// IssuedTokens collects the tokens an operation issued during a request, so
// the transport can put them in the response headers before it writes the
// body (a header set after WriteHeader is lost). Safe for concurrent use:
// GraphQL resolvers may run in parallel.
type IssuedTokens struct {
	mu     sync.Mutex
	tokens Tokens
	set    bool
}

// NewContextWithIssuedTokens returns ctx carrying a fresh collector.
func NewContextWithIssuedTokens(ctx context.Context) (context.Context, *IssuedTokens) {
	it := &IssuedTokens{}
	return context.WithValue(ctx, issuedKey{}, it), it
}

// RecordIssued remembers t as the request's newest tokens, if the transport
// collects them.
func RecordIssued(ctx context.Context, t Tokens) {
	if it, ok := ctx.Value(issuedKey{}).(*IssuedTokens); ok {
		it.mu.Lock()
		it.tokens, it.set = t, true
		it.mu.Unlock()
	}
}

// Last returns the newest tokens recorded, if any.
func (it *IssuedTokens) Last() (Tokens, bool) {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.tokens, it.set
}
