package client_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/store/sqlite"
)

// server is a real tokengate stack for the tests, with a clock they move,
// a store that counts rotations and can be made unreachable, and a count
// of the requests each path received from the clients under test.
type server struct {
	URL   string
	clock *testserver.Clock
	store *countingStore
	// wire is the Transport under every Client of the test: it counts
	// requests per path.
	wire *countingTransport
	srv  *testserver.Server
}

// startServer is the one place these tests start tokengate; moving them to
// the public test kit changes only this function.
func startServer(t testing.TB) *server {
	t.Helper()
	st, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cs := &countingStore{Store: st}
	s := testserver.New(t, testserver.Options{Store: cs})
	return &server{
		URL: s.URL, clock: s.Clock, store: cs, srv: s,
		wire: &countingTransport{base: s.HTTP.Client().Transport, paths: map[string]int{}},
	}
}

// post sends a request as another party would (a thief, another device),
// past the counting transport. headers alternate name, value.
func (s *server) post(t testing.TB, path, body string, headers ...string) (int, string) {
	t.Helper()
	res := s.srv.Do(t, http.MethodPost, path, body, headers...)
	return res.StatusCode, string(res.Body)
}

// httpClient is the plain client to hand to client.WithHTTPClient.
func (s *server) httpClient() *http.Client { return &http.Client{Transport: s.wire} }

// Now is the server's clock.
func (s *server) Now() time.Time { return s.clock.Now() }

// Advance moves the server's clock.
func (s *server) Advance(d time.Duration) { s.clock.Advance(d) }

// rotations counts the refreshes that advanced a session.
func (s *server) rotations() int64 { return s.store.rotated.Load() }

// setDown makes every refresh fail as an unreachable database does.
func (s *server) setDown(down bool) { s.store.down.Store(down) }

// requests returns how many requests the clients sent to path.
func (s *server) requests(path string) int { return s.wire.count(path) }

// countingStore is a store whose rotations are counted and, once switched
// off, fail as an unreachable database's do (as server/errors_test.go's).
type countingStore struct {
	auth.Store
	rotated atomic.Int64
	down    atomic.Bool
}

func (c *countingStore) RotateSession(ctx context.Context, r auth.Rotation) (auth.Rotated, bool, error) {
	if c.down.Load() {
		return auth.Rotated{}, false, auth.Unavailable(errors.New("dial tcp 10.0.0.1:5432: connection refused"))
	}
	rot, ok, err := c.Store.RotateSession(ctx, r)
	if ok && err == nil {
		c.rotated.Add(1)
	}
	return rot, ok, err
}

type countingTransport struct {
	base  http.RoundTripper
	mu    sync.Mutex
	paths map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.paths[r.URL.Path]++
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

func (c *countingTransport) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paths[path]
}
