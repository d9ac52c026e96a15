package client

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseError(t *testing.T) {
	retry := http.Header{"Retry-After": {"3"}}
	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
		want   *Error
	}{
		{"problem+json", retry,
			`{"type":"about:blank","title":"Service Unavailable","status":503,"code":"STORE_UNAVAILABLE","detail":"try again"}`,
			&Error{Status: 503, Code: CodeStoreUnavailable, Message: "try again", RetryAfter: 3 * time.Second}},
		{"problem with a reason and no detail", nil,
			`{"title":"Unauthorized","status":401,"code":"UNAUTHENTICATED","reason":"TOKEN_EXPIRED"}`,
			&Error{Status: 503, Code: CodeUnauthenticated, Reason: ReasonTokenExpired, Message: "Unauthorized"}},
		{"GraphQL: UNAUTHENTICATED wins over an earlier error", nil,
			`{"errors":[{"message":"bad","extensions":{"code":"BAD_USER_INPUT"}},{"message":"the session has ended","extensions":{"code":"UNAUTHENTICATED","reason":"SESSION_REVOKED"}}]}`,
			&Error{Status: 503, Code: CodeUnauthenticated, Reason: ReasonSessionRevoked, Message: "the session has ended"}},
		{"GraphQL retryAfter extension", nil,
			`{"errors":[{"message":"slow down","extensions":{"code":"RATE_LIMITED","retryAfter":9}}],"data":null}`,
			&Error{Status: 503, Code: CodeRateLimited, Message: "slow down", RetryAfter: 9 * time.Second}},
		{"GraphQL error without a code", nil, `{"errors":[{"message":"syntax"}]}`, nil},
		{"HTML from a proxy", retry, `<html>bad gateway</html>`, nil},
		{"empty", nil, ``, nil},
		{"JSON of another shape", nil, `{"error":"nope"}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseError(503, tc.header, []byte(tc.body))
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeClaims(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	tok := func(payload string) string {
		return enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(payload)) + ".sig"
	}

	c, err := decodeClaims(tok(`{"iat":1893456000,"exp":1893456900.5}`))
	if err != nil || !c.issuedAt.Equal(time.Unix(1893456000, 0)) || !c.expiresAt.Equal(time.Unix(1893456900, 5e8)) {
		t.Errorf("got %+v %v", c, err)
	}
	for name, raw := range map[string]string{
		"no exp":          tok(`{"iat":1}`),
		"not JSON":        tok(`exp`),
		"two parts":       enc([]byte(`{}`)) + "." + enc([]byte(`{"exp":1}`)),
		"not base64url":   "a.b+c.d",
		"over 8 KiB":      tok(`{"exp":1,"pad":"` + strings.Repeat("x", 8<<10) + `"}`),
		"empty":           "",
		"exp of a string": tok(`{"exp":"tomorrow"}`),
	} {
		if _, err := decodeClaims(raw); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}
