// Package token issues and verifies tokengate's two JWTs (API.md section 1).
// It is the only package that knows the token format; the domain sees it
// through auth.TokenCodec.
package token

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokengate/tokengate/auth"
)

const (
	// MaxTokenBytes is the longest token looked at; longer ones are refused
	// before any parsing so a hostile header costs nothing.
	MaxTokenBytes = 8 << 10
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway = 30 * time.Second

	typeAccess  = "at+jwt"
	typeRefresh = "rt+jwt"
)

// Config is what a Codec needs. The two secrets must differ so that one kind
// of token can never verify as the other even if the typ check were lost.
type Config struct {
	AccessSecret  []byte
	RefreshSecret []byte
	Issuer        string
	Audience      string
	AccessTTL     time.Duration
	Now           auth.Clock
}

// Codec signs and verifies access and refresh tokens with HS256 only.
type Codec struct {
	cfg           Config
	accessParser  *jwt.Parser
	refreshParser *jwt.Parser
	accessKey     jwt.Keyfunc
	refreshKey    jwt.Keyfunc
	// Each type's encoded header and its secret, boxed once as the key
	// jwt's Sign and the Keyfunc hand over (boxing a slice on every call
	// would allocate on the hot path).
	accessHeader, refreshHeader string
	accessSecret, refreshSecret any
}

var _ auth.TokenCodec = (*Codec)(nil)

// New returns a Codec. It panics on a configuration that could never be
// safe, since that is a programming error caught at start-up, not per token.
func New(cfg Config) *Codec {
	if len(cfg.AccessSecret) < 32 || len(cfg.RefreshSecret) < 32 {
		panic("token: secrets must be at least 32 bytes")
	}
	if string(cfg.AccessSecret) == string(cfg.RefreshSecret) {
		panic("token: access and refresh secrets must differ")
	}
	if cfg.Now == nil || cfg.AccessTTL <= 0 || cfg.Issuer == "" || cfg.Audience == "" {
		panic("token: Now, AccessTTL, Issuer and Audience are required")
	}
	parser := func() *jwt.Parser {
		return jwt.NewParser(
			// Pinned: the algorithm a token names never selects the check.
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(Leeway),
			jwt.WithTimeFunc(cfg.Now),
			jwt.WithStrictDecoding(),
		)
	}
	var accessSecret, refreshSecret any = cfg.AccessSecret, cfg.RefreshSecret
	return &Codec{
		cfg:           cfg,
		accessParser:  parser(),
		refreshParser: parser(),
		accessKey:     keyFor(typeAccess, accessSecret),
		refreshKey:    keyFor(typeRefresh, refreshSecret),
		accessHeader:  encodedHeader(typeAccess),
		refreshHeader: encodedHeader(typeRefresh),
		accessSecret:  accessSecret,
		refreshSecret: refreshSecret,
	}
}

// keyFor returns the one key for one token type. kid, jku, x5u and jwk are
// never consulted, and a crit header is refused because no extension is
// understood (RFC 7515 section 4.1.11).
func keyFor(typ string, key any) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if got, _ := t.Header["typ"].(string); !strings.EqualFold(got, typ) {
			return nil, errWrongType
		}
		if _, ok := t.Header["crit"]; ok {
			return nil, errCritical
		}
		return key, nil
	}
}

var (
	errWrongType = errors.New("wrong token type")
	errCritical  = errors.New("unsupported critical header")
	errNoSubject = errors.New("sub and sid are required")
)

// issuedAccess and issuedRefresh are the claims as issued: the members of
// jwt.RegisteredClaims that tokengate sets, in its order and with its
// encoding (NumericDate as whole seconds, aud as a one-element array),
// then tokengate's own. Plain fields let encoding/json write them without
// the custom marshalers RegisteredClaims calls for each date and the
// audience; TestIssuedClaimsAreRegisteredClaims holds the bytes equal.
// encoding/json writes an embedded struct's fields in its place.
type issuedAccess struct {
	Issuer    string    `json:"iss"`
	Subject   string    `json:"sub"`
	Audience  [1]string `json:"aud"`
	ExpiresAt int64     `json:"exp"`
	IssuedAt  int64     `json:"iat"`
	ID        string    `json:"jti"`
	SessionID string    `json:"sid"`
}

type issuedRefresh struct {
	issuedAccess
	TokenVersion int64 `json:"ver"`
	Generation   int64 `json:"gen"`
}

// issued fills in what every token of this codec carries.
func (c *Codec) issued(sub, sid string, now time.Time, exp int64) issuedAccess {
	return issuedAccess{
		Issuer: c.cfg.Issuer, Subject: sub, Audience: [1]string{c.cfg.Audience},
		ExpiresAt: exp, IssuedAt: now.Unix(), ID: rand.Text(), SessionID: sid,
	}
}

// IssueAccess signs an access token for a session, valid for AccessTTL.
func (c *Codec) IssueAccess(userID, sessionID string) (string, time.Time, error) {
	now := c.cfg.Now()
	exp := now.Add(c.cfg.AccessTTL).Unix()
	claims := c.issued(userID, sessionID, now, exp)
	s, err := sign(c.accessHeader, &claims, c.accessSecret)
	return s, time.Unix(exp, 0).UTC(), err
}

// IssueRefresh signs a refresh token for one generation of a session.
func (c *Codec) IssueRefresh(rc auth.RefreshClaims) (string, error) {
	return sign(c.refreshHeader, &issuedRefresh{
		issuedAccess: c.issued(rc.UserID, rc.SessionID, c.cfg.Now(), rc.ExpiresAt.Unix()),
		TokenVersion: rc.TokenVersion,
		Generation:   rc.Generation,
	}, c.refreshSecret)
}

// encodedHeader is the first segment of every token of one type, as
// golang-jwt writes it ({"alg":"HS256","typ":...}), encoded once.
func encodedHeader(typ string) string {
	h, err := json.Marshal(map[string]string{"alg": jwt.SigningMethodHS256.Alg(), "typ": typ})
	if err != nil {
		panic(err) // a map of strings always encodes
	}
	return base64.RawURLEncoding.EncodeToString(h)
}

// sign assembles header.claims.signature, leaving the HMAC to golang-jwt's
// HS256.
func sign(header string, claims any, secret any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(header)+2+enc.EncodedLen(len(payload))+enc.EncodedLen(sha256.Size))
	buf = append(buf, header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := jwt.SigningMethodHS256.Sign(string(buf), secret)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// VerifyAccess checks an access token's signature, type and claims. It does
// no I/O.
func (c *Codec) VerifyAccess(raw string) (auth.AccessClaims, error) {
	var claims parsedAccess
	if err := c.parse(c.accessParser, raw, &claims, c.accessKey); err != nil {
		return auth.AccessClaims{}, err
	}
	return auth.AccessClaims{UserID: claims.Subject, SessionID: claims.SessionID, ExpiresAt: claims.ExpiresAt.date.Time.UTC()}, nil
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

// parsedRegistered holds the registered claims as verification reads them:
// the JSON names and meaning of jwt.RegisteredClaims, validated by the same
// parser options, but the dates and the audience are decoded in place.
// The library's NumericDate and ClaimStrings each take a second
// json.Unmarshal, through json.Number or an interface{}, and between them
// cost about fifteen allocations per token; the access token is checked on
// every request. Only the forms this codec writes take the short way (a
// plain integer date, a single plain-string audience); anything else is
// handed to the library's own decoder, so what is accepted and what it
// means stay exactly the library's.
type parsedRegistered struct {
	Issuer    string          `json:"iss"`
	Subject   string          `json:"sub"`
	Audience  parsedAudience  `json:"aud"`
	ExpiresAt parsedDate      `json:"exp"`
	NotBefore parsedDate      `json:"nbf"`
	IssuedAt  parsedDate      `json:"iat"`
	ID        unreadStringish `json:"jti"`
}

// The jwt.Claims getters, answered from the decoded fields without copying.
func (c *parsedRegistered) GetExpirationTime() (*jwt.NumericDate, error) {
	return c.ExpiresAt.get(), nil
}
func (c *parsedRegistered) GetIssuedAt() (*jwt.NumericDate, error)  { return c.IssuedAt.get(), nil }
func (c *parsedRegistered) GetNotBefore() (*jwt.NumericDate, error) { return c.NotBefore.get(), nil }
func (c *parsedRegistered) GetIssuer() (string, error)              { return c.Issuer, nil }
func (c *parsedRegistered) GetSubject() (string, error)             { return c.Subject, nil }
func (c *parsedRegistered) GetAudience() (jwt.ClaimStrings, error)  { return c.Audience.list, nil }

type parsedAccess struct {
	parsedRegistered
	SessionID string `json:"sid"`
}

type parsedRefresh struct {
	parsedRegistered
	SessionID    string `json:"sid"`
	TokenVersion int64  `json:"ver"`
	Generation   int64  `json:"gen"`
}

var (
	_ jwt.ClaimsValidator = (*parsedAccess)(nil)
	_ jwt.ClaimsValidator = (*parsedRefresh)(nil)
)

// Validate is called by the parser after the registered claims pass.
func (c *parsedAccess) Validate() error {
	if c.Subject == "" || c.SessionID == "" {
		return errNoSubject
	}
	return nil
}

// Validate is called by the parser after the registered claims pass.
func (c *parsedRefresh) Validate() error {
	if c.Subject == "" || c.SessionID == "" {
		return errNoSubject
	}
	return nil
}

// parsedDate is a NumericDate claim (exp, nbf, iat).
type parsedDate struct {
	date jwt.NumericDate
	set  bool
}

// UnmarshalJSON reads a plain integer directly and hands every other form
// (fraction, exponent, quoted number, garbage) to jwt.NumericDate.
func (d *parsedDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		// Absent, as null leaves RegisteredClaims' *NumericDate nil.
		*d = parsedDate{}
		return nil
	}
	if secs, ok := plainSeconds(b); ok {
		// What the library computes for an integer: its float64 detour is
		// exact below 2^53, and it truncates to jwt.TimePrecision.
		d.date = jwt.NumericDate{Time: time.Unix(secs, 0).Truncate(jwt.TimePrecision)}
		d.set = true
		return nil
	}
	var lib jwt.NumericDate
	if err := lib.UnmarshalJSON(b); err != nil {
		return err
	}
	d.date, d.set = lib, true
	return nil
}

// get returns the date for the validator, nil when the claim is absent.
func (d *parsedDate) get() *jwt.NumericDate {
	if !d.set {
		return nil
	}
	return &d.date
}

// plainSeconds reads a JSON integer of 1 to 15 digits with no sign and no
// leading zero, which a float64 holds exactly.
func plainSeconds(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parsedAudience is the aud claim. one backs list when the claim is a
// single string, so reading it allocates only the string.
type parsedAudience struct {
	list jwt.ClaimStrings
	one  [1]string
}

// UnmarshalJSON reads a single plain string, alone or as the only element
// of an array, directly, and hands every other form to jwt.ClaimStrings.
func (a *parsedAudience) UnmarshalJSON(b []byte) error {
	inner := b
	if len(inner) >= 2 && inner[0] == '[' && inner[len(inner)-1] == ']' {
		inner = inner[1 : len(inner)-1]
	}
	if s, ok := plainString(inner); ok {
		a.one[0] = s
		a.list = a.one[:]
		return nil
	}
	return a.list.UnmarshalJSON(b)
}

// plainString returns the contents of a JSON string that needs no
// unescaping: no backslash, no inner quote (so b is one string, not a list
// of them), and valid UTF-8 (which encoding/json would otherwise repair).
// encoding/json has already checked that b is valid JSON.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	s := b[1 : len(b)-1]
	if bytes.IndexByte(s, '"') >= 0 || bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) {
		return "", false
	}
	return string(s), true
}

// unreadStringish is a claim verification never reads (jti). It is still
// held to be a string or null, as RegisteredClaims' string field would
// be, but without keeping a copy.
type unreadStringish struct{}

var errNotString = errors.New("claim is not a string")

// UnmarshalJSON accepts what decoding into a string accepts.
func (*unreadStringish) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && (b[0] == '"' || string(b) == "null") {
		return nil
	}
	return errNotString
}
