// Package resolvers serves tokengate's GraphQL API (API.md section 3): the
// root Resolver and its field resolvers, which are thin translations onto
// auth.Service, and NewHandler, the HTTP transport at /graphql.
//
// To add your own fields, extend the schema in a new file under schema/ and
// add methods on *Resolver in a new file in this package. A resolver that
// needs the signed-in user starts with auth.RequireCaller(ctx) and returns
// errors as they come: the transport turns every error into its public form
// (errors.go), so an unknown error is logged and shown only as INTERNAL.
package resolvers

import (
	"context"

	"github.com/graph-gophers/graphql-go"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
)

// Resolver is the root resolver: graphql-go resolves every field of Query
// and Mutation as a method of the same name on it.
type Resolver struct {
	svc *auth.Service
	rec *auth.Recovery
}

// New returns the root resolver over svc and rec, the account-recovery
// operations.
func New(svc *auth.Service, rec *auth.Recovery) *Resolver {
	return &Resolver{svc: svc, rec: rec}
}

// LoggedInUser resolves Query.loggedInUser.
func (r *Resolver) LoggedInUser(ctx context.Context) (*userResolver, error) {
	if err := StoreField(ctx); err != nil {
		return nil, err
	}
	u, err := r.svc.Me(ctx)
	if err != nil {
		return nil, err
	}
	return newUser(u), nil
}

// Sessions resolves Query.sessions.
func (r *Resolver) Sessions(ctx context.Context) ([]*sessionResolver, error) {
	if err := StoreField(ctx); err != nil {
		return nil, err
	}
	list, err := r.svc.Sessions(ctx)
	if err != nil {
		return nil, err
	}
	current := auth.CallerFromContext(ctx).SessionID
	out := make([]*sessionResolver, len(list))
	for i, s := range list {
		out[i] = &sessionResolver{s: s, current: s.ID == current}
	}
	return out, nil
}

// Register resolves Mutation.register.
func (r *Resolver) Register(ctx context.Context, args struct{ Email, Password, Name string }) (*tokensResolver, error) {
	if err := StoreField(ctx); err != nil {
		return nil, err
	}
	t, err := r.svc.Register(ctx, args.Email, args.Password, args.Name)
	return tokens(ctx, t, err)
}

// Login resolves Mutation.login.
func (r *Resolver) Login(ctx context.Context, args struct{ Email, Password string }) (*tokensResolver, error) {
	if err := StoreField(ctx); err != nil {
		return nil, err
	}
	t, err := r.svc.Login(ctx, args.Email, args.Password)
	return tokens(ctx, t, err)
}

// Refresh resolves Mutation.refresh. Without the argument the service uses
// the request's x-refresh-token, and a request the middleware already
// rotated is not rotated again.
func (r *Resolver) Refresh(ctx context.Context, args struct{ RefreshToken *string }) (*tokensResolver, error) {
	if err := StoreField(ctx); err != nil {
		return nil, err
	}
	var raw string
	if args.RefreshToken != nil {
		raw = *args.RefreshToken
	}
	t, err := edge.RefreshOnce(ctx, raw, r.svc.Refresh)
	return tokens(ctx, t, err)
}

// Logout resolves Mutation.logout.
func (r *Resolver) Logout(ctx context.Context) (bool, error) {
	if err := StoreField(ctx); err != nil {
		return false, err
	}
	if err := r.svc.Logout(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// LogoutAll resolves Mutation.logoutAll.
func (r *Resolver) LogoutAll(ctx context.Context) (bool, error) {
	if err := StoreField(ctx); err != nil {
		return false, err
	}
	if err := r.svc.LogoutAll(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// RevokeSession resolves Mutation.revokeSession. A session that is not the
// caller's is NOT_FOUND, exactly like one that does not exist, so the
// answer reveals nothing about other users' sessions.
func (r *Resolver) RevokeSession(ctx context.Context, args struct{ ID graphql.ID }) (bool, error) {
	if err := StoreField(ctx); err != nil {
		return false, err
	}
	if err := r.svc.RevokeSession(ctx, string(args.ID)); err != nil {
		return false, err
	}
	return true, nil
}

// ChangePassword resolves Mutation.changePassword.
func (r *Resolver) ChangePassword(ctx context.Context, args struct{ CurrentPassword, NewPassword string }) (*tokensResolver, error) {
	if err := StoreField(ctx); err != nil {
		return nil, err
	}
	t, err := r.svc.ChangePassword(ctx, args.CurrentPassword, args.NewPassword)
	return tokens(ctx, t, err)
}

// tokens answers an operation that issues tokens. It records them for the
// response headers itself rather than trusting every service method to:
// the promise that tokens in a body are also in the headers is this
// transport's to keep. Recording the same tokens twice is harmless.
func tokens(ctx context.Context, t auth.Tokens, err error) (*tokensResolver, error) {
	if err != nil {
		return nil, err
	}
	recordIssued(ctx, t)
	return &tokensResolver{t: t}, nil
}

// RequestPasswordReset resolves Mutation.requestPasswordReset: true whether
// or not the address has an account.
func (r *Resolver) RequestPasswordReset(ctx context.Context, args struct{ Email string }) (bool, error) {
	if err := StoreField(ctx); err != nil {
		return false, err
	}
	if err := r.rec.RequestPasswordReset(ctx, args.Email); err != nil {
		return false, err
	}
	return true, nil
}

// ResetPassword resolves Mutation.resetPassword.
func (r *Resolver) ResetPassword(ctx context.Context, args struct{ Token, NewPassword string }) (*tokensResolver, error) {
	if err := StoreField(ctx); err != nil {
		return nil, err
	}
	t, err := r.rec.ResetPassword(ctx, args.Token, args.NewPassword)
	return tokens(ctx, t, err)
}

// RequestEmailVerification resolves Mutation.requestEmailVerification.
func (r *Resolver) RequestEmailVerification(ctx context.Context) (bool, error) {
	if err := StoreField(ctx); err != nil {
		return false, err
	}
	if err := r.rec.RequestEmailVerification(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// VerifyEmail resolves Mutation.verifyEmail.
func (r *Resolver) VerifyEmail(ctx context.Context, args struct{ Token string }) (*userResolver, error) {
	if err := StoreField(ctx); err != nil {
		return nil, err
	}
	u, err := r.rec.VerifyEmail(ctx, args.Token)
	if err != nil {
		return nil, err
	}
	return newUser(u), nil
}

// DeleteAccount resolves Mutation.deleteAccount.
func (r *Resolver) DeleteAccount(ctx context.Context, args struct{ Password string }) (bool, error) {
	if err := StoreField(ctx); err != nil {
		return false, err
	}
	if err := r.rec.DeleteAccount(ctx, args.Password); err != nil {
		return false, err
	}
	return true, nil
}
