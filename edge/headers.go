package edge

import (
	"net/http"

	"github.com/tokengate/tokengate/auth"
)

// The token headers of API.md section 2, in canonical form.
const (
	HeaderAccessToken  = "X-Access-Token"
	HeaderRefreshToken = "X-Refresh-Token"
)

// ExposedHeaders are the response headers a cross-origin script may read.
var ExposedHeaders = []string{HeaderAccessToken, HeaderRefreshToken, "WWW-Authenticate"}

const (
	exposedHeaders = "x-access-token, x-refresh-token, WWW-Authenticate"
	varyOnTokens   = "Authorization, x-access-token, x-refresh-token"
)

// The constant header values, as shared slices assigned straight into the
// header map: Header.Set would allocate a new one-element slice for each
// on every request. Their capacity equals their length, so a later
// Header.Add appends to a copy and never writes into them; Header.Set and
// Header.Del replace or drop the slice.
var (
	noStoreValue = []string{"no-store"}[:1:1]
	varyValue    = []string{varyOnTokens}[:1:1]
	exposedValue = []string{exposedHeaders}[:1:1]
)

// WriteTokens puts a pair of tokens on the response, readable by
// cross-origin scripts and never cached. Call it before the body is
// written: headers set after WriteHeader are lost.
func WriteTokens(w http.ResponseWriter, t auth.Tokens) {
	h := w.Header()
	h.Set(HeaderAccessToken, t.AccessToken)
	h.Set(HeaderRefreshToken, t.RefreshToken)
	h["Access-Control-Expose-Headers"] = exposedValue
	h["Cache-Control"] = noStoreValue
	AddVary(h)
}

// NoStore marks a response as never to be kept by a cache: one that
// answers a request carrying a token, or that depends on state.
func NoStore(h http.Header) {
	h["Cache-Control"] = noStoreValue
}

// AddVary adds the token headers to Vary once, keeping what CORS added.
func AddVary(h http.Header) {
	vary := h["Vary"]
	if len(vary) == 0 {
		h["Vary"] = varyValue
		return
	}
	for _, v := range vary {
		if v == varyOnTokens {
			return
		}
	}
	h["Vary"] = append(vary, varyOnTokens)
}
