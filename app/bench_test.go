package app_test

import (
	"context"
	"io"
	"testing"

	"github.com/tokengate/tokengate/app"
	"github.com/tokengate/tokengate/config"
)

// BenchmarkAccessPath is the access path's cost with the revocation view
// (Service.Authenticate) against the token check alone (VerifyAccess), for
// each algorithm: the view's lookup must cost at most 5% more.
//
//	go test -run '^$' -bench AccessPath -benchmem -count 10 ./app | benchstat -col /check -
func BenchmarkAccessPath(b *testing.B) {
	for _, alg := range []string{"HS256", "ES256"} {
		env := map[string]string{"DATABASE_URL": "sqlite::memory:", "BCRYPT_COST": "4", "ACCESS_TOKEN_ALG": alg,
			"ACCESS_TOKEN_SECRET": "bench-access-secret-0123456789abcdef", "REFRESH_TOKEN_SECRET": "bench-refresh-secret-0123456789abcdef"}
		cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		a, err := app.New(context.Background(), cfg, app.WithLogger(app.NewLogger(cfg, io.Discard)))
		if err != nil {
			b.Fatal(err)
		}
		defer a.Close()
		tok, err := a.Service().Register(context.Background(), "bench@example.com", "correct horse battery", "B")
		if err != nil {
			b.Fatal(err)
		}
		svc, ctx := a.Service(), context.Background()
		b.Run("alg="+alg+"/check=token", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.VerifyAccess(tok.AccessToken); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("alg="+alg+"/check=token+view", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Authenticate(ctx, tok.AccessToken); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
