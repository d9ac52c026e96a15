package resolvers_test

import (
	"net/http"
	"testing"
)

// TestDuplicateKeysAreRefused: encoding/json keeps the last of two equal
// keys, other JSON readers the first, so a proxy or WAF in front of the
// server could vet one operation while the server runs another. Like the
// REST decoder, the transport refuses a body with a key twice in any
// object, before anything runs.
func TestDuplicateKeysAreRefused(t *testing.T) {
	s := newServer(t)
	for name, body := range map[string]string{
		"query twice":         `{"query":"{ __typename }","query":"mutation { logoutAll }"}`,
		"operationName twice": `{"query":"query A { __typename } query B { __typename }","operationName":"A","operationName":"B"}`,
		"variables twice":     `{"query":"{ __typename }","variables":{},"variables":{"a":1}}`,
		"a variable twice":    `{"query":"mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }","variables":{"e":"a@example.com","p":"x","e":"b@example.com"}}`,
		"deep in a variable":  `{"query":"{ __typename }","variables":{"v":[{"k":1,"k":2}]}}`,
		"in extensions":       `{"query":"{ __typename }","extensions":{"x":1,"x":2}}`,
		"escaped spelling":    `{"query":"{ __typename }","\u0071uery":"mutation { logoutAll }"}`,
	} {
		t.Run(name, func(t *testing.T) {
			res := post(t, s, "application/json", body)
			wantTransportError(t, res, http.StatusBadRequest, "BAD_USER_INPUT", "duplicate field")
		})
	}
	// encoding/json would fill query from "QUERY" too, case-insensitively.
	res := post(t, s, "application/json", `{"query":"{ __typename }","QUERY":"mutation { logoutAll }"}`)
	wantTransportError(t, res, http.StatusBadRequest, "BAD_USER_INPUT", "case-sensitive")

	// Equal keys in different objects are fine.
	res = post(t, s, "application/json", `{"query":"{ __typename }","variables":{"query":{"query":1}},"extensions":{"variables":{}}}`)
	if res.StatusCode != http.StatusOK {
		t.Errorf("equal keys in different objects: %d %s", res.StatusCode, res.Body)
	}
}
