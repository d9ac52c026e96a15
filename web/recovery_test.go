package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/web"
)

// TestRecoveryPage: the page the links open is served under the demo
// page's policy with no Referer, names only its own script, and the script
// scrubs the fragment before it imports anything.
func TestRecoveryPage(t *testing.T) {
	for _, path := range []string{"/reset-password", "/verify-email"} {
		rec := httptest.NewRecorder()
		web.HandleRecoveryPage().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		h := rec.Header()
		if rec.Code != http.StatusOK || h.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET %s: %d %q", path, rec.Code, h.Get("Content-Type"))
		}
		if h.Get("Content-Security-Policy") != web.DemoCSP || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: CSP %q, Referrer-Policy %q", path, h.Get("Content-Security-Policy"), h.Get("Referrer-Policy"))
		}
		if h.Get("ETag") != "" || h.Get("Last-Modified") != "" {
			t.Errorf("GET %s: has a validator", path)
		}
		page := rec.Body.String()
		if !strings.Contains(page, `<script type="module" src="/recovery.js"></script>`) || strings.Contains(page, "<script>") || strings.Contains(page, "style=") {
			t.Errorf("GET %s: not just the recovery script, or something inline", path)
		}
	}

	rec := httptest.NewRecorder()
	web.HandleRecoveryScript().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/recovery.js", nil))
	if got := rec.Header().Get("Content-Type"); got != "text/javascript; charset=utf-8" {
		t.Errorf("recovery.js Content-Type %q", got)
	}
	js := rec.Body.String()
	scrub, load := strings.Index(js, "history.replaceState("), strings.Index(js, "import(")
	if scrub < 0 || load < 0 || scrub > load || strings.Contains(js[:scrub], "\nimport ") {
		t.Error("recovery.js must take the token out of the address bar before it imports the client")
	}
}
