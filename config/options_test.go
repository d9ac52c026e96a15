package config

import (
	"io"
	"testing"
	"time"
)

func TestAccessTTLMustNotOutliveRefreshTTL(t *testing.T) {
	_, err := load("ACCESS_TOKEN_TTL", "2h", "REFRESH_TOKEN_TTL", "1h")
	checkLoadError(t, err, "ACCESS_TOKEN_TTL: 2h0m0s is longer than REFRESH_TOKEN_TTL (1h0m0s)")

	// The default refresh lifetime is the one compared when only the access
	// lifetime is set.
	_, err = load("ACCESS_TOKEN_TTL", "200h")
	checkLoadError(t, err, "longer than REFRESH_TOKEN_TTL (168h0m0s)")

	c, err := load("ACCESS_TOKEN_TTL", "1h", "REFRESH_TOKEN_TTL", "1h")
	if err != nil || c.AccessTokenTTL != time.Hour {
		t.Fatalf("equal lifetimes: %v, %v; want them accepted", c.AccessTokenTTL, err)
	}
}

func TestWithoutTokenSecrets(t *testing.T) {
	pg := "postgres://tg:" + pgPassword + "@db/tg"
	loadWithout := func(kv ...string) (Config, error) {
		return Load(nil, env(kv...), io.Discard, WithoutTokenSecrets())
	}
	for name, kv := range map[string][]string{
		"postgres, none":         {"DATABASE_URL", pg},
		"postgres, access only":  {"DATABASE_URL", pg, "ACCESS_TOKEN_SECRET", accessSecret},
		"postgres, refresh only": {"DATABASE_URL", pg, "REFRESH_TOKEN_SECRET", refreshSecret},
		"sqlite, access only":    {"ACCESS_TOKEN_SECRET", accessSecret},
	} {
		if _, err := loadWithout(kv...); err != nil {
			t.Errorf("%s: %v; want no secret required", name, err)
		}
	}
	c, err := loadWithout()
	if err != nil || c.GenerateSecrets {
		t.Errorf("sqlite without secrets: GenerateSecrets=%v, err %v; want nothing to generate", c.GenerateSecrets, err)
	}

	// A secret that is set is still checked, and so is every other rule.
	_, err = loadWithout("DATABASE_URL", pg, "ACCESS_TOKEN_SECRET", "short")
	checkLoadError(t, err, "ACCESS_TOKEN_SECRET: must be at least 32 bytes")
	_, err = loadWithout("DATABASE_URL", pg, "ACCESS_TOKEN_TTL", "2h", "REFRESH_TOKEN_TTL", "1h")
	checkLoadError(t, err, "ACCESS_TOKEN_TTL")

	// Without the option, nothing changed.
	_, err = load("DATABASE_URL", pg)
	checkLoadError(t, err, "required with PostgreSQL")
}
