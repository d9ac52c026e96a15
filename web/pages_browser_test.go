package web_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokengate/tokengate/graphiql"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/web"
)

// pagesServer serves the browser side's pages from this package's and
// graphiql's own handlers, mounted as the coordinator's routes will mount
// them, in front of the real GraphQL endpoint of a test stack. It lets the
// page tests run before (and independently of) the wiring in server/.
func pagesServer(t testing.TB) *httptest.Server {
	t.Helper()
	st := testserver.NewStack(t, testserver.Options{})
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", web.HandleDemoPage())
	mux.Handle("GET /tokengate.js", web.HandleClientScript())
	mux.Handle("GET /demo.js", web.HandleDemoScript())
	mux.Handle("GET /demo.css", web.HandleDemoStyle())
	mux.Handle("GET /favicon.ico", web.HandleFavicon())
	mux.Handle("GET /reset-password", web.HandleRecoveryPage())
	mux.Handle("GET /verify-email", web.HandleRecoveryPage())
	mux.Handle("GET /recovery.js", web.HandleRecoveryScript())
	mux.Handle("GET /graphql", graphiql.Handler("/graphql"))
	mux.Handle("POST /graphql", resolvers.NewHandler(st.Service, st.Recovery, st.Logger, resolvers.DefaultLimits()))
	mux.Handle("GET "+graphiql.AssetPrefix, graphiql.Assets())
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// TestPagesInBrowser loads the pages in Chromium (e2e/pages.test.mjs)
// from pagesServer: GraphiQL offline, with every request kept on the
// server's origin; the favicon; the recovery pages' handling of the link's
// token, with the recovery routes answered by the browser test itself. It skips like TestBrowser without node or chromium.
func TestPagesInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	node := need(t, "node", "Node.js")
	chromium := os.Getenv("CHROMIUM_PATH")
	if chromium == "" {
		chromium = need(t, "chromium", "Debian's chromium package (apt-get install chromium)")
	}
	dir, err := filepath.Abs("e2e")
	if err != nil {
		t.Fatal(err)
	}
	ensureNodeModules(t, dir)
	s := pagesServer(t)
	run(t, 2*time.Minute, dir, []string{
		"PAGES_URL=" + s.URL,
		"CHROMIUM_PATH=" + chromium,
		"ARTIFACTS_DIR=" + filepath.Join(dir, "artifacts"),
	}, node, "--test", "--test-concurrency=1", "--test-reporter=spec", "pages.test.mjs")
}
