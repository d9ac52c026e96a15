// Package token issues and verifies tokengate's two JWTs (API.md section 1).
// It is the only package that knows the token format; the domain sees it
// through auth.TokenCodec.
package token

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

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
	return &Codec{
		cfg:           cfg,
		accessParser:  parser(),
		refreshParser: parser(),
		accessKey:     keyFor(typeAccess, cfg.AccessSecret),
		refreshKey:    keyFor(typeRefresh, cfg.RefreshSecret),
	}
}

// keyFor returns the one key for one token type. kid, jku, x5u and jwk are
// never consulted, and a crit header is refused because no extension is
// understood (RFC 7515 section 4.1.11).
func keyFor(typ string, secret []byte) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if got, _ := t.Header["typ"].(string); !strings.EqualFold(got, typ) {
			return nil, errWrongType
		}
		if _, ok := t.Header["crit"]; ok {
			return nil, errCritical
		}
		return secret, nil
	}
}

var (
	errWrongType = errors.New("wrong token type")
	errCritical  = errors.New("unsupported critical header")
	errNoSubject = errors.New("sub and sid are required")
)

type accessClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// Validate is called by the parser after the registered claims pass.
func (c *accessClaims) Validate() error {
	if c.Subject == "" || c.SessionID == "" {
		return errNoSubject
	}
	return nil
}

type refreshClaims struct {
	jwt.RegisteredClaims
	SessionID    string `json:"sid"`
	TokenVersion int64  `json:"ver"`
	Generation   int64  `json:"gen"`
}

// Validate is called by the parser after the registered claims pass.
func (c *refreshClaims) Validate() error {
	if c.Subject == "" || c.SessionID == "" {
		return errNoSubject
	}
	return nil
}

// IssueAccess signs an access token for a session, valid for AccessTTL.
func (c *Codec) IssueAccess(userID, sessionID string) (string, time.Time, error) {
	now := c.cfg.Now()
	exp := now.Add(c.cfg.AccessTTL)
	claims := &accessClaims{RegisteredClaims: c.registered(userID, now, exp), SessionID: sessionID}
	s, err := sign(typeAccess, claims, c.cfg.AccessSecret)
	return s, claims.ExpiresAt.Time.UTC(), err
}

// IssueRefresh signs a refresh token for one generation of a session.
func (c *Codec) IssueRefresh(rc auth.RefreshClaims) (string, error) {
	claims := &refreshClaims{
		RegisteredClaims: c.registered(rc.UserID, c.cfg.Now(), rc.ExpiresAt),
		SessionID:        rc.SessionID,
		TokenVersion:     rc.TokenVersion,
		Generation:       rc.Generation,
	}
	return sign(typeRefresh, claims, c.cfg.RefreshSecret)
}

func (c *Codec) registered(sub string, now, exp time.Time) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{
		Issuer:    c.cfg.Issuer,
		Audience:  jwt.ClaimStrings{c.cfg.Audience},
		Subject:   sub,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
		ID:        rand.Text(),
	}
}

func sign(typ string, claims jwt.Claims, secret []byte) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["typ"] = typ
	s, err := t.SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("sign %s: %w", typ, err)
	}
	return s, nil
}

// VerifyAccess checks an access token's signature, type and claims. It does
// no I/O.
func (c *Codec) VerifyAccess(raw string) (auth.AccessClaims, error) {
	var claims accessClaims
	if err := c.parse(c.accessParser, raw, &claims, c.accessKey); err != nil {
		return auth.AccessClaims{}, err
	}
	return auth.AccessClaims{UserID: claims.Subject, SessionID: claims.SessionID, ExpiresAt: claims.ExpiresAt.Time.UTC()}, nil
}

// VerifyRefresh checks a refresh token's signature, type and claims; the
// store decides whether its session and generation are still good.
func (c *Codec) VerifyRefresh(raw string) (auth.RefreshClaims, error) {
	var claims refreshClaims
	if err := c.parse(c.refreshParser, raw, &claims, c.refreshKey); err != nil {
		return auth.RefreshClaims{}, err
	}
	return auth.RefreshClaims{
		UserID:       claims.Subject,
		SessionID:    claims.SessionID,
		TokenVersion: claims.TokenVersion,
		Generation:   claims.Generation,
		ExpiresAt:    claims.ExpiresAt.Time.UTC(),
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
