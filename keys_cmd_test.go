package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKeysCommands runs `tokengate keys`, `keys rotate` and `keys retire`
// against the store a real server uses, and checks the server publishes
// the schedule the commands show, with no private material in either.
func TestKeysCommands(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "tg.db")
	getenv := env("ADDR", "127.0.0.1:0", "DATABASE_URL", db, "BCRYPT_COST", "4")
	keys := func(args ...string) (string, error) {
		var out strings.Builder
		err := run(t.Context(), append([]string{"tokengate", "keys"}, args...), getenv, &out, io.Discard)
		return out.String(), err
	}
	p := start(t, getenv)
	published := func() []string {
		res, err := http.Get("http://" + p.addr + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range set.Keys {
			if _, ok := k["d"]; ok {
				t.Fatal("the JWKS has a private member")
			}
			kids = append(kids, k["kid"].(string))
		}
		return kids
	}

	out, err := keys()
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^(\S{43})\s+ES256\s+(\w+)\s`)
	states := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(out, -1) {
		states[m[2]] = m[1]
	}
	if len(states) != 2 || states["current"] == "" || states["next"] == "" {
		t.Fatalf("keys listed:\n%s", out)
	}
	if kids := published(); len(kids) != 2 {
		t.Fatalf("published %v", kids)
	}
	if strings.Contains(out, "PRIVATE") || strings.Count(out, "\n") != 3 {
		t.Fatalf("unexpected output:\n%s", out)
	}
	// Without a token the set is cacheable; with one, no-store wins.
	res, err := http.Get("http://" + p.addr + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Cache-Control") != "public, max-age=600" || res.Header.Get("ETag") == "" {
		t.Fatalf("JWKS headers %v", res.Header)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+"/.well-known/jwks.json", nil)
	req.Header.Set("x-access-token", "not-a-token")
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("ETag") != "" {
		t.Fatalf("JWKS to a request with a token: %d %v", res.StatusCode, res.Header)
	}

	out, err = keys("rotate")
	if err != nil || !strings.Contains(out, "rotated: "+states["next"]+" signs from now on") {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	if !regexp.MustCompile(states["current"] + `\s+ES256\s+previous`).MatchString(out) {
		t.Fatalf("the old current key is not previous:\n%s", out)
	}
	out, err = keys("retire", states["current"])
	if err != nil || !strings.Contains(out, "retired "+states["current"]) || !regexp.MustCompile(states["current"]+`\s+ES256\s+retired`).MatchString(out) {
		t.Fatalf("keys retire: %v\n%s", err, out)
	}
	if _, err := keys("retire", "no-such-kid"); err == nil || !strings.Contains(err.Error(), "no such signing key") {
		t.Fatalf("retiring an unknown kid: %v", err)
	}
	if _, err := keys("bogus"); err == nil || !strings.Contains(err.Error(), "usage: tokengate keys") {
		t.Fatalf("keys bogus: %v", err)
	}
	hs := env("DATABASE_URL", db, "ACCESS_TOKEN_ALG", "HS256")
	if err := run(t.Context(), []string{"tokengate", "keys"}, hs, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "HS256") {
		t.Fatalf("keys under HS256: %v", err)
	}
}

// TestWrongKEKStopsStartupWithOneLine: another KEY_ENCRYPTION_KEY than the
// one the keys were sealed with stops the server before it listens.
func TestWrongKEKStopsStartupWithOneLine(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "tg.db")
	if err := run(t.Context(), []string{"tokengate", "keys", "rotate"}, env("DATABASE_URL", db), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	err := run(t.Context(), []string{"tokengate"}, env("ADDR", "127.0.0.1:0", "DATABASE_URL", db,
		"KEY_ENCRYPTION_KEY", "another-key-encryption-key-0123456789"), io.Discard, io.Discard)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "KEY_ENCRYPTION_KEY: does not decrypt") {
		t.Fatalf("start-up with another KEK: %v", err)
	}
}
