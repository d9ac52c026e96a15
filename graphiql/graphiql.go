// Package graphiql serves GraphiQL, the in-browser GraphQL IDE, entirely
// from the binary: the page, its bootstrap script, and pinned copies of
// graphiql, react and react-dom from their npm packages (assets/, with
// their licences and SHA256SUMS). Nothing is fetched from another origin,
// so GraphiQL works offline and its policy can be 'self' throughout.
//
// Two handlers, mounted by the router:
//
//	r.Method(http.MethodGet, "/graphql", graphiql.Handler("/graphql"))  // the page
//	r.Handle(graphiql.AssetPrefix+"*", graphiql.Assets())               // its files
package graphiql

import (
	"bytes"
	"compress/gzip"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

// AssetPrefix is the path under which Assets serves GraphiQL's files, and
// which the page names them by. It ends in a slash.
const AssetPrefix = "/graphiql/"

// Pinned versions of the npm packages under assets/. A new version goes in
// a new directory, so that the long-lived caching of the old paths stays
// right.
const (
	GraphiQLVersion = "3.7.0"
	ReactVersion    = "18.2.0"
)

// CSP is the Content-Security-Policy of the GraphiQL page: everything from
// this origin, nothing inline. The bootstrap is a file, so script-src needs
// no hash; the page's layout is a file, so style-src needs no
// 'unsafe-inline' (GraphiQL's React components and CodeMirror set styles
// through the DOM's style properties, which the policy does not govern; the
// browser test opens the docs, completion hints and a result under this
// policy and sees no violation). Images and fonts may also be data: URLs,
// which graphiql.min.css uses for icons. connect-src 'self' is where the
// editor sends operations.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"

var (
	//go:embed page.html
	pageTemplate string
	//go:embed bootstrap.js graphiql.css
	own embed.FS
	//go:embed assets
	vendored embed.FS
)

var page = template.Must(template.New("graphiql").Parse(pageTemplate))

// Handler returns the GraphiQL page, whose editor sends operations by POST
// to endpointPath (such as "/graphql"), or, when endpointPath is empty, to
// the path the page was served at (for a GraphQL handler that serves the
// page itself on GET and does not know where it is mounted). It panics if
// endpointPath is neither empty nor an absolute path, a wiring mistake to
// catch at start-up.
func Handler(endpointPath string) http.Handler {
	if endpointPath != "" && (!strings.HasPrefix(endpointPath, "/") || strings.HasPrefix(endpointPath, "//")) {
		panic("graphiql: the endpoint must be an absolute path such as /graphql, or empty for the page's own")
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, struct{ Prefix, Endpoint string }{AssetPrefix, endpointPath}); err != nil {
		panic("graphiql: render page: " + err.Error())
	}
	body := buf.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !readOnly(w, r) {
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		serve(w, "text/html; charset=utf-8", "no-cache", body)
	})
}

// asset is one file Assets serves.
type asset struct {
	contentType, cacheControl string
	body                      []byte

	// gzipped is body compressed, made at the first request that accepts
	// it: graphiql.min.js is 3.47 MB as is and 0.70 MB gzipped, which takes
	// about 140 ms at the default level (BestCompression: 460 ms for 0.4%
	// less), a cost start-up need not pay when nobody opens GraphiQL.
	gzipOnce sync.Once
	gzipped  []byte
}

func (a *asset) gzip() []byte {
	a.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		// Writing to a bytes.Buffer cannot fail.
		_, _ = zw.Write(a.body)
		_ = zw.Close()
		if buf.Len() < len(a.body) {
			a.gzipped = buf.Bytes()
		}
	})
	return a.gzipped
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip,
// honouring an explicit q=0.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q, found := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			if !found {
				return true
			}
			f, err := strconv.ParseFloat(q, 64)
			return err == nil && f > 0
		}
	}
	return false
}

var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

// Cache policies. The vendored files sit under a versioned directory and
// never change at a path, so a browser may keep them for a year without
// asking; tokengate's own two files may change with any release, so they
// are revalidated. Neither has a validator (no ETag, no Last-Modified):
// the token middleware's contract forbids 304s on a request that carries a
// token, and a full answer is always right.
const (
	cacheVersioned = "public, max-age=31536000, immutable"
	cacheOwn       = "no-cache"
)

var assets = loadAssets()

// loadAssets indexes the servable files by their path under AssetPrefix:
// the scripts and style sheets, not the licences or checksums.
func loadAssets() map[string]*asset {
	m := map[string]*asset{}
	add := func(fsys fs.FS, root, cacheControl string) {
		err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			ct, ok := contentTypes[path.Ext(p)]
			if !ok {
				return nil
			}
			body, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			m[strings.TrimPrefix(strings.TrimPrefix(p, root), "/")] = &asset{contentType: ct, cacheControl: cacheControl, body: body}
			return nil
		})
		if err != nil {
			panic("graphiql: index assets: " + err.Error())
		}
	}
	add(vendored, "assets", cacheVersioned)
	add(own, ".", cacheOwn)
	return m
}

// Assets returns the handler of GraphiQL's files, for requests whose path
// starts with AssetPrefix (mount it there without stripping the prefix).
// Anything else under the prefix is 404.
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !readOnly(w, r) {
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, AssetPrefix)
		a, found := assets[name]
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		body := a.body
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			if gz := a.gzip(); gz != nil {
				w.Header().Set("Content-Encoding", "gzip")
				body = gz
			}
		}
		serve(w, a.contentType, a.cacheControl, body)
	})
}

// readOnly answers 405 to anything but GET and HEAD, and reports whether
// the request may go on.
func readOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// serve writes body. A Cache-Control already set is kept: the token
// middleware sets no-store on the answer to a request that carried a
// token, and that must win over any caching here.
func serve(w http.ResponseWriter, contentType, cacheControl string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", cacheControl)
	}
	_, _ = w.Write(body)
}
