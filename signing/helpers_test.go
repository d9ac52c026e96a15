package signing_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func headerOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func kidOf(t testing.TB, tok string) string {
	t.Helper()
	kid, _ := headerOf(t, tok)["kid"].(string)
	return kid
}
