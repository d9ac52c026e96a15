// Package middleware holds tokengate's HTTP middleware. Each one has the chi
// shape func(next http.Handler) http.Handler and takes its dependencies
// through its constructor.
package middleware

import (
	"context"
	"net/http"
	"strings"

	"github.com/tokengate/tokengate/auth"
)

// The token headers of API.md section 2, in canonical form.
const (
	HeaderAccessToken  = "X-Access-Token"
	HeaderRefreshToken = "X-Refresh-Token"
)

const (
	exposedHeaders = "x-access-token, x-refresh-token, WWW-Authenticate"
	varyOnTokens   = "Authorization, x-access-token, x-refresh-token"
)

// The constant header values, as shared slices assigned straight into the
// header map: Header.Set would allocate a new one-element slice for each
// on every request. Their capacity equals their length, so a later
// Header.Add appends to a copy and never writes into them; Header.Set and
// Header.Del replace or drop the slice.
var (
	noStoreValue = []string{"no-store"}[:1:1]
	varyValue    = []string{varyOnTokens}[:1:1]
	exposedValue = []string{exposedHeaders}[:1:1]
)

// Authenticator is what ValidateTokens needs from the domain;
// *auth.Service implements it.
type Authenticator interface {
	// VerifyAccess checks an access token without I/O.
	VerifyAccess(raw string) (auth.AccessClaims, error)
	// Rotate checks a refresh token against the store and issues a new pair.
	Rotate(ctx context.Context, rawRefresh string) (auth.Tokens, error)
}

// ErrorWriter answers a request the middleware cannot let through
// (conflicting credentials, store unavailable, rate limited).
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// ValidateTokens decides who the caller is before any handler runs (API.md
// section 2): a valid access token is trusted without I/O; otherwise the
// refresh token is checked and rotated in one store statement and the new
// pair is put on the response headers. A bad token never fails the request
// by itself: the request goes on anonymous, carrying the reason, and only
// what needs a user refuses it.
func ValidateTokens(a Authenticator, onError ErrorWriter) func(http.Handler) http.Handler {
	if a == nil || onError == nil {
		panic("middleware: ValidateTokens needs an Authenticator and an ErrorWriter")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			addVary(h)
			access, refresh, err := credentials(r.Header)
			if err != nil {
				onError(w, r, err)
				return
			}
			if access == "" && refresh == "" {
				next.ServeHTTP(w, r)
				return
			}
			h["Cache-Control"] = noStoreValue

			caller := auth.Caller{Reason: auth.ReasonTokenMissing}
			if access != "" {
				claims, err := a.VerifyAccess(access)
				if err == nil {
					ctx := auth.NewContextWithCaller(r.Context(), auth.Caller{UserID: claims.UserID, SessionID: claims.SessionID})
					if refresh != "" {
						// Ignored here, but an explicit refresh in this
						// request may still use it.
						ctx = auth.NewContextWithRefreshHeader(ctx, refresh, nil)
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
					WriteTokenHeaders(w, tokens)
					caller = auth.Caller{UserID: tokens.User.ID, SessionID: tokens.SessionID}
					ctx = auth.NewContextWithRefreshHeader(ctx, refresh, &tokens)
				} else if e := auth.ErrorOf(err); e.Code == auth.CodeUnauthenticated {
					caller.Reason = e.Reason
					ctx = auth.NewContextWithRefreshHeader(ctx, refresh, nil)
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
	access, err = single(h, HeaderAccessToken)
	if err != nil {
		return "", "", err
	}
	refresh, err = single(h, HeaderRefreshToken)
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

// WriteTokenHeaders puts a pair of tokens on the response, readable by
// cross-origin scripts and never cached. Call it before the body is written:
// headers set after WriteHeader are lost.
func WriteTokenHeaders(w http.ResponseWriter, t auth.Tokens) {
	h := w.Header()
	h.Set(HeaderAccessToken, t.AccessToken)
	h.Set(HeaderRefreshToken, t.RefreshToken)
	h["Access-Control-Expose-Headers"] = exposedValue
	h["Cache-Control"] = noStoreValue
	addVary(h)
}

// addVary adds the token headers to Vary once, keeping what CORS added.
func addVary(h http.Header) {
	vary := h["Vary"]
	if len(vary) == 0 {
		h["Vary"] = varyValue
		return
	}
	for _, v := range vary {
		if v == varyOnTokens {
			return
		}
	}
	h["Vary"] = append(vary, varyOnTokens)
}
