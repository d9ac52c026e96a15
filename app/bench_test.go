package app_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/tokengatetest"
)

// BenchmarkGraphQLRefresh is bench/run.sh's refresh scenario inside one
// process: {loggedInUser{id email}} with an expired access token (ES256,
// the default) and the session's current refresh token, through the whole
// app (request log at info, metrics, GraphQL) on in-memory SQLite. It
// measures tokengate's own CPU and allocations per refresh, without the
// network or PostgreSQL that the load harness adds.
func BenchmarkGraphQLRefresh(b *testing.B) {
	s := tokengatetest.NewServer(b, tokengatetest.WithInMemoryTransport(),
		tokengatetest.WithEnv("LOG_LEVEL", "info"), tokengatetest.WithLogOutput(io.Discard),
		tokengatetest.WithEnv("RATE_LIMIT_REFRESH", "1000000000/1s"),
		tokengatetest.WithEnv("RATE_LIMIT_IP", "1000000000/1s"))
	tok := s.SignUp(b, "bench@example.com", "correct horse battery", "Bench")
	if alg := headerAlg(b, tok.AccessToken); alg != "ES256" {
		b.Fatalf("access tokens signed with %s, want the default ES256", alg)
	}
	s.Advance(16 * time.Minute)
	expired, refresh := tok.AccessToken, tok.RefreshToken
	b.ReportAllocs()
	for b.Loop() {
		res := s.GraphQL(b, `{loggedInUser{id email}}`, nil, "x-access-token", expired, "x-refresh-token", refresh)
		refresh = res.Header.Get("x-refresh-token")
		if res.StatusCode != http.StatusOK || refresh == "" || !strings.Contains(string(res.Body), "bench@example.com") {
			b.Fatalf("%d %s", res.StatusCode, res.Body)
		}
	}
}

func headerAlg(tb testing.TB, raw string) string {
	tb.Helper()
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	var h struct{ Alg string }
	if err == nil {
		err = json.Unmarshal(b, &h)
	}
	if err != nil {
		tb.Fatalf("token header: %v", err)
	}
	return h.Alg
}
