package edge

import (
	"context"
	"errors"
	"testing"

	"github.com/tokengate/tokengate/auth"
)

// TestRefreshOnce is the rule "a request is rotated at most once" in one
// place: each case says whether the service's refresh may run.
func TestRefreshOnce(t *testing.T) {
	rotated := auth.Tokens{AccessToken: "a2", RefreshToken: "r2"}
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		raw     string
		calls   int // how often the service may be asked
		want    string
		code    auth.Code
		reason  auth.Reason
		wantRaw string
	}{
		{name: "no token anywhere", ctx: context.Background(), code: auth.CodeUnauthenticated, reason: auth.ReasonTokenMissing},
		{name: "the body's token, nothing in the header", ctx: context.Background(), raw: "r1", calls: 1, want: "fresh", wantRaw: "r1"},
		{name: "the header's token, the middleware let it be", ctx: NewContextWithRefresh(context.Background(), "r1", nil, auth.ReasonNone), calls: 1, want: "fresh", wantRaw: "r1"},
		{name: "the middleware rotated it: its pair again", ctx: NewContextWithRefresh(context.Background(), "r1", &rotated, auth.ReasonNone), want: "r2"},
		{name: "the middleware rotated it, named again in the body", ctx: NewContextWithRefresh(context.Background(), "r1", &rotated, auth.ReasonNone), raw: "r1", want: "r2"},
		{name: "the middleware rotated another token", ctx: NewContextWithRefresh(context.Background(), "r1", &rotated, auth.ReasonNone), raw: "other", code: auth.CodeBadRequest},
		{name: "the middleware was refused: its verdict", ctx: NewContextWithRefresh(context.Background(), "r1", nil, auth.ReasonRefreshReused), code: auth.CodeUnauthenticated, reason: auth.ReasonRefreshReused},
		{name: "refused, and another token in the body", ctx: NewContextWithRefresh(context.Background(), "r1", nil, auth.ReasonTokenInvalid), raw: "r9", calls: 1, want: "fresh", wantRaw: "r9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			got, err := RefreshOnce(tc.ctx, tc.raw, func(_ context.Context, raw string) (auth.Tokens, error) {
				calls++
				if raw != tc.wantRaw {
					t.Errorf("service asked to refresh %q, want %q", raw, tc.wantRaw)
				}
				return auth.Tokens{RefreshToken: "fresh"}, nil
			})
			if calls != tc.calls {
				t.Errorf("service called %d times, want %d", calls, tc.calls)
			}
			if tc.code != "" {
				var e *auth.Error
				if !errors.As(err, &e) || e.Code != tc.code || e.Reason != tc.reason {
					t.Fatalf("err %v, want %s %s", err, tc.code, tc.reason)
				}
				return
			}
			if err != nil || got.RefreshToken != tc.want {
				t.Fatalf("got %q, %v; want %q", got.RefreshToken, err, tc.want)
			}
		})
	}
}
