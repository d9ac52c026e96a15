package auth

import "context"

// Caller is who a request acts as, decided once by the validate-tokens
// middleware before any handler runs. An anonymous caller has an empty
// UserID and, when it sent a token that failed, the Reason.
type Caller struct {
	UserID    string
	SessionID string
	// TokenVersion is the user's token counter the caller's tokens carry.
	TokenVersion int64
	Reason       Reason
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
