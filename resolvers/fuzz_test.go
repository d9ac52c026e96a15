package resolvers_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/resolvers"
)

// FuzzGraphQLRequest sends raw bodies to the GraphQL handler over the real
// service and store. Whatever the body, the answer is never a 5xx nor a
// panic, and it is always a GraphQL-shaped JSON response.
func FuzzGraphQLRequest(f *testing.F) {
	st := testserver.NewStack(f, testserver.Options{})
	limits := resolvers.DefaultLimits()
	limits.MaxBodyBytes = 64 << 10 // keeps the fuzzer on parsing, not copying
	h := resolvers.NewHandler(st.Service, st.Recovery, st.Logger, limits)

	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		var res struct {
			Errors []struct {
				Message    string         `json:"message"`
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("response is not JSON: %v: %s", err, rec.Body)
		}
		if rec.Code != http.StatusOK && len(res.Errors) == 0 {
			t.Fatalf("status %d without errors: %s", rec.Code, rec.Body)
		}
		for _, e := range res.Errors {
			if e.Extensions["code"] == nil {
				t.Fatalf("error without a code: %s", rec.Body)
			}
			if e.Extensions["code"] == "INTERNAL" {
				t.Fatalf("INTERNAL for %q: %s", body, rec.Body)
			}
		}
	})
}
