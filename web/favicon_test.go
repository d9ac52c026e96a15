package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/web"
)

// TestFavicon: the icon is served as SVG, without validators, under a
// policy that keeps script out of it, and the demo page names it.
func TestFavicon(t *testing.T) {
	s := httptest.NewServer(web.HandleFavicon())
	t.Cleanup(s.Close)
	res := testserver.Request(t, s.Client(), s.URL+"/favicon.ico", http.MethodGet, "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /favicon.ico: %d", res.StatusCode)
	}
	if got := res.Header.Get("Content-Type"); got != "image/svg+xml" {
		t.Errorf("Content-Type %q", got)
	}
	if res.Header.Get("ETag") != "" || res.Header.Get("Last-Modified") != "" {
		t.Error("has a validator")
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	body := string(res.Body)
	if !strings.HasPrefix(body, "<svg") || strings.Contains(body, "<script") {
		t.Errorf("not a plain SVG: %.60s", body)
	}

	page := httptest.NewRecorder()
	web.HandleDemoPage().ServeHTTP(page, httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(page.Body.String(), `<link rel="icon" href="/favicon.ico" type="image/svg+xml">`) {
		t.Error("the demo page does not name the icon")
	}
}
