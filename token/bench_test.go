package token_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokengate/tokengate/auth"
)

// BenchmarkVerifyAccess and BenchmarkParseWithClaimsAlone run side by side so
// the codec's overhead over the bare library is read from one run.
func BenchmarkVerifyAccess(b *testing.B) {
	c, _ := newCodec(b)
	at, _, _ := c.IssueAccess("user-1", "session-1", 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.VerifyAccess(at); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseWithClaimsAlone(b *testing.B) {
	c, clk := newCodec(b)
	at, _, _ := c.IssueAccess("user-1", "session-1", 0)
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

// BenchmarkIssuePair is what every rotation and sign-in signs: an access
// and a refresh token.
func BenchmarkIssuePair(b *testing.B) {
	c, clk := newCodec(b)
	rc := auth.RefreshClaims{UserID: "user-1", SessionID: "session-1", TokenVersion: 1, Generation: 2, ExpiresAt: clk.Now().Add(time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.IssueAccess("user-1", "session-1", 0); err != nil {
			b.Fatal(err)
		}
		if _, err := c.IssueRefresh(rc); err != nil {
			b.Fatal(err)
		}
	}
}
