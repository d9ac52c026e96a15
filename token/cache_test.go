package token_test

import (
	"encoding/base64"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/token"
)

func bigFromB64(t testing.TB, s string) *big.Int {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return new(big.Int).SetBytes(b)
}

// A cached token is still held to its expiry, leeway included.
func TestCachedTokenStillExpires(t *testing.T) {
	c, clk := newAsymCodec(t, newKey(t, token.ES256))
	at, _, _ := c.IssueAccess("u", "s", 0)
	if _, err := c.VerifyAccess(at); err != nil {
		t.Fatal(err)
	}
	clk.t = epoch.Add(15*time.Minute + token.DefaultLeeway - time.Second)
	if _, err := c.VerifyAccess(at); err != nil {
		t.Fatalf("cached, within leeway: %v", err)
	}
	clk.t = epoch.Add(15*time.Minute + token.DefaultLeeway)
	if _, err := c.VerifyAccess(at); !errors.Is(err, auth.Unauthenticated(auth.ReasonTokenExpired)) {
		t.Fatalf("cached, past leeway: %v, want TOKEN_EXPIRED", err)
	}
}

// A token of a key no longer published fails even though it was cached.
func TestCacheDoesNotOutliveTheKeySet(t *testing.T) {
	a, b := newKey(t, token.ES256), newKey(t, token.ES256)
	c, _ := newAsymCodec(t, a, b)
	at, _, _ := c.IssueAccess("u", "s", 0)
	if _, err := c.VerifyAccess(at); err != nil {
		t.Fatal(err)
	}
	if err := c.SetAccessKeys(token.AccessKeys{Signer: b.sign, Published: []token.PublicKey{b.pub}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyAccess(at); err == nil {
		t.Fatal("a cached token of a retired key verified")
	}
}

// The cache never grows past its bound, however many tokens verify.
func TestCacheIsBounded(t *testing.T) {
	k := newKey(t, token.ES256)
	clk := &clock{t: epoch}
	c := token.New(token.Config{AccessAlg: token.ES256, RefreshSecret: refreshSecret, Issuer: "i", Audience: "a",
		AccessTTL: time.Minute, Now: clk.Now, MaxCachedTokens: 64})
	if err := c.SetAccessKeys(token.AccessKeys{Signer: k.sign, Published: []token.PublicKey{k.pub}}); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		at, _, _ := c.IssueAccess("u", "s", 0)
		if _, err := c.VerifyAccess(at); err != nil {
			t.Fatal(err)
		}
	}
	if n := token.CachedTokens(c); n > 64 || n == 0 {
		t.Fatalf("%d tokens cached, bound 64", n)
	}
}
