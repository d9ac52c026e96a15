package token

import (
	"bytes"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// This file decodes claims as verification reads them; token.go signs and
// verifies, keys.go chooses the key.

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
	SessionID    string `json:"sid"`
	TokenVersion int64  `json:"ver"`
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
