package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const kek = "key-encryption-key-0123456789abcdef-XYZ"

// keyGoodCases and keyBadCases are TestGoodValues' and TestBadValues'
// cases for the signing-key variables.
func keyGoodCases(secrets []string) []goodCase {
	pg := append(append([]string{"DATABASE_URL", "postgres://db/tg"}, secrets...), pgMail...)
	return []goodCase{
		{name: "ACCESS_TOKEN_ALG", value: "eddsa", got: func(c Config) any { return c.AccessTokenAlg }, want: AlgEdDSA},
		{name: "ACCESS_TOKEN_ALG", value: "RS256", got: func(c Config) any { return c.AccessTokenAlg }, want: AlgRS256},
		{name: "ACCESS_TOKEN_ALG", value: "HS256", extra: append([]string{"DATABASE_URL", "postgres://db/tg", "ACCESS_TOKEN_SECRET", accessSecret, "REFRESH_TOKEN_SECRET", refreshSecret}, pgMail...),
			got: func(c Config) any { return [3]any{c.AccessTokenAlg, c.GenerateKEK, len(c.KeyEncryptionKey)} }, want: [3]any{AlgHS256, false, 0}},
		{name: "KEY_ENCRYPTION_KEY", value: kek, extra: pg, // PostgreSQL, with the secrets
			got: func(c Config) any { return [2]any{string(c.KeyEncryptionKey), c.GenerateKEK} }, want: [2]any{kek, false}},
		{name: "KEY_ENCRYPTION_KEY", value: kek, got: func(c Config) any { return c.GenerateKEK }, want: false},
		{name: "SIGNING_KEY_ROTATION", value: "24h", got: func(c Config) any { return c.SigningKeyRotation }, want: 24 * time.Hour},
		{name: "SIGNING_KEY_OVERLAP", value: "1h", got: func(c Config) any { return c.SigningKeyOverlap }, want: time.Hour},
		{name: "TOKEN_CLOCK_LEEWAY", value: "0", got: func(c Config) any { return c.TokenClockLeeway }, want: time.Duration(0)},
		{name: "TOKEN_CLOCK_LEEWAY", value: "30s", got: func(c Config) any { return c.TokenClockLeeway }, want: 30 * time.Second},
		{name: "REFRESH_TOKEN_SECRET", value: refreshSecret + "," + strings.Repeat("o", 32), extra: []string{"ACCESS_TOKEN_SECRET", accessSecret},
			got: func(c Config) any {
				return [2]any{string(c.RefreshTokenSecret), len(c.OldRefreshTokenSecrets) == 1 && string(c.OldRefreshTokenSecrets[0]) == strings.Repeat("o", 32)}
			},
			want: [2]any{refreshSecret, true}},
	}
}

func keyBadCases() []badCase {
	secrets := []string{"ACCESS_TOKEN_SECRET", accessSecret, "REFRESH_TOKEN_SECRET", refreshSecret}
	return []badCase{
		{"ACCESS_TOKEN_ALG", "none", nil, `ACCESS_TOKEN_ALG: "none" is not ES256, EdDSA, RS256 or HS256`},
		{"ACCESS_TOKEN_ALG", "HS512", nil, "is not ES256"},
		{"KEY_ENCRYPTION_KEY", "short-" + pgPassword, nil, "KEY_ENCRYPTION_KEY: must be at least 32 bytes, got 30"},
		{"DATABASE_URL", "postgres://db/tg", secrets, "KEY_ENCRYPTION_KEY: required with PostgreSQL and ACCESS_TOKEN_ALG=ES256"},
		{"SIGNING_KEY_ROTATION", "0", nil, "SIGNING_KEY_ROTATION: \"0\" must be positive"},
		{"SIGNING_KEY_ROTATION", "20m", nil, "SIGNING_KEY_ROTATION: 20m0s is shorter than ACCESS_TOKEN_TTL + TOKEN_CLOCK_LEEWAY + the JWKS max-age (25m30s)"},
		{"SIGNING_KEY_OVERLAP", "5m", nil, "SIGNING_KEY_OVERLAP: 5m0s is shorter than the JWKS max-age"},
		{"TOKEN_CLOCK_LEEWAY", "31s", nil, `TOKEN_CLOCK_LEEWAY: "31s" must be a duration from 0 to 30s`},
		{"TOKEN_CLOCK_LEEWAY", "-1s", nil, "must be a duration from 0 to 30s"},
		{"REFRESH_TOKEN_SECRET", refreshSecret + ",short-" + pgPassword, []string{"ACCESS_TOKEN_SECRET", accessSecret}, "REFRESH_TOKEN_SECRET: secret 2 of 2 must be at least 32 bytes, got 30"},
		{"REFRESH_TOKEN_SECRET", refreshSecret + "," + refreshSecret, []string{"ACCESS_TOKEN_SECRET", accessSecret}, "REFRESH_TOKEN_SECRET: secrets 1 and 2 are the same"},
		{"REFRESH_TOKEN_SECRET", refreshSecret + "," + accessSecret, []string{"ACCESS_TOKEN_SECRET", accessSecret}, "REFRESH_TOKEN_SECRET: secret 2 is ACCESS_TOKEN_SECRET"},
	}
}

func TestGeneratedKEKIsKeptBesideTheDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c, err := load("DATABASE_URL", "sqlite:"+filepath.Join(dir, "tokengate.db"))
	if err != nil || !c.GenerateKEK {
		t.Fatalf("Load = %v, GenerateKEK %v", err, c.GenerateKEK)
	}
	file, created, err := c.ResolveKeyEncryptionKey()
	if err != nil || !created || file != filepath.Join(dir, KEKFileName) || len(c.KeyEncryptionKey) < MinSecretBytes {
		t.Fatalf("ResolveKeyEncryptionKey = %q, %v, %v", file, created, err)
	}
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, info.Mode())
	}
	again, _ := load("DATABASE_URL", "sqlite:"+filepath.Join(dir, "tokengate.db"))
	if _, created, err := again.ResolveKeyEncryptionKey(); err != nil || created || !again.KeyEncryptionKey.Equal(c.KeyEncryptionKey) {
		t.Fatalf("second start: created %v, err %v, same key %v", created, err, again.KeyEncryptionKey.Equal(c.KeyEncryptionKey))
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	open, _ := load("DATABASE_URL", "sqlite:"+filepath.Join(dir, "tokengate.db"))
	if _, _, err := open.ResolveKeyEncryptionKey(); err == nil || !strings.Contains(err.Error(), "mode 0644") {
		t.Fatalf("a readable key file: %v", err)
	}
	mem, _ := load("DATABASE_URL", "sqlite::memory:")
	if file, created, err := mem.ResolveKeyEncryptionKey(); err != nil || file != "" || !created || len(mem.KeyEncryptionKey) < MinSecretBytes {
		t.Fatalf("in memory: %q, %v, %v", file, created, err)
	}
}

func TestUsageSaysWhatTheLeewayMeans(t *testing.T) {
	var b strings.Builder
	WriteUsage(&b)
	if !strings.Contains(b.String(), "TOKEN_CLOCK_LEEWAY") || !strings.Contains(b.String(), "ACCESS_TOKEN_TTL plus this") {
		t.Fatalf("-h does not explain TOKEN_CLOCK_LEEWAY:\n%s", b.String())
	}
}
