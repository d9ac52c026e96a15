// Package middleware holds tokengate's HTTP middleware. Each one has the chi
// shape func(next http.Handler) http.Handler and takes its dependencies
// through its constructor.
package middleware

import (
	"context"
	"net/http"
	"strings"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
)

// Authenticator is what ValidateTokens needs from the domain;
// *auth.Service implements it.
type Authenticator interface {
	// Authenticate checks an access token: its signature and claims, and
	// the instance's revocation view; no I/O while the view is current.
	Authenticate(ctx context.Context, raw string) (auth.AccessClaims, error)
	// AccessLapsed reports, without checking the signature, whether raw is
	// an access token past its expiry: never valid, whoever signed it.
	AccessLapsed(raw string) bool
	// Rotate checks a refresh token against the store and issues a new pair.
	Rotate(ctx context.Context, rawRefresh string) (auth.Tokens, error)
}

// ValidateTokens decides who the caller is before any handler runs (API.md
// section 2): a valid access token is trusted without I/O; otherwise the
// refresh token is checked and rotated in one store statement and the new
// pair is put on the response headers. A bad token never fails the request
// by itself: the request goes on anonymous, carrying the reason, and only
// what needs a user refuses it.
func ValidateTokens(a Authenticator, onError edge.ErrorWriter) func(http.Handler) http.Handler {
	if a == nil || onError == nil {
		panic("middleware: ValidateTokens needs an Authenticator and an ErrorWriter")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			edge.AddVary(h)
			access, refresh, err := credentials(r.Header)
			if err != nil {
				onError(w, r, err)
				return
			}
			if access == "" && refresh == "" {
				next.ServeHTTP(w, r)
				return
			}
			edge.NoStore(h)

			caller := auth.Caller{Reason: auth.ReasonTokenMissing}
			switch {
			case access != "" && refresh != "" && a.AccessLapsed(access):
				// The refresh token decides this request, and the access
				// token's reason is only ever reported when there is none:
				// a token past its exp is not worth its signature check,
				// the costliest step of a refresh with ES256.
				caller.Reason = auth.ReasonTokenExpired
			case access != "":
				claims, err := a.Authenticate(r.Context(), access)
				if err == nil {
					ctx := auth.NewContextWithCaller(r.Context(), auth.Caller{UserID: claims.UserID, SessionID: claims.SessionID, TokenVersion: claims.TokenVersion})
					if refresh != "" {
						// Ignored here, but an explicit refresh in this
						// request may still use it.
						ctx = edge.NewContextWithRefresh(ctx, refresh, nil, auth.ReasonNone)
					}
					next.ServeHTTP(w, r.WithContext(ctx))
					return
				}
				caller.Reason = auth.ErrorOf(err).Reason
			}

			ctx := r.Context()
			if refresh != "" {
				tokens, err := a.Rotate(ctx, refresh)
				if err == nil {
					edge.WriteTokens(w, tokens)
					caller = auth.Caller{UserID: tokens.User.ID, SessionID: tokens.SessionID, TokenVersion: tokens.User.TokenVersion}
					ctx = edge.NewContextWithRefresh(ctx, refresh, &tokens, auth.ReasonNone)
				} else if e := auth.ErrorOf(err); e.Code == auth.CodeUnauthenticated {
					caller.Reason = e.Reason
					ctx = edge.NewContextWithRefresh(ctx, refresh, nil, e.Reason)
				} else {
					// The store is down or the session's budget is spent: the
					// client must keep its tokens and retry, so this is not a 401.
					onError(w, r, err)
					return
				}
			}
			next.ServeHTTP(w, r.WithContext(auth.NewContextWithCaller(ctx, caller)))
		})
	}
}

// credentials reads the access token (x-access-token or Authorization:
// Bearer) and the refresh token. Repeated or contradicting headers are
// refused: guessing which one the client meant could let a stale or
// injected token win.
func credentials(h http.Header) (access, refresh string, err error) {
	access, err = single(h, edge.HeaderAccessToken)
	if err != nil {
		return "", "", err
	}
	refresh, err = single(h, edge.HeaderRefreshToken)
	if err != nil {
		return "", "", err
	}
	authz, err := single(h, "Authorization")
	if err != nil {
		return "", "", err
	}
	if bearer, ok := bearerToken(authz); ok {
		if access != "" && access != bearer {
			return "", "", errConflict
		}
		access = bearer
	}
	return access, refresh, nil
}

var (
	errConflict  = auth.BadRequest("conflicting credentials: x-access-token and Authorization carry different tokens")
	errDuplicate = auth.BadRequest("conflicting credentials: a token header was sent more than once")
)

func single(h http.Header, name string) (string, error) {
	switch v := h[name]; len(v) {
	case 0:
		return "", nil
	case 1:
		return strings.TrimSpace(v[0]), nil
	default:
		return "", errDuplicate
	}
}

// bearerToken extracts the token of an RFC 6750 Authorization header; the
// scheme is case-insensitive.
func bearerToken(authz string) (string, bool) {
	const prefix = "bearer "
	if len(authz) <= len(prefix) || !strings.EqualFold(authz[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(authz[len(prefix):]), true
}
