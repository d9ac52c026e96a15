package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The token claims, field for field and in the same order as tokengate's
// (token/token.go), so the JSON inside the tokens has the same layout.
type accessClaims struct {
	jwt.RegisteredClaims
	SessionID    string `json:"sid"`
	TokenVersion int64  `json:"ver"`
}

type refreshClaims struct {
	jwt.RegisteredClaims
	SessionID    string `json:"sid"`
	TokenVersion int64  `json:"ver"`
	Generation   int64  `json:"gen"`
}

// Validate holds both kinds to a subject and a session, as tokengate does.
func (c *accessClaims) Validate() error  { return needSubject(c.Subject, c.SessionID) }
func (c *refreshClaims) Validate() error { return needSubject(c.Subject, c.SessionID) }

func needSubject(sub, sid string) error {
	if sub == "" || sid == "" {
		return errors.New("sub and sid are required")
	}
	return nil
}

// newParser checks what tokengate's codec checks: the pinned algorithm,
// issuer, audience, a required exp, iat not in the future, 30s of leeway.
func (f *floor) newParser() *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(f.cfg.issuer),
		jwt.WithAudience(f.cfg.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
		jwt.WithStrictDecoding(),
	)
}

// keyFor returns the one key of one token type, refusing the other type
// and critical headers, as tokengate's keyfunc does.
func keyFor(typ string, secret []byte) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if got, _ := t.Header["typ"].(string); !strings.EqualFold(got, typ) {
			return nil, errors.New("wrong token type")
		}
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("unsupported critical header")
		}
		return secret, nil
	}
}

const maxTokenBytes = 8 << 10

// verifyAccess returns the caller of a valid access token.
func (f *floor) verifyAccess(raw string) (caller, bool) {
	if len(raw) > maxTokenBytes {
		return caller{}, false
	}
	if f.accessCodec != nil {
		c, err := f.accessCodec.VerifyAccess(raw)
		if err != nil {
			return caller{}, false
		}
		return caller{userID: c.UserID, sessionID: c.SessionID}, true
	}
	var c accessClaims
	if _, err := f.accessParser.ParseWithClaims(raw, &c, f.accessKey); err != nil {
		return caller{}, false
	}
	return caller{userID: c.Subject, sessionID: c.SessionID}, true
}

// verifyRefresh returns the claims of a validly signed refresh token; the
// database decides whether it is still good.
func (f *floor) verifyRefresh(raw string) (refreshClaims, bool) {
	var c refreshClaims
	if len(raw) > maxTokenBytes {
		return c, false
	}
	if _, err := f.refreshParser.ParseWithClaims(raw, &c, f.refreshKey); err != nil {
		return c, false
	}
	return c, true
}

// pair is a freshly issued access and refresh token.
type pair struct {
	access, refresh               string
	accessExpires, refreshExpires time.Time
}

// issue signs a pair for one generation of a session; the refresh token
// expires with the session's sliding expiry, as in tokengate's
// auth.Service.issue.
func (f *floor) issue(userID, sessionID string, tokenVersion, generation int64, sessionExpires time.Time) (pair, error) {
	now := time.Now()
	access, accessExpires, err := f.issueAccess(userID, sessionID, tokenVersion, now)
	if err != nil {
		return pair{}, err
	}
	rt := &refreshClaims{
		RegisteredClaims: f.registered(userID, now, sessionExpires),
		SessionID:        sessionID,
		TokenVersion:     tokenVersion,
		Generation:       generation,
	}
	refresh, err := sign("rt+jwt", rt, f.cfg.refreshSecret)
	if err != nil {
		return pair{}, err
	}
	return pair{
		access:         access,
		refresh:        refresh,
		accessExpires:  accessExpires,
		refreshExpires: sessionExpires.Truncate(time.Second).UTC(),
	}, nil
}

func (f *floor) issueAccess(userID, sessionID string, tokenVersion int64, now time.Time) (string, time.Time, error) {
	if f.accessCodec != nil {
		access, expires, err := f.accessCodec.IssueAccess(userID, sessionID, tokenVersion)
		return access, expires.UTC(), err
	}
	at := &accessClaims{RegisteredClaims: f.registered(userID, now, now.Add(f.cfg.accessTTL)), SessionID: sessionID, TokenVersion: tokenVersion}
	access, err := sign("at+jwt", at, f.cfg.accessSecret)
	return access, at.ExpiresAt.Time.UTC(), err
}

// accessLapsed is tokengate's shortcut before a refresh: an access token
// past its expiry is not signature-checked. Only under an asymmetric
// algorithm, where the check is worth skipping; the HS256 floor is v1's.
func (f *floor) accessLapsed(raw string) bool {
	return f.accessCodec != nil && f.accessCodec.AccessLapsed(raw)
}

func (f *floor) registered(sub string, now, exp time.Time) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{
		Issuer:    f.cfg.issuer,
		Audience:  jwt.ClaimStrings{f.cfg.audience},
		Subject:   sub,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
		ID:        rand.Text(),
	}
}

func sign(typ string, claims jwt.Claims, secret []byte) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["typ"] = typ
	t.Header["kid"] = secretID(secret)
	return t.SignedString(secret)
}

// secretID names a secret as tokengate's HS256 kid does: an HMAC of a
// fixed label under it, so the floor's headers match byte for byte.
func secretID(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("tokengate secret id"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}
