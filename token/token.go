// Package token issues and verifies tokengate's two JWTs (API.md section 1).
// It is the only package that knows the token format; the domain sees it
// through auth.TokenCodec. token.go signs and verifies, keys.go holds the
// keys and chooses among them by kid, claims.go decodes claims, cache.go
// remembers verified access tokens and jwks.go publishes the public keys.
package token

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokengate/tokengate/auth"
)

const (
	// MaxTokenBytes is the longest token looked at; longer ones are refused
	// before any parsing so a hostile header costs nothing.
	MaxTokenBytes = 8 << 10
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat unless
	// Config.Leeway says otherwise; MaxLeeway is the most allowed.
	DefaultLeeway = 30 * time.Second
	MaxLeeway     = 30 * time.Second
	// NoLeeway, as Config.Leeway, tolerates no skew at all (the zero value
	// means DefaultLeeway).
	NoLeeway time.Duration = -1

	typeAccess  = "at+jwt"
	typeRefresh = "rt+jwt"
)

// Config is what a Codec needs.
type Config struct {
	// AccessAlg is ACCESS_TOKEN_ALG. Empty or HS256: access tokens are
	// signed with AccessSecret. ES256, EdDSA or RS256: with the keys given
	// to SetAccessKeys, which must be called before the first IssueAccess.
	AccessAlg    string
	AccessSecret []byte
	// RefreshSecret signs refresh tokens; RefreshSecrets, older ones, only
	// verify, so the secret can be rotated without signing anyone out.
	// Every secret must differ from the others and from AccessSecret, so
	// one kind of token can never verify as the other even if the typ
	// check were lost.
	RefreshSecret  []byte
	RefreshSecrets [][]byte
	Issuer         string
	Audience       string
	AccessTTL      time.Duration
	// Leeway is the clock skew tolerated on exp, nbf and iat: zero means
	// DefaultLeeway, NoLeeway none, at most MaxLeeway.
	Leeway time.Duration
	// MaxCachedTokens bounds the verified-access-token cache of asymmetric
	// keys; zero means DefaultMaxCachedTokens, a negative value no cache.
	MaxCachedTokens int
	Now             auth.Clock
}

// Codec signs and verifies access and refresh tokens. It is safe for
// concurrent use; SetAccessKeys swaps the access keys under running
// verifications.
type Codec struct {
	cfg           Config
	leeway        time.Duration
	asymmetric    bool
	accessParser  *jwt.Parser
	refreshParser *jwt.Parser
	// Method values bound once, so no closure is allocated per token.
	accessKey, refreshKey jwt.Keyfunc
	access                atomic.Pointer[keySet]
	refresh               *keySet
}

var _ auth.TokenCodec = (*Codec)(nil)

// New returns a Codec. It panics on a configuration that could never be
// safe, since that is a programming error caught at start-up, not per token.
func New(cfg Config) *Codec {
	if cfg.AccessAlg == "" {
		cfg.AccessAlg = HS256
	}
	asymmetric := cfg.AccessAlg != HS256
	switch cfg.AccessAlg {
	case HS256, ES256, EdDSA, RS256:
	default:
		panic("token: unknown access algorithm " + cfg.AccessAlg)
	}
	refresh := append([][]byte{cfg.RefreshSecret}, cfg.RefreshSecrets...)
	secrets := refresh
	if !asymmetric {
		secrets = append([][]byte{cfg.AccessSecret}, refresh...)
	}
	for i, s := range secrets {
		if len(s) < 32 {
			panic("token: secrets must be at least 32 bytes")
		}
		for _, t := range secrets[:i] {
			if string(s) == string(t) {
				panic("token: access and refresh secrets must differ")
			}
		}
	}
	if cfg.Now == nil || cfg.AccessTTL <= 0 || cfg.Issuer == "" || cfg.Audience == "" {
		panic("token: Now, AccessTTL, Issuer and Audience are required")
	}
	leeway := cfg.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway == NoLeeway:
		leeway = 0
	case leeway < 0 || leeway > MaxLeeway:
		panic("token: leeway must be between 0 and 30s")
	}
	parser := func(methods ...string) *jwt.Parser {
		return jwt.NewParser(
			// Pinned: the algorithm a token names never selects the check;
			// the key its kid names must also be of that algorithm.
			jwt.WithValidMethods(methods),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(cfg.Now),
			jwt.WithStrictDecoding(),
		)
	}
	c := &Codec{
		cfg:           cfg,
		leeway:        leeway,
		asymmetric:    asymmetric,
		refreshParser: parser(HS256),
		refresh:       secretSet(typeRefresh, refresh),
	}
	if asymmetric {
		// Every asymmetric algorithm, since keys made under an earlier
		// ACCESS_TOKEN_ALG may still be published; each key verifies
		// only its own.
		c.accessParser = parser(ES256, EdDSA, RS256)
		c.access.Store(&keySet{byID: map[string]*verifyKey{}, jwks: emptyJWKS, etag: etagOf(emptyJWKS)})
	} else {
		c.accessParser = parser(HS256)
		c.access.Store(secretSet(typeAccess, secrets[:1]))
	}
	c.accessKey = c.selectAccessKey
	c.refreshKey = c.selectRefreshKey
	return c
}

// Alg is the algorithm access tokens are signed with.
func (c *Codec) Alg() string { return c.cfg.AccessAlg }

// Leeway is the clock skew the codec tolerates.
func (c *Codec) Leeway() time.Duration { return c.leeway }

// SetAccessKeys replaces the asymmetric access keys at once: from its
// return, tokens are signed with keys.Signer and only tokens of a key in
// keys.Published verify. It refuses a set whose keys do not match their
// algorithm or id, and is an error with HS256, whose one key is the secret.
func (c *Codec) SetAccessKeys(keys AccessKeys) error {
	if !c.asymmetric {
		return errors.New("set access keys: ACCESS_TOKEN_ALG is HS256")
	}
	ks, err := asymmetricSet(keys, c.cfg.MaxCachedTokens)
	if err != nil {
		return fmt.Errorf("set access keys: %w", err)
	}
	c.access.Store(ks)
	return nil
}

// JWKS returns the published public keys as a JWK Set and its entity tag.
// With HS256 the set is empty: a secret is never published.
func (c *Codec) JWKS() (body []byte, etag string) {
	ks := c.access.Load()
	return ks.jwks, ks.etag
}

// PublishedKeyIDs lists the kids of the access keys that verify, sorted.
func (c *Codec) PublishedKeyIDs() []string {
	ks := c.access.Load()
	ids := make([]string, 0, len(ks.byID))
	for id := range ks.byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// selectAccessKey is the access Keyfunc: the key the token's kid names
// among those held, of the token's algorithm, or none.
func (c *Codec) selectAccessKey(t *jwt.Token) (any, error) {
	return selectKey(t, typeAccess, c.access.Load())
}

func (c *Codec) selectRefreshKey(t *jwt.Token) (any, error) {
	return selectKey(t, typeRefresh, c.refresh)
}

// selectKey checks the header and returns the key its kid names. kid only
// chooses among the keys of this set: an unknown one is refused, never
// answered with another key. jku, jwk, x5u and x5c would name a key from
// outside, so a token carrying one is refused outright, and so is a crit
// header, because no extension is understood (RFC 7515 section 4.1.11).
func selectKey(t *jwt.Token, typ string, ks *keySet) (any, error) {
	if got, _ := t.Header["typ"].(string); !strings.EqualFold(got, typ) {
		return nil, errWrongType
	}
	for _, name := range foreignKeyHeaders {
		if _, ok := t.Header[name]; ok {
			return nil, errForeignKey
		}
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, errCritical
	}
	var vk *verifyKey
	if kid, ok := t.Header["kid"]; ok {
		id, _ := kid.(string)
		vk = ks.byID[id]
	} else {
		vk = ks.noKid
	}
	if vk == nil {
		return nil, errUnknownKey
	}
	if t.Method.Alg() != vk.alg {
		return nil, errWrongAlg
	}
	return vk.key, nil
}

var foreignKeyHeaders = []string{"jku", "jwk", "x5u", "x5c"}

var (
	errWrongType  = errors.New("wrong token type")
	errCritical   = errors.New("unsupported critical header")
	errForeignKey = errors.New("key named from outside the key set")
	errUnknownKey = errors.New("unknown kid")
	errWrongAlg   = errors.New("algorithm does not match the key")
	errNoSubject  = errors.New("sub and sid are required")
	errNoSigner   = errors.New("no access signing key installed")
)

// issuedCommon, issuedAccess and issuedRefresh are the claims as issued:
// the members of jwt.RegisteredClaims that tokengate sets, in its order
// and with its encoding (NumericDate as whole seconds, aud as a
// one-element array), then tokengate's own. Plain fields let encoding/json
// write them without the custom marshalers RegisteredClaims calls for each
// date and the audience; TestIssuedClaimsAreRegisteredClaims holds the
// bytes equal. encoding/json writes an embedded struct's fields in its
// place.
type issuedCommon struct {
	Issuer    string    `json:"iss"`
	Subject   string    `json:"sub"`
	Audience  [1]string `json:"aud"`
	ExpiresAt int64     `json:"exp"`
	IssuedAt  int64     `json:"iat"`
	ID        string    `json:"jti"`
	SessionID string    `json:"sid"`
}

type issuedAccess struct {
	issuedCommon
	TokenVersion int64 `json:"ver"`
}

type issuedRefresh struct {
	issuedCommon
	TokenVersion int64 `json:"ver"`
	Generation   int64 `json:"gen"`
}

// issued fills in what every token of this codec carries.
func (c *Codec) issued(sub, sid string, now time.Time, exp int64) issuedCommon {
	return issuedCommon{
		Issuer: c.cfg.Issuer, Subject: sub, Audience: [1]string{c.cfg.Audience},
		ExpiresAt: exp, IssuedAt: now.Unix(), ID: rand.Text(), SessionID: sid,
	}
}

// IssueAccess signs an access token for a session, valid for AccessTTL,
// carrying the user's token counter, with the current key.
func (c *Codec) IssueAccess(userID, sessionID string, tokenVersion int64) (string, time.Time, error) {
	signer := c.access.Load().signer
	if signer == nil {
		return "", time.Time{}, errNoSigner
	}
	now := c.cfg.Now()
	exp := now.Add(c.cfg.AccessTTL).Unix()
	claims := issuedAccess{c.issued(userID, sessionID, now, exp), tokenVersion}
	s, err := sign(signer, &claims)
	return s, time.Unix(exp, 0).UTC(), err
}

// IssueRefresh signs a refresh token for one generation of a session with
// the first refresh secret.
func (c *Codec) IssueRefresh(rc auth.RefreshClaims) (string, error) {
	return sign(c.refresh.signer, &issuedRefresh{
		issuedCommon: c.issued(rc.UserID, rc.SessionID, c.cfg.Now(), rc.ExpiresAt.Unix()),
		TokenVersion: rc.TokenVersion,
		Generation:   rc.Generation,
	})
}

// encodedHeader is the first segment of every token of one key and type,
// as golang-jwt writes it ({"alg":…,"kid":…,"typ":…}), encoded once.
func encodedHeader(alg, kid, typ string) string {
	h, err := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": typ})
	if err != nil {
		panic(err) // a map of strings always encodes
	}
	return base64.RawURLEncoding.EncodeToString(h)
}

// sign assembles header.claims.signature, leaving the signature itself to
// golang-jwt's signing method.
func sign(k *signerKey, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(k.header)+2+enc.EncodedLen(len(payload))+enc.EncodedLen(k.sigLen))
	buf = append(buf, k.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := k.method.Sign(string(buf), k.key)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// VerifyAccess checks an access token's signature, type and claims. It does
// no I/O. An asymmetric token verified once is remembered (cache.go): the
// same string again costs a lookup and the expiry check.
func (c *Codec) VerifyAccess(raw string) (auth.AccessClaims, error) {
	if raw == "" || len(raw) > MaxTokenBytes {
		return auth.AccessClaims{}, errInvalid
	}
	ks := c.access.Load()
	if ks.cache != nil {
		if claims, ok := ks.cache.get(raw); ok {
			if !c.cfg.Now().Before(claims.ExpiresAt.Add(c.leeway)) {
				return auth.AccessClaims{}, errExpired
			}
			return claims, nil
		}
	}
	var claims parsedAccess
	if err := c.parse(c.accessParser, raw, &claims, c.accessKey); err != nil {
		return auth.AccessClaims{}, err
	}
	out := auth.AccessClaims{
		UserID: claims.Subject, SessionID: claims.SessionID, TokenVersion: claims.TokenVersion,
		ExpiresAt: claims.ExpiresAt.date.Time.UTC(),
	}
	if ks.cache != nil {
		ks.cache.put(raw, out, c.cfg.Now())
	}
	return out, nil
}

// AccessLapsed reports whether raw reads as an access token whose exp,
// leeway included, has passed, without checking its signature. Such a token
// can never be valid, whoever signed it, so a caller with something else to
// decide the request by (the refresh token sent alongside) can skip the
// signature: an ES256 verify is the largest single cost of a refresh, and a
// client refreshing sends exactly such a token. Whatever this cannot read is
// not lapsed and goes through VerifyAccess as before.
func (c *Codec) AccessLapsed(raw string) bool {
	if raw == "" || len(raw) > MaxTokenBytes {
		return false
	}
	_, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return false
	}
	payload, _, ok := strings.Cut(rest, ".")
	if !ok {
		return false
	}
	decoded, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return false
	}
	var claims struct {
		ExpiresAt parsedDate `json:"exp"`
	}
	if json.Unmarshal(decoded, &claims) != nil || !claims.ExpiresAt.set {
		return false
	}
	return !c.cfg.Now().Before(claims.ExpiresAt.date.Time.Add(c.leeway))
}

// VerifyRefresh checks a refresh token's signature, type and claims; the
// store decides whether its session and generation are still good.
func (c *Codec) VerifyRefresh(raw string) (auth.RefreshClaims, error) {
	var claims parsedRefresh
	if err := c.parse(c.refreshParser, raw, &claims, c.refreshKey); err != nil {
		return auth.RefreshClaims{}, err
	}
	return auth.RefreshClaims{
		UserID:       claims.Subject,
		SessionID:    claims.SessionID,
		TokenVersion: claims.TokenVersion,
		Generation:   claims.Generation,
		ExpiresAt:    claims.ExpiresAt.date.Time.UTC(),
	}, nil
}

// Sentinel verification failures, shared so the hot path allocates no error.
var (
	errExpired = auth.Unauthenticated(auth.ReasonTokenExpired)
	errInvalid = auth.Unauthenticated(auth.ReasonTokenInvalid)
)

func (c *Codec) parse(p *jwt.Parser, raw string, claims jwt.Claims, key jwt.Keyfunc) error {
	if raw == "" || len(raw) > MaxTokenBytes {
		return errInvalid
	}
	if _, err := p.ParseWithClaims(raw, claims, key); err != nil {
		// The signature is checked before the claims, so "expired" is only
		// ever said of a token this server signed.
		if errors.Is(err, jwt.ErrTokenExpired) {
			return errExpired
		}
		return errInvalid
	}
	return nil
}
