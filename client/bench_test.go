package client_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/client"
)

// canned answers every request with 200 and an empty body, without I/O.
type canned struct{}

func (canned) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

// BenchmarkTransport measures what the transport adds to a request whose
// access token is fresh: the store read, the expiry check and the clone.
func BenchmarkTransport(b *testing.B) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	store := new(client.MemoryStore)
	store.Save(context.Background(), client.Tokens{
		AccessToken:  forge("a", now, now.Add(15*time.Minute)),
		RefreshToken: forge("r", now, now.Add(time.Hour)),
	})
	c := client.New("http://tokengate.test", client.WithStore(store), client.WithClock(func() time.Time { return now }),
		client.WithHTTPClient(&http.Client{Transport: canned{}}))
	rt := c.HTTPClient().Transport
	req, err := http.NewRequest(http.MethodGet, "http://tokengate.test/auth/me", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := rt.RoundTrip(req)
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatal(res, err)
		}
		res.Body.Close()
	}
}
