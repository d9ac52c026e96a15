package resolvers_test

import (
	"testing"
	"time"
)

// TestRefreshMutationOfAReusedHeaderTokenSaysRefreshReused: the middleware
// has already tried the header's token when the mutation runs; the
// mutation reports that verdict rather than rotating a second time.
func TestRefreshMutationOfAReusedHeaderTokenSaysRefreshReused(t *testing.T) {
	s := newServer(t)
	reg := s.SignUp(t, "reused@example.com")
	if _, err := s.Service.Rotate(t.Context(), reg.RefreshToken); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(time.Minute) // past REFRESH_REUSE_GRACE

	_, body := exec(t, s, `mutation { refresh { accessToken } }`, nil, "x-refresh-token", reg.RefreshToken)
	if len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "UNAUTHENTICATED" || body.Errors[0].Extensions.Reason != "REFRESH_REUSED" {
		t.Fatalf("errors %+v, want UNAUTHENTICATED REFRESH_REUSED", body.Errors)
	}
}
