package token_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokengate/tokengate/token"
)

func TestJWKSHandler(t *testing.T) {
	c, _ := newAsymCodec(t, newKey(t, token.ES256), newKey(t, token.ES256))
	h := token.JWKSHandler(c)
	get := func(method string, header ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/.well-known/jwks.json", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	w := get(http.MethodGet)
	body, etag := c.JWKS()
	if w.Code != http.StatusOK || w.Body.String() != string(body) || w.Header().Get("ETag") != etag ||
		w.Header().Get("Cache-Control") != "public, max-age=600" || w.Header().Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("GET: %d %v %s", w.Code, w.Header(), w.Body)
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		if w := get(http.MethodGet, "If-None-Match", inm); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d", inm, w.Code)
		}
	}
	if w := get(http.MethodGet, "If-None-Match", `"stale"`); w.Code != http.StatusOK {
		t.Errorf("stale If-None-Match: %d", w.Code)
	}
	if w := get(http.MethodHead); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", w.Code, w.Body.Len())
	}
	// A new key set is a new entity.
	other := newKey(t, token.ES256)
	if err := c.SetAccessKeys(token.AccessKeys{Signer: other.sign, Published: []token.PublicKey{other.pub}}); err != nil {
		t.Fatal(err)
	}
	if w := get(http.MethodGet, "If-None-Match", etag); w.Code != http.StatusOK || w.Header().Get("ETag") == etag {
		t.Errorf("after a key change: %d, ETag %s", w.Code, w.Header().Get("ETag"))
	}

	// A request that carried a token: the middleware's no-store stands,
	// and no ETag or 304 goes with it.
	req := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
	req.Header.Set("If-None-Match", "*")
	w = httptest.NewRecorder()
	w.Header().Set("Cache-Control", "no-store")
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("ETag") != "" {
		t.Errorf("with no-store set: %d %v", w.Code, w.Header())
	}
}
