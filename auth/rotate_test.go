package auth_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
)

// gatedStore is the real store with RotateSession counted and held at a
// gate, so a test can let every parallel request arrive before the first
// statement runs.
type gatedStore struct {
	auth.Store
	rotations atomic.Int32
	gate      chan struct{}
}

func (g *gatedStore) RotateSession(ctx context.Context, r auth.Rotation) (auth.Rotated, bool, error) {
	g.rotations.Add(1)
	<-g.gate
	return g.Store.RotateSession(ctx, r)
}

func TestParallelRefreshesShareOneStoreRoundTrip(t *testing.T) {
	base := testserver.NewStack(t, testserver.Options{})
	gated := &gatedStore{Store: base.Store}
	s := testserver.NewStack(t, testserver.Options{Store: gated})
	tok := s.SignUp(t, "ada@example.com")

	synctest.Test(t, func(t *testing.T) {
		gated.gate = make(chan struct{})
		const parallel = 20
		results := make([]auth.Tokens, parallel)
		errs := make([]error, parallel)
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Go(func() { results[i], errs[i] = s.Service.Rotate(context.Background(), tok.RefreshToken) })
		}
		// Every goroutine is now either the one holding the gate or waiting
		// for its result inside the shared flight.
		synctest.Wait()
		close(gated.gate)
		wg.Wait()

		if n := gated.rotations.Load(); n != 1 {
			t.Fatalf("%d parallel refreshes made %d RotateSession calls, want 1", parallel, n)
		}
		for i := range parallel {
			if errs[i] != nil || results[i].RefreshToken != results[0].RefreshToken {
				t.Fatalf("request %d: %v, or a different pair than the others", i, errs[i])
			}
		}
	})
}
