package auth_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/revocation"
)

// BenchmarkAuthenticate is the access path with the revocation view
// against the same Service without one, both with the view holding
// revocations: the view's lookup must cost at most 5% of a request.
//
//	go test -run '^$' -bench Authenticate -benchmem -count 10 ./auth | benchstat -col /view -
func BenchmarkAuthenticate(b *testing.B) {
	st := testserver.NewStack(b, testserver.Options{})
	view := revocation.New(revocation.Options{Window: 16 * time.Minute, Clock: st.Clock.Now})
	for i := range 10_000 {
		view.RevokeSession(fmt.Sprintf("ended-%d", i), st.Clock.Now())
	}
	withView, err := auth.NewService(st.Store, st.Codec, auth.DefaultPolicy(), auth.Limits{}, st.Clock.Now,
		slog.New(slog.NewTextHandler(io.Discard, nil)), auth.WithRevocation(view, view, nil))
	if err != nil {
		b.Fatal(err)
	}
	tok := st.SignUp(b, "bench@example.com")
	ctx := context.Background()
	for name, svc := range map[string]*auth.Service{"without": st.Service, "with": withView} {
		b.Run("view="+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Authenticate(ctx, tok.AccessToken); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
