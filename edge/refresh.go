package edge

import (
	"context"

	"github.com/tokengate/tokengate/auth"
)

// refreshState is what the validate-tokens middleware made of the
// request's x-refresh-token, kept for a refresh handler further in.
type refreshState struct {
	header string
	// rotated is the pair the middleware's rotation issued; nil when it
	// did not rotate.
	rotated *auth.Tokens
	// refused is why the middleware's rotation failed; empty when it did
	// not try or succeeded.
	refused auth.Reason
}

type refreshKey struct{}

// NewContextWithRefresh records what the middleware made of the request's
// x-refresh-token: the header itself, and either the pair its rotation
// issued (rotated) or why the rotation was refused (refused). Only the
// validate-tokens middleware calls it.
func NewContextWithRefresh(ctx context.Context, header string, rotated *auth.Tokens, refused auth.Reason) context.Context {
	return context.WithValue(ctx, refreshKey{}, refreshState{header: header, rotated: rotated, refused: refused})
}

// RefreshOnce is the explicit refresh of a request (REST POST
// /auth/refresh, GraphQL refresh), and the one place that keeps "a request
// is rotated at most once". raw is the token the client passed, or "" for
// the request's x-refresh-token. When the middleware already rotated that
// token, its pair is returned again; when it tried and was refused, its
// verdict is (trying again would be a second attempt, and for a reused
// token it would find the session the first ended and hide the reuse).
// Otherwise refresh, the service's, rotates.
func RefreshOnce(ctx context.Context, raw string, refresh func(context.Context, string) (auth.Tokens, error)) (auth.Tokens, error) {
	state, _ := ctx.Value(refreshKey{}).(refreshState)
	if raw == "" {
		raw = state.header
	}
	switch {
	case raw == "":
		return auth.Tokens{}, auth.Unauthenticated(auth.ReasonTokenMissing)
	case state.rotated != nil && raw != state.header:
		return auth.Tokens{}, auth.BadRequest("conflicting credentials: the refresh token differs from x-refresh-token")
	case state.rotated != nil:
		return *state.rotated, nil
	case raw == state.header && state.refused != auth.ReasonNone:
		return auth.Tokens{}, auth.Unauthenticated(state.refused)
	}
	return refresh(ctx, raw)
}
