package rest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
)

// FuzzDecode sends arbitrary bodies and Content-Types to every route that
// reads a body, through the whole server in process. Whatever arrives, the
// answer is never a 5xx and never a panic (the recoverer would make one a
// 500), and every refusal is a problem+json document.
func FuzzDecode(f *testing.F) {
	s := testserver.New(f, testserver.Options{})
	h := s.HTTP.Config.Handler
	paths := []string{"/auth/register", "/auth/login", "/auth/refresh", "/auth/password"}

	f.Fuzz(func(t *testing.T, route uint8, contentType string, body []byte) {
		path := paths[int(route)%len(paths)]
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		res := serve(t, h, r)
		if res.StatusCode >= 500 {
			t.Fatalf("POST %s %q %q: status %d: %s", path, contentType, body, res.StatusCode, res.Body)
		}
		if res.StatusCode < 400 {
			return
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("POST %s: Content-Type %q on a %d", path, ct, res.StatusCode)
		}
		var p struct {
			Code auth.Code `json:"code"`
		}
		if err := json.Unmarshal(res.Body, &p); err != nil || p.Code == "" || p.Code == auth.CodeInternal {
			t.Fatalf("POST %s: problem %s (%v)", path, res.Body, err)
		}
	})
}
