package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/edge"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/metrics"
	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/server"
)

// BenchmarkGraphQLAccess is the harness's access scenario (bench/) in one
// process: {loggedInUser{id email}} with a valid access token through the
// whole production chain (request log at info, metrics, recovery, client
// IP, validate-tokens, the GraphQL transport and engine) over SQLite in
// memory, into a recorder. Its allocations per request are the figure to
// watch; the wall time includes SQLite, which the harness does not.
func BenchmarkGraphQLAccess(b *testing.B) {
	st := testserver.NewStack(b, testserver.Options{})
	h := server.New(server.Deps{
		Service: st.Service,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		GraphQL: resolvers.DefaultLimits(),
		Metrics: metrics.New(),
	})
	access := st.SignUp(b, "bench@example.com").AccessToken
	const body = `{"query":"{loggedInUser{id email}}"}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(edge.HeaderAccessToken, access)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"email":"bench@example.com"`) {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}
