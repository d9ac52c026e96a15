package token_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/token"
)

// BenchmarkVerifyAccess and BenchmarkParseWithClaimsAlone run side by side so
// the codec's overhead over the bare library is read from one run.
func BenchmarkVerifyAccess(b *testing.B) {
	c, _ := newCodec(b)
	benchVerify(b, c)
}

// BenchmarkSigningAlgVerify is VerifyAccess for each way of signing: the
// alg=ES256 cases are the default's, cache=warm a client sending the same
// token again (a lookup), cache=off the signature check every time. (Its
// name keeps it out of bench/gobench.sh's VerifyAccess pattern.)
func BenchmarkSigningAlgVerify(b *testing.B) {
	b.Run("alg=HS256", func(b *testing.B) {
		c, _ := newCodec(b)
		benchVerify(b, c)
	})
	b.Run("alg=ES256/cache=warm", func(b *testing.B) {
		c, _ := newAsymCodec(b, newKey(b, token.ES256))
		benchVerify(b, c)
	})
	b.Run("alg=ES256/cache=off", func(b *testing.B) {
		benchVerify(b, es256Codec(b, -1))
	})
}

func es256Codec(b *testing.B, maxCached int) *token.Codec {
	k := newKey(b, token.ES256)
	c := token.New(token.Config{AccessAlg: token.ES256, RefreshSecret: refreshSecret, Issuer: "tokengate", Audience: "tokengate",
		AccessTTL: 15 * time.Minute, Now: func() time.Time { return epoch }, MaxCachedTokens: maxCached})
	if err := c.SetAccessKeys(token.AccessKeys{Signer: k.sign, Published: []token.PublicKey{k.pub}}); err != nil {
		b.Fatal(err)
	}
	return c
}

func benchVerify(b *testing.B, c *token.Codec) {
	at, _, err := c.IssueAccess("user-1", "session-1", 0)
	if err != nil {
		b.Fatal(err)
	}
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
// and a refresh token, with each access algorithm.
func BenchmarkIssuePair(b *testing.B) {
	for _, alg := range []string{token.HS256, token.ES256, token.EdDSA, token.RS256} {
		b.Run("alg="+alg, func(b *testing.B) {
			var c *token.Codec
			if alg == token.HS256 {
				c, _ = newCodec(b)
			} else {
				c, _ = newAsymCodec(b, newKey(b, alg))
			}
			rc := auth.RefreshClaims{UserID: "user-1", SessionID: "session-1", TokenVersion: 1, Generation: 2, ExpiresAt: epoch.Add(time.Hour)}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.IssueAccess("user-1", "session-1", 1); err != nil {
					b.Fatal(err)
				}
				if _, err := c.IssueRefresh(rc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAccessLapsed is what validate-tokens spends, on every refresh,
// deciding that the access token beside the refresh token need not be
// signature-checked.
func BenchmarkAccessLapsed(b *testing.B) {
	c := es256Codec(b, -1)
	at, _, err := c.IssueAccess("user-1", "session-1", 0)
	if err != nil {
		b.Fatal(err)
	}
	late := token.New(token.Config{AccessAlg: token.ES256, RefreshSecret: refreshSecret, Issuer: "tokengate", Audience: "tokengate",
		AccessTTL: 15 * time.Minute, Now: func() time.Time { return epoch.Add(time.Hour) }})
	b.ReportAllocs()
	for b.Loop() {
		if !late.AccessLapsed(at) {
			b.Fatal("an hour-old 15-minute token is not lapsed")
		}
	}
}
