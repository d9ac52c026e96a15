package middleware_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
	"github.com/tokengate/tokengate/middleware"
	"github.com/tokengate/tokengate/token"
)

var (
	benchAccessSecret  = []byte("bench-access-secret-bench-access-secret")
	benchRefreshSecret = []byte("bench-refresh-secret-bench-refresh-secret")
	benchEpoch         = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

// BenchmarkValidateTokensAccess measures the hot path of API.md section 2,
// a request with a valid access token, through a real chi router, the
// production *auth.Service and a trivial handler. Its sibling
// ParseWithClaimsAlone is golang-jwt verifying the same token with nothing
// around it (the same baseline as token's BenchmarkParseWithClaimsAlone),
// so the middleware's overhead is a ratio read from one run:
//
//	go test -run '^$' -bench ValidateTokensAccess -benchmem -count 10 ./middleware | benchstat -col /path -
//
// Both also report cpu-ns/op, the process's CPU time per iteration. On a
// shared machine the wall time of a loop includes the time it waited for a
// core while a neighbour ran; its CPU time does not, so cpu-ns/op is the
// steadier figure of what a request costs (bench/gobench.sh compares both).
func BenchmarkValidateTokensAccess(b *testing.B) {
	clk := func() time.Time { return benchEpoch }
	codec := token.New(token.Config{
		AccessSecret:  benchAccessSecret,
		RefreshSecret: benchRefreshSecret,
		Issuer:        "tokengate",
		Audience:      "tokengate",
		AccessTTL:     15 * time.Minute,
		Now:           clk,
	})
	policy := auth.DefaultPolicy()
	policy.BcryptCost = 4 // only NewService's dummy hash; no password is checked here
	// A nil store: the access path must never reach it, and would panic if
	// it did.
	svc, err := auth.NewService(nil, codec, policy, auth.Limits{}, clk, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	at, _, err := codec.IssueAccess("0b0e54a6-8d4c-4a51-9d1c-5f0a3c2e7b91", "6f1d2c3b-4a59-4e68-b7a6-9c8d7e6f5a4b", 0)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("path=middleware", func(b *testing.B) {
		r := chi.NewRouter()
		r.Use(middleware.ValidateTokens(svc, func(w http.ResponseWriter, _ *http.Request, err error) {
			b.Errorf("ErrorWriter called on the access path: %v", err)
			w.WriteHeader(http.StatusInternalServerError)
		}))
		r.Post("/graphql", func(w http.ResponseWriter, r *http.Request) {
			if !auth.CallerFromContext(r.Context()).Authenticated() {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
		// The request is built once: making it is the server's cost, not
		// the middleware's, which never modifies it (WithContext copies).
		req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		req.Header.Set(edge.HeaderAccessToken, at)
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != http.StatusNoContent {
				b.Fatalf("status %d, want 204", w.Code)
			}
		}
	})

	b.Run("path=ParseWithClaimsAlone", func(b *testing.B) {
		p := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(clk))
		key := func(*jwt.Token) (any, error) { return benchAccessSecret, nil }
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			var claims jwt.RegisteredClaims
			if _, err := p.ParseWithClaims(at, &claims, key); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU starts measuring the process's CPU time; the function it
// returns, deferred until the loop is over, reports it per iteration as
// cpu-ns/op.
func reportCPU(b *testing.B) func() {
	start, ok := processCPU()
	return func() {
		end, ok2 := processCPU()
		if ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
