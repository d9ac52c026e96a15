package client

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Tokens is a pair of tokens as tokengate issued it (API.md section 1). The
// expiry times are read from the tokens' own exp claims, on the server's
// clock.
type Tokens struct {
	AccessToken           string    `json:"accessToken"`
	RefreshToken          string    `json:"refreshToken"`
	AccessTokenExpiresAt  time.Time `json:"accessTokenExpiresAt"`
	RefreshTokenExpiresAt time.Time `json:"refreshTokenExpiresAt"`
}

// IsZero reports whether t holds no token at all: the client is signed out.
func (t Tokens) IsZero() bool { return t.AccessToken == "" && t.RefreshToken == "" }

// claims are the parts of a token's payload the client needs. The client
// never checks a signature: it only needs to know when to refresh, and the
// server checks everything else.
type claims struct {
	issuedAt, expiresAt time.Time
}

// maxTokenLen mirrors the server's 8 KiB limit (API.md section 1), so a
// hostile header cannot make the client decode megabytes.
const maxTokenLen = 8 << 10

var errMalformed = errors.New("client: malformed token")

// decodeClaims reads iat and exp from a JWS compact token's payload.
func decodeClaims(raw string) (claims, error) {
	if len(raw) > maxTokenLen {
		return claims{}, errMalformed
	}
	_, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return claims{}, errMalformed
	}
	payload, _, ok := strings.Cut(rest, ".")
	if !ok {
		return claims{}, errMalformed
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return claims{}, errMalformed
	}
	var c struct {
		IssuedAt  *float64 `json:"iat"`
		ExpiresAt *float64 `json:"exp"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.ExpiresAt == nil {
		return claims{}, errMalformed
	}
	out := claims{expiresAt: numericDate(*c.ExpiresAt)}
	if c.IssuedAt != nil {
		out.issuedAt = numericDate(*c.IssuedAt)
	}
	return out, nil
}

// numericDate converts an RFC 7519 NumericDate, which may carry a
// fraction of a second.
func numericDate(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// pairOf builds Tokens from the two raw tokens the server sent, with the
// expiry times of their claims, and returns the access token's claims.
func pairOf(access, refresh string) (Tokens, claims, error) {
	ac, err := decodeClaims(access)
	if err != nil {
		return Tokens{}, claims{}, fmt.Errorf("access token: %w", err)
	}
	rc, err := decodeClaims(refresh)
	if err != nil {
		return Tokens{}, claims{}, fmt.Errorf("refresh token: %w", err)
	}
	return Tokens{
		AccessToken:           access,
		RefreshToken:          refresh,
		AccessTokenExpiresAt:  ac.expiresAt,
		RefreshTokenExpiresAt: rc.expiresAt,
	}, ac, nil
}
