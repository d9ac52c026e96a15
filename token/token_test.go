package token_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/token"
)

var (
	accessSecret  = []byte("access-secret-access-secret-0123456789")
	refreshSecret = []byte("refresh-secret-refresh-secret-0123456789")
	epoch         = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func newCodec(t testing.TB) (*token.Codec, *clock) {
	t.Helper()
	clk := &clock{t: epoch}
	return token.New(token.Config{
		AccessSecret:  accessSecret,
		RefreshSecret: refreshSecret,
		Issuer:        "tokengate",
		Audience:      "tokengate",
		AccessTTL:     15 * time.Minute,
		Now:           clk.Now,
	}), clk
}

func b64(v any) string {
	var raw []byte
	switch v := v.(type) {
	case string:
		raw = []byte(v)
	default:
		raw, _ = json.Marshal(v)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// forge builds a token from raw JSON parts, signed with HS-family key when
// given, so each test controls every byte a hostile client could.
func forge(header, claims any, method jwt.SigningMethod, key any) string {
	signing := b64(header) + "." + b64(claims)
	if method == nil {
		return signing + "."
	}
	sig, err := method.Sign(signing, key)
	if err != nil {
		panic(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func accessHeader() map[string]any { return map[string]any{"alg": "HS256", "typ": "at+jwt"} }

func accessClaims() map[string]any {
	return map[string]any{
		"iss": "tokengate", "aud": "tokengate", "sub": "user-1", "sid": "session-1",
		"iat": epoch.Unix(), "exp": epoch.Add(15 * time.Minute).Unix(), "jti": "j",
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestIssuedTokensVerify(t *testing.T) {
	c, _ := newCodec(t)
	at, exp, err := c.IssueAccess("user-1", "session-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.VerifyAccess(at)
	if err != nil {
		t.Fatalf("VerifyAccess(own token) = %v", err)
	}
	if got.UserID != "user-1" || got.SessionID != "session-1" || !got.ExpiresAt.Equal(exp) {
		t.Errorf("claims = %+v, exp %v", got, exp)
	}
	if !exp.Equal(epoch.Add(15 * time.Minute)) {
		t.Errorf("access expiry = %v, want now+15m", exp)
	}

	rt, err := c.IssueRefresh(auth.RefreshClaims{UserID: "user-1", SessionID: "session-1", TokenVersion: 3, Generation: 7, ExpiresAt: epoch.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.VerifyRefresh(rt)
	if err != nil {
		t.Fatalf("VerifyRefresh(own token) = %v", err)
	}
	want := auth.RefreshClaims{UserID: "user-1", SessionID: "session-1", TokenVersion: 3, Generation: 7, ExpiresAt: epoch.Add(time.Hour)}
	if rc != want {
		t.Errorf("refresh claims = %+v, want %+v", rc, want)
	}
}

func TestTokensCarryOnlyTheContractClaims(t *testing.T) {
	c, _ := newCodec(t)
	at, _, _ := c.IssueAccess("user-1", "session-1", 0)
	rt, _ := c.IssueRefresh(auth.RefreshClaims{UserID: "u", SessionID: "s", TokenVersion: 1, Generation: 1, ExpiresAt: epoch.Add(time.Hour)})
	for name, tc := range map[string]struct {
		raw    string
		typ    string
		claims []string
	}{
		"access":  {at, "at+jwt", []string{"iss", "aud", "sub", "sid", "ver", "iat", "exp", "jti"}},
		"refresh": {rt, "rt+jwt", []string{"iss", "aud", "sub", "sid", "ver", "gen", "iat", "exp", "jti"}},
	} {
		parts := strings.Split(tc.raw, ".")
		var header, claims map[string]any
		mustDecode(t, parts[0], &header)
		mustDecode(t, parts[1], &claims)
		if header["alg"] != "HS256" || header["typ"] != tc.typ || header["kid"] == "" || len(header) != 3 {
			t.Errorf("%s header = %v", name, header)
		}
		if len(claims) != len(tc.claims) {
			t.Errorf("%s claims = %v, want exactly %v", name, claims, tc.claims)
		}
		for _, k := range tc.claims {
			if _, ok := claims[k]; !ok {
				t.Errorf("%s lacks claim %q", name, k)
			}
		}
	}
}

func mustDecode(t *testing.T, part string, v any) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

func TestForgedAccessTokensAreRejected(t *testing.T) {
	c, _ := newCodec(t)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	valid := forge(accessHeader(), accessClaims(), jwt.SigningMethodHS256, accessSecret)
	if _, err := c.VerifyAccess(valid); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
	parts := strings.Split(valid, ".")
	flipped := []byte(parts[2])
	flipped[3] ^= 0x01

	cases := map[string]string{
		"alg none":                  forge(with(accessHeader(), "alg", "none"), accessClaims(), nil, nil),
		"alg None":                  forge(with(accessHeader(), "alg", "None"), accessClaims(), nil, nil),
		"alg NONE":                  forge(with(accessHeader(), "alg", "NONE"), accessClaims(), nil, nil),
		"alg nOnE":                  forge(with(accessHeader(), "alg", "nOnE"), accessClaims(), nil, nil),
		"alg none with signature":   b64(with(accessHeader(), "alg", "none")) + "." + parts[1] + "." + parts[2],
		"alg HS256 empty sig":       parts[0] + "." + parts[1] + ".",
		"alg HS384":                 forge(with(accessHeader(), "alg", "HS384"), accessClaims(), jwt.SigningMethodHS384, accessSecret),
		"alg HS512":                 forge(with(accessHeader(), "alg", "HS512"), accessClaims(), jwt.SigningMethodHS512, accessSecret),
		"alg ES256":                 forge(with(accessHeader(), "alg", "ES256"), accessClaims(), jwt.SigningMethodES256, ecKey),
		"wrong secret":              forge(accessHeader(), accessClaims(), jwt.SigningMethodHS256, []byte("not-the-secret-not-the-secret-000000")),
		"refresh secret":            forge(accessHeader(), accessClaims(), jwt.SigningMethodHS256, refreshSecret),
		"typ rt+jwt":                forge(with(accessHeader(), "typ", "rt+jwt"), accessClaims(), jwt.SigningMethodHS256, accessSecret),
		"typ JWT":                   forge(with(accessHeader(), "typ", "JWT"), accessClaims(), jwt.SigningMethodHS256, accessSecret),
		"typ missing":               forge(with(accessHeader(), "typ", nil), accessClaims(), jwt.SigningMethodHS256, accessSecret),
		"crit header":               forge(with(accessHeader(), "crit", []string{"exp"}), accessClaims(), jwt.SigningMethodHS256, accessSecret),
		"wrong iss":                 forge(accessHeader(), with(accessClaims(), "iss", "evil"), jwt.SigningMethodHS256, accessSecret),
		"missing iss":               forge(accessHeader(), with(accessClaims(), "iss", nil), jwt.SigningMethodHS256, accessSecret),
		"wrong aud":                 forge(accessHeader(), with(accessClaims(), "aud", "other"), jwt.SigningMethodHS256, accessSecret),
		"missing aud":               forge(accessHeader(), with(accessClaims(), "aud", nil), jwt.SigningMethodHS256, accessSecret),
		"missing exp":               forge(accessHeader(), with(accessClaims(), "exp", nil), jwt.SigningMethodHS256, accessSecret),
		"exp as string":             forge(accessHeader(), with(accessClaims(), "exp", "2099-01-01"), jwt.SigningMethodHS256, accessSecret),
		"missing sub":               forge(accessHeader(), with(accessClaims(), "sub", nil), jwt.SigningMethodHS256, accessSecret),
		"empty sub":                 forge(accessHeader(), with(accessClaims(), "sub", ""), jwt.SigningMethodHS256, accessSecret),
		"missing sid":               forge(accessHeader(), with(accessClaims(), "sid", nil), jwt.SigningMethodHS256, accessSecret),
		"nbf beyond leeway":         forge(accessHeader(), with(accessClaims(), "nbf", epoch.Add(time.Minute).Unix()), jwt.SigningMethodHS256, accessSecret),
		"iat beyond leeway":         forge(accessHeader(), with(accessClaims(), "iat", epoch.Add(time.Minute).Unix()), jwt.SigningMethodHS256, accessSecret),
		"flipped signature bit":     parts[0] + "." + parts[1] + "." + string(flipped),
		"padded segments":           parts[0] + "==." + parts[1] + "." + parts[2],
		"std base64 alphabet":       strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/",
		"four segments":             valid + "." + parts[2],
		"two segments":              parts[0] + "." + parts[1],
		"100000 dots":               strings.Repeat(".", 100000),
		"dots within 8KiB":          strings.Repeat(".", token.MaxTokenBytes),
		"over 8KiB":                 valid + strings.Repeat("A", token.MaxTokenBytes),
		"empty":                     "",
		"not a jwt":                 "hello",
		"non UTF-8":                 "\xff\xfe." + parts[1] + "." + parts[2],
		"claims array":              b64(accessHeader()) + "." + b64("[1,2]") + "." + parts[2],
		"header not JSON":           b64("{") + "." + parts[1] + "." + parts[2],
		"whitespace around":         " " + valid + " ",
		"bearer prefix kept":        "Bearer " + valid,
		"refresh token as access":   issueRefresh(t, c),
		"exp expired beyond leeway": forge(accessHeader(), with(accessClaims(), "exp", epoch.Add(-31*time.Second).Unix()), jwt.SigningMethodHS256, accessSecret),
	}
	// 1e309 cannot be produced by json.Marshal; write the claims by hand.
	cases["exp 1e309"] = signRaw(b64(accessHeader())+"."+b64(`{"iss":"tokengate","aud":"tokengate","sub":"u","sid":"s","iat":1893553445,"exp":1e309}`), accessSecret)
	cases["non-canonical base64"] = nonCanonical(valid)

	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := c.VerifyAccess(raw)
			var ae *auth.Error
			if !errors.As(err, &ae) || ae.Code != auth.CodeUnauthenticated {
				t.Fatalf("VerifyAccess = %v, want UNAUTHENTICATED", err)
			}
			wantReason := auth.ReasonTokenInvalid
			if name == "exp expired beyond leeway" {
				wantReason = auth.ReasonTokenExpired
			}
			if ae.Reason != wantReason {
				t.Errorf("reason = %s, want %s", ae.Reason, wantReason)
			}
		})
	}
}

func signRaw(signing string, key []byte) string {
	sig, err := jwt.SigningMethodHS256.Sign(signing, key)
	if err != nil {
		panic(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// nonCanonical changes the unused low bits of the signature's last
// character, which lax decoders accept as the same bytes.
func nonCanonical(valid string) string {
	last := valid[len(valid)-1]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, last)
	// A 32-byte HMAC encodes to 43 characters; the last carries 4 bits and 2
	// unused ones.
	return valid[:len(valid)-1] + string(alphabet[i^1])
}

func issueRefresh(t *testing.T, c *token.Codec) string {
	t.Helper()
	rt, err := c.IssueRefresh(auth.RefreshClaims{UserID: "user-1", SessionID: "session-1", TokenVersion: 1, Generation: 1, ExpiresAt: epoch.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func TestAccessTokenIsNeverARefreshToken(t *testing.T) {
	c, _ := newCodec(t)
	at, _, _ := c.IssueAccess("user-1", "session-1", 0)
	if _, err := c.VerifyRefresh(at); err == nil {
		t.Fatal("access token accepted as a refresh token")
	}
	// Even signed with the refresh secret, the typ still says access.
	forged := forge(accessHeader(), with(accessClaims(), "ver", 0, "gen", 1), jwt.SigningMethodHS256, refreshSecret)
	if _, err := c.VerifyRefresh(forged); err == nil {
		t.Fatal("at+jwt typed token accepted as a refresh token")
	}
}

func TestExpiryHonoursLeeway(t *testing.T) {
	c, clk := newCodec(t)
	at, _, _ := c.IssueAccess("user-1", "session-1", 0)
	clk.t = epoch.Add(15*time.Minute + token.DefaultLeeway - time.Second)
	if _, err := c.VerifyAccess(at); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	clk.t = epoch.Add(15*time.Minute + token.DefaultLeeway + time.Second)
	_, err := c.VerifyAccess(at)
	if !errors.Is(err, auth.Unauthenticated(auth.ReasonTokenExpired)) {
		t.Fatalf("past leeway: %v, want TOKEN_EXPIRED", err)
	}
}

// AccessLapsed answers from exp alone, leeway included, and is false for
// anything it cannot read, so only a token that VerifyAccess would refuse
// anyway skips the signature.
func TestAccessLapsedReadsOnlyExpiry(t *testing.T) {
	c, clk := newCodec(t)
	at, _, _ := c.IssueAccess("user-1", "session-1", 0)
	expired := epoch.Add(-time.Hour).Unix()
	unsigned := forge(accessHeader(), with(accessClaims(), "exp", expired), jwt.SigningMethodHS256, []byte("not the secret"))
	for _, tc := range []struct {
		name string
		raw  string
		at   time.Time
		want bool
	}{
		{"a fresh token", at, epoch, false},
		{"within the leeway", at, epoch.Add(15*time.Minute + token.DefaultLeeway - time.Second), false},
		{"past the leeway", at, epoch.Add(15*time.Minute + token.DefaultLeeway + time.Second), true},
		{"expired under a wrong signature", unsigned, epoch, true},
		{"no exp", forge(accessHeader(), with(accessClaims(), "exp", nil), jwt.SigningMethodHS256, accessSecret), epoch, false},
		{"exp not a date", forge(accessHeader(), with(accessClaims(), "exp", "soon"), jwt.SigningMethodHS256, accessSecret), epoch, false},
		{"payload not base64url", "eyJhbGciOiJIUzI1NiJ9.e30+.sig", epoch, false},
		{"two segments", "a.b", epoch, false},
		{"empty", "", epoch, false},
		{"too long", unsigned + strings.Repeat("A", token.MaxTokenBytes), epoch, false},
	} {
		clk.t = tc.at
		if got := c.AccessLapsed(tc.raw); got != tc.want {
			t.Errorf("%s: AccessLapsed = %v, want %v", tc.name, got, tc.want)
		}
		if c.AccessLapsed(tc.raw) {
			if _, err := c.VerifyAccess(tc.raw); err == nil {
				t.Errorf("%s: lapsed, yet it verifies", tc.name)
			}
		}
	}
}

func TestKeyHeadersNeverSelectOrFetchAKey(t *testing.T) {
	var fetched atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fetched.Add(1) }))
	defer srv.Close()
	c, _ := newCodec(t)
	for name, header := range map[string]map[string]any{
		"kid path":   with(accessHeader(), "kid", "../../dev/null"),
		"kid sql":    with(accessHeader(), "kid", "' OR 1=1 --"),
		"kid 10KB":   with(accessHeader(), "kid", strings.Repeat("k", 6000)),
		"jku":        with(accessHeader(), "jku", srv.URL),
		"x5u":        with(accessHeader(), "x5u", srv.URL),
		"jwk inline": with(accessHeader(), "jwk", map[string]any{"kty": "oct", "k": b64("attacker-key-attacker-key-attacker!!")}),
	} {
		t.Run(name, func(t *testing.T) {
			// Signed with the real key: an unknown kid, or a header naming
			// a key from outside, is refused all the same (API.md v2).
			good := forge(header, accessClaims(), jwt.SigningMethodHS256, accessSecret)
			if _, err := c.VerifyAccess(good); !errors.Is(err, auth.Unauthenticated(auth.ReasonTokenInvalid)) {
				t.Errorf("VerifyAccess = %v, want TOKEN_INVALID", err)
			}
			// Signed with the key the header points at: refused.
			evil := forge(header, accessClaims(), jwt.SigningMethodHS256, []byte("attacker-key-attacker-key-attacker!!"))
			if _, err := c.VerifyAccess(evil); err == nil {
				t.Error("token signed with the header's key accepted")
			}
		})
	}
	if n := fetched.Load(); n != 0 {
		t.Fatalf("the key URL was fetched %d times", n)
	}
}

func TestNewRefusesUnsafeConfig(t *testing.T) {
	for name, cfg := range map[string]token.Config{
		"short secret": {AccessSecret: []byte("short"), RefreshSecret: refreshSecret, Issuer: "i", Audience: "a", AccessTTL: time.Minute, Now: time.Now},
		"same secrets": {AccessSecret: accessSecret, RefreshSecret: accessSecret, Issuer: "i", Audience: "a", AccessTTL: time.Minute, Now: time.Now},
		"no clock":     {AccessSecret: accessSecret, RefreshSecret: refreshSecret, Issuer: "i", Audience: "a", AccessTTL: time.Minute},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			token.New(cfg)
		})
	}
}
