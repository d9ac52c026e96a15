package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/web"
)

// TestServedFiles checks the files through the real server: content types,
// the demo page's policy, and no validators (the token middleware's
// contract forbids 304s).
func TestServedFiles(t *testing.T) {
	s := testserver.New(t, testserver.Options{})
	for _, c := range []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/demo.js"></script>`},
		{"/tokengate.js", "text/javascript; charset=utf-8", "export function createClient("},
		{"/demo.js", "text/javascript; charset=utf-8", "from '/tokengate.js'"},
		{"/demo.css", "text/css; charset=utf-8", "body"},
	} {
		res := s.Do(t, http.MethodGet, c.path, "")
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", c.path, res.StatusCode)
			continue
		}
		if got := res.Header.Get("Content-Type"); got != c.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.contentType)
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", c.path, got)
		}
		if res.Header.Get("ETag") != "" || res.Header.Get("Last-Modified") != "" {
			t.Errorf("GET %s: has a validator", c.path)
		}
		if !strings.Contains(string(res.Body), c.contains) {
			t.Errorf("GET %s: body lacks %q", c.path, c.contains)
		}
	}
	res := s.Do(t, http.MethodGet, "/", "")
	if got := res.Header.Get("Content-Security-Policy"); got != web.DemoCSP {
		t.Errorf("CSP %q", got)
	}
	for _, directive := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(web.DemoCSP, directive) {
			t.Errorf("CSP lacks %s", directive)
		}
	}
	if strings.Contains(web.DemoCSP, "unsafe") {
		t.Error("CSP allows something unsafe")
	}
	// Nothing inline that the policy would block.
	if page := string(res.Body); strings.Contains(page, "<script>") || strings.Contains(page, "style=") || strings.Contains(page, "<style") {
		t.Error("the demo page has inline script or style")
	}
}
