package graphiql_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/graphiql"
)

// newServer mounts the page and the assets as the router does.
func newServer(t testing.TB) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/graphql", graphiql.Handler("/graphql"))
	mux.Handle(graphiql.AssetPrefix, graphiql.Assets())
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func get(t testing.TB, s *httptest.Server, p string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

var (
	tagRe  = regexp.MustCompile(`(?is)<(script|link)\b([^>]*)>`)
	attrRe = regexp.MustCompile(`(?is)([a-z-]+)\s*=\s*"([^"]*)"`)
	// inlineScript is a script element with a body: the policy would block it.
	inlineScript = regexp.MustCompile(`(?is)<script\b[^>]*>\s*[^<\s]`)
)

// assetsNamed returns the URLs of every script and style sheet the page
// names, with the type each must be served as.
func assetsNamed(t testing.TB, page string) map[string]string {
	t.Helper()
	want := map[string]string{}
	for _, m := range tagRe.FindAllStringSubmatch(page, -1) {
		attrs := map[string]string{}
		for _, a := range attrRe.FindAllStringSubmatch(m[2], -1) {
			attrs[strings.ToLower(a[1])] = a[2]
		}
		switch strings.ToLower(m[1]) {
		case "script":
			if attrs["src"] == "" {
				t.Errorf("an inline script: %s", m[0])
				continue
			}
			want[attrs["src"]] = "text/javascript; charset=utf-8"
		case "link":
			if attrs["rel"] == "stylesheet" {
				want[attrs["href"]] = "text/css; charset=utf-8"
			} else if attrs["href"] != "" {
				t.Errorf("a link the test does not know how to check: %s", m[0])
			}
		}
	}
	return want
}

// TestPageAssetsServedByItself fetches every script and style sheet the
// page names from the same handlers: all on this origin, all there, with
// the right types, the versioned ones cacheable for long and none with a
// validator.
func TestPageAssetsServedByItself(t *testing.T) {
	s := newServer(t)
	res, body := get(t, s, "/graphql")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /graphql: %d", res.StatusCode)
	}
	if got := res.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("page Content-Type %q", got)
	}
	if got := res.Header.Get("Content-Security-Policy"); got != graphiql.CSP {
		t.Errorf("page CSP %q", got)
	}
	page := string(body)
	if inlineScript.MatchString(page) || strings.Contains(page, "<style") || strings.Contains(page, " style=") {
		t.Error("the page has inline script or style, which its policy blocks")
	}
	if !strings.Contains(page, `data-endpoint="/graphql"`) {
		t.Error("the page does not name its endpoint")
	}

	named := assetsNamed(t, page)
	if len(named) != 6 {
		t.Errorf("the page names %d assets, want 6 (react, react-dom, graphiql js+css, bootstrap, layout): %v", len(named), named)
	}
	for url, contentType := range named {
		if !strings.HasPrefix(url, graphiql.AssetPrefix) {
			t.Errorf("%s is not served from %s on this origin", url, graphiql.AssetPrefix)
			continue
		}
		res, body := get(t, s, url)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", url, res.StatusCode)
			continue
		}
		if got := res.Header.Get("Content-Type"); got != contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", url, got, contentType)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", url)
		}
		if res.Header.Get("ETag") != "" || res.Header.Get("Last-Modified") != "" {
			t.Errorf("GET %s: has a validator", url)
		}
		versioned := strings.Contains(url, "@")
		cc := res.Header.Get("Cache-Control")
		if versioned && !strings.Contains(cc, "immutable") {
			t.Errorf("GET %s: versioned asset with Cache-Control %q", url, cc)
		}
		if !versioned && cc != "no-cache" {
			t.Errorf("GET %s: unversioned asset with Cache-Control %q", url, cc)
		}
		if len(body) == 0 {
			t.Errorf("GET %s: empty", url)
		}
	}
}

// TestPolicyIsSelfOnly keeps any other origin, inline script and eval out
// of the page's policy.
func TestPolicyIsSelfOnly(t *testing.T) {
	for _, bad := range []string{"http:", "https:", "'unsafe-inline'", "'unsafe-eval'", "*", "'sha256-"} {
		if strings.Contains(graphiql.CSP, bad) {
			t.Errorf("CSP contains %s: %s", bad, graphiql.CSP)
		}
	}
	for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(graphiql.CSP, d+";") {
			t.Errorf("CSP lacks %s", d)
		}
	}
}

// TestVendoredFilesMatchTheirChecksums compares the embedded copies with
// assets/SHA256SUMS, the checksums of the files as unpacked from the npm
// packages, so an edited or truncated copy fails here.
func TestVendoredFilesMatchTheirChecksums(t *testing.T) {
	s := newServer(t)
	f, err := os.Open("assets/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	served := 0
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("bad SHA256SUMS line %q", sc.Text())
		}
		onDisk, err := os.ReadFile(path.Join("assets", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(onDisk); hex.EncodeToString(got[:]) != sum {
			t.Errorf("assets/%s differs from its checksum", name)
		}
		if path.Ext(name) != ".js" && path.Ext(name) != ".css" {
			continue
		}
		res, body := get(t, s, graphiql.AssetPrefix+name)
		if res.StatusCode != http.StatusOK || !bytes.Equal(body, onDisk) {
			t.Errorf("%s served as %d, %d bytes; want the %d bytes on disk", name, res.StatusCode, len(body), len(onDisk))
		}
		served++
	}
	if served != 4 {
		t.Errorf("%d vendored scripts and style sheets checked, want 4", served)
	}
}

// TestMiddlewareCacheControlWins: the token middleware sets no-store on the
// answer to a request that carried a token; the handlers must not replace
// it with their own caching.
func TestMiddlewareCacheControlWins(t *testing.T) {
	noStore := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			h.ServeHTTP(w, r)
		})
	}
	for _, c := range []struct {
		h    http.Handler
		path string
	}{
		{graphiql.Handler("/graphql"), "/graphql"},
		{graphiql.Assets(), graphiql.AssetPrefix + "graphiql@" + graphiql.GraphiQLVersion + "/graphiql.min.css"},
	} {
		rec := httptest.NewRecorder()
		noStore(c.h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: %d, Cache-Control %q", c.path, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
}

// TestAssetsRefuseWhatTheyDoNotServe: unknown names, the licences and
// checksums, paths that climb out, and methods other than GET and HEAD.
func TestAssetsRefuseWhatTheyDoNotServe(t *testing.T) {
	h := graphiql.Assets()
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, graphiql.AssetPrefix + "nope.js", http.StatusNotFound},
		{http.MethodGet, graphiql.AssetPrefix + "SHA256SUMS", http.StatusNotFound},
		{http.MethodGet, graphiql.AssetPrefix + "react@18.2.0/LICENSE", http.StatusNotFound},
		{http.MethodGet, graphiql.AssetPrefix + "../graphiql.go", http.StatusNotFound},
		{http.MethodGet, graphiql.AssetPrefix, http.StatusNotFound},
		{http.MethodGet, "/elsewhere/bootstrap.js", http.StatusNotFound},
		{http.MethodPost, graphiql.AssetPrefix + "bootstrap.js", http.StatusMethodNotAllowed},
		{http.MethodHead, graphiql.AssetPrefix + "bootstrap.js", http.StatusOK},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, rec.Code, c.want)
		}
	}
}

func TestHandlerRefusesARelativeEndpoint(t *testing.T) {
	for _, p := range []string{"graphql", "//evil.example/graphql", "https://evil.example/graphql"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handler(%q) did not panic", p)
				}
			}()
			graphiql.Handler(p)
		}()
	}
}

// TestEndpointIsEscaped: the endpoint lands in an attribute.
func TestEndpointIsEscaped(t *testing.T) {
	rec := httptest.NewRecorder()
	graphiql.Handler(`/g"><script>x</script>`).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/g", nil))
	if strings.Contains(rec.Body.String(), "<script>x") {
		t.Error("endpoint not escaped")
	}
}

// TestEmptyEndpointIsThePagesOwnPath: no data-endpoint, so the bootstrap
// posts to location.pathname.
func TestEmptyEndpointIsThePagesOwnPath(t *testing.T) {
	rec := httptest.NewRecorder()
	graphiql.Handler("").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/graphql", nil))
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "data-endpoint") || !strings.Contains(rec.Body.String(), `<div id="graphiql">`) {
		t.Errorf("%d\n%s", rec.Code, rec.Body)
	}
}

// TestAssetsGzip: a client that accepts gzip gets the same bytes
// compressed, one that does not (or refuses it with q=0) gets them as is,
// and caches are told the answer varies.
func TestAssetsGzip(t *testing.T) {
	s := newServer(t)
	name := "graphiql@" + graphiql.GraphiQLVersion + "/graphiql.min.js"
	plainRes, plain := get(t, s, graphiql.AssetPrefix+name, "Accept-Encoding", "identity")
	if plainRes.Header.Get("Content-Encoding") != "" {
		t.Fatalf("identity answered with %q", plainRes.Header.Get("Content-Encoding"))
	}
	for _, ae := range []string{"gzip", "br, gzip;q=0.8", "deflate, GZIP"} {
		res, body := get(t, s, graphiql.AssetPrefix+name, "Accept-Encoding", ae)
		if res.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", ae, res.Header.Get("Content-Encoding"))
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain) {
			t.Errorf("Accept-Encoding %q: the gzipped body is not the file (%v)", ae, err)
		}
		if !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("no Vary: Accept-Encoding")
		}
		t.Logf("%s: %d bytes, %d gzipped", name, len(plain), len(body))
	}
	for _, ae := range []string{"gzip;q=0", "br", ""} {
		res, _ := get(t, s, graphiql.AssetPrefix+name, "Accept-Encoding", ae)
		if res.Header.Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", ae, res.Header.Get("Content-Encoding"))
		}
	}
}
