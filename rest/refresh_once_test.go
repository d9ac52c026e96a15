package rest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// TestExplicitRefreshOfAReusedTokenSaysRefreshReused: the middleware has
// already tried the header's token when POST /auth/refresh runs. A request
// is rotated at most once, so the handler must report the middleware's
// verdict, not try again and find the session it just ended.
func TestExplicitRefreshOfAReusedTokenSaysRefreshReused(t *testing.T) {
	s := newServer(t)
	reg := register(t, s, "reused@example.com", password)
	next := wantTokens(t, refreshWithHeader(t, s, reg.RefreshToken), http.StatusOK)
	s.Clock.Advance(time.Minute) // past REFRESH_REUSE_GRACE

	p := wantProblem(t, refreshWithHeader(t, s, reg.RefreshToken), http.StatusUnauthorized, auth.CodeUnauthenticated)
	if p.Reason != auth.ReasonRefreshReused {
		t.Fatalf("reason %s, want %s", p.Reason, auth.ReasonRefreshReused)
	}
	// The session is over, its newest token included.
	p = wantProblem(t, refreshWithHeader(t, s, next.RefreshToken), http.StatusUnauthorized, auth.CodeUnauthenticated)
	if p.Reason != auth.ReasonSessionRevoked {
		t.Fatalf("newest token of the ended session: reason %s, want %s", p.Reason, auth.ReasonSessionRevoked)
	}
}
