// Package web serves tokengate's browser side: tokengate.js, the client
// module single-page apps use instead of bare fetch (also packed as the
// tokengate-client npm package, with TypeScript declarations); the demo
// page at / that uses it; the recovery page that the links in e-mails open
// (/reset-password, /verify-email); and the favicon. The files are
// embedded, so the binary serves them with no build step and nothing on
// disk.
package web

import (
	_ "embed"
	"net/http"
)

var (
	//go:embed tokengate.js
	clientScript []byte
	//go:embed index.html
	demoPage []byte
	//go:embed demo.js
	demoScript []byte
	//go:embed demo.css
	demoStyle []byte
	//go:embed favicon.svg
	favicon []byte
	//go:embed recovery.html
	recoveryPage []byte
	//go:embed recovery.js
	recoveryScript []byte
)

// DemoCSP is the Content-Security-Policy of the demo page: scripts, styles
// and API calls from the page's own origin only, nothing inline, no
// framing, no plugins, no forms posted anywhere.
const DemoCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"

// HandleClientScript serves tokengate.js as a JavaScript module.
func HandleClientScript() http.Handler {
	return file("text/javascript; charset=utf-8", clientScript)
}

// HandleDemoPage serves the demo page under a strict Content-Security-Policy.
func HandleDemoPage() http.Handler {
	return htmlPage(demoPage)
}

// HandleRecoveryPage serves the page that the links in tokengate's e-mails
// open, at both GET /reset-password and GET /verify-email (API.md section
// 10): its script reads the path to know which, and the token from the URL
// fragment, which never reaches the server. Same policy as the demo page.
func HandleRecoveryPage() http.Handler {
	return htmlPage(recoveryPage)
}

// htmlPage serves one of the pages under DemoCSP, sending no Referer and
// refusing to be framed.
func htmlPage(body []byte) http.Handler {
	page := file("text/html; charset=utf-8", body)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", DemoCSP)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		page.ServeHTTP(w, r)
	})
}

// HandleRecoveryScript serves the recovery page's script, at GET /recovery.js.
func HandleRecoveryScript() http.Handler {
	return file("text/javascript; charset=utf-8", recoveryScript)
}

// HandleDemoScript serves the demo page's script.
func HandleDemoScript() http.Handler {
	return file("text/javascript; charset=utf-8", demoScript)
}

// HandleDemoStyle serves the demo page's style sheet.
func HandleDemoStyle() http.Handler {
	return file("text/css; charset=utf-8", demoStyle)
}

// HandleFavicon serves the demo page's icon, an SVG, at /favicon.ico: the
// page names it with <link rel="icon" type="image/svg+xml">, and browsers
// that ask for /favicon.ico by themselves get an answer instead of a 404 on
// every load. The Content-Type, not the name, tells the browser it is SVG.
func HandleFavicon() http.Handler {
	icon := file("image/svg+xml", favicon)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Opened as a document, an SVG could run script; this one has none,
		// and the policy keeps it so.
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		icon.ServeHTTP(w, r)
	})
}

// file serves fixed bytes. No ETag or Last-Modified: the token middleware's
// contract forbids 304s on responses that may carry tokens, and these files
// are small enough to send again; no-cache keeps a browser from running an
// old client against a new server after an upgrade.
func file(contentType string, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", "no-cache")
		}
		_, _ = w.Write(body)
	})
}
