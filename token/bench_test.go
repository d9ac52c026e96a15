package token_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkVerifyAccess and BenchmarkParseWithClaimsAlone run side by side so
// the codec's overhead over the bare library is read from one run.
func BenchmarkVerifyAccess(b *testing.B) {
	c, _ := newCodec(b)
	at, _, _ := c.IssueAccess("user-1", "session-1")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.VerifyAccess(at); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseWithClaimsAlone(b *testing.B) {
	c, clk := newCodec(b)
	at, _, _ := c.IssueAccess("user-1", "session-1")
	p := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(clk.Now))
	key := func(*jwt.Token) (any, error) { return accessSecret, nil }
	b.ReportAllocs()
	for b.Loop() {
		var claims jwt.RegisteredClaims
		if _, err := p.ParseWithClaims(at, &claims, key); err != nil {
			b.Fatal(err)
		}
	}
}
