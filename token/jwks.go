package token

import (
	"net/http"
	"strings"
)

// JWKSCacheControl is what the JWKS answers carry: the max-age the key
// schedule's overlap and previous-key retention are measured against.
const (
	JWKSMaxAge       = 600 // seconds
	JWKSCacheControl = "public, max-age=600"
)

// JWKSHandler serves GET /.well-known/jwks.json (API.md section 8): the
// codec's published public keys, with an ETag and 304 on If-None-Match,
// since the set carries no token. A request that carries tokens is
// answered by the validate-tokens middleware's Cache-Control: no-store
// (set before this handler runs), which wins: a cache must not keep the
// answer to a request that sent credentials. The set it serves is the one
// the codec verifies with, so the two never disagree.
func JWKSHandler(c *Codec) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, etag := c.JWKS()
		h := w.Header()
		noStore := h.Get("Cache-Control") == "no-store"
		if !noStore {
			h.Set("Cache-Control", JWKSCacheControl)
			h.Set("ETag", etag)
			if etagMatches(r.Header.Get("If-None-Match"), etag) {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		w.Write(body)
	})
}

// etagMatches implements If-None-Match's weak comparison over a list.
func etagMatches(header, etag string) bool {
	for candidate := range strings.SplitSeq(header, ",") {
		candidate = strings.TrimPrefix(strings.TrimSpace(candidate), "W/")
		if candidate == "*" || candidate == etag {
			return true
		}
	}
	return false
}
