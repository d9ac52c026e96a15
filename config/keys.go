package config

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The signing-key variables (API.md sections 7 and 8), declared here and
// listed in the variables table beside the other token settings.

// Access-token algorithms (ACCESS_TOKEN_ALG).
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
	AlgRS256 = "RS256"
	AlgHS256 = "HS256"
)

// MaxClockLeeway is the most TOKEN_CLOCK_LEEWAY may be.
const MaxClockLeeway = 30 * time.Second

// JWKSMaxAge is the max-age of the JWKS response; a previous key is kept
// at least ACCESS_TOKEN_TTL + TOKEN_CLOCK_LEEWAY + JWKSMaxAge.
const JWKSMaxAge = 10 * time.Minute

// KEKFileName is the file, beside the SQLite database, that keeps a
// generated KEY_ENCRYPTION_KEY.
const KEKFileName = "tokengate.kek"

// Asymmetric reports whether access tokens are signed with the key
// schedule's keys rather than ACCESS_TOKEN_SECRET.
func (c Config) Asymmetric() bool { return c.AccessTokenAlg != AlgHS256 }

// KeepPreviousKey is how long a signing key stays published after it stops
// signing: no token it signed, and no JWKS a verifier cached, outlives it.
func (c Config) KeepPreviousKey() time.Duration {
	return c.AccessTokenTTL + c.TokenClockLeeway + JWKSMaxAge
}

var accessTokenAlgVar = variable{
	name: "ACCESS_TOKEN_ALG", def: AlgES256,
	desc: "how access tokens are signed: ES256, EdDSA or RS256 with the rotating keys of the store (public keys at /.well-known/jwks.json), or HS256 with ACCESS_TOKEN_SECRET",
	set: func(c *Config, v string) error {
		for _, alg := range []string{AlgES256, AlgEdDSA, AlgRS256, AlgHS256} {
			if strings.EqualFold(v, alg) {
				c.AccessTokenAlg = alg
				return nil
			}
		}
		return fmt.Errorf("%q is not ES256, EdDSA, RS256 or HS256", v)
	},
	get: func(c *Config) string { return c.AccessTokenAlg },
}

var refreshSecretsVar = variable{
	name: "REFRESH_TOKEN_SECRET", def: "", secret: true,
	desc: "HS256 key of refresh tokens, at least 32 bytes, different from ACCESS_TOKEN_SECRET; several comma-separated (no spaces): the first signs, all verify, to rotate it without signing anyone out",
	set: func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		parts := strings.Split(v, ",")
		for i, p := range parts {
			// Only the position and the length are safe to say.
			if len(p) < MinSecretBytes {
				if len(parts) == 1 {
					return fmt.Errorf("must be at least %d bytes, got %d (e.g. openssl rand -base64 48)", MinSecretBytes, len(p))
				}
				return fmt.Errorf("secret %d of %d must be at least %d bytes, got %d", i+1, len(parts), MinSecretBytes, len(p))
			}
			for j, q := range parts[:i] {
				if Secret(p).Equal(Secret(q)) {
					return fmt.Errorf("secrets %d and %d are the same", j+1, i+1)
				}
			}
		}
		c.RefreshTokenSecret = Secret(parts[0])
		c.OldRefreshTokenSecrets = nil
		for _, p := range parts[1:] {
			c.OldRefreshTokenSecrets = append(c.OldRefreshTokenSecrets, Secret(p))
		}
		return nil
	},
	get: func(c *Config) string {
		if len(c.OldRefreshTokenSecrets) > 0 {
			return fmt.Sprintf("%s (+%d verifying)", c.RefreshTokenSecret, len(c.OldRefreshTokenSecrets))
		}
		return c.RefreshTokenSecret.String()
	},
}

var kekVar = secretVar("KEY_ENCRYPTION_KEY",
	"at least 32 bytes; encrypts the private signing keys in the store (AES-256-GCM). Unset with SQLite: generated and kept beside the database; required with PostgreSQL unless ACCESS_TOKEN_ALG=HS256",
	func(c *Config) *Secret { return &c.KeyEncryptionKey })

var rotationVar = durationVar("SIGNING_KEY_ROTATION", "168h", "how long a signing key signs before the next one takes over", 1,
	func(c *Config) *time.Duration { return &c.SigningKeyRotation })

var overlapVar = durationVar("SIGNING_KEY_OVERLAP", "24h", "how long the next signing key is published before it signs, for verifiers that cache the JWKS", 1,
	func(c *Config) *time.Duration { return &c.SigningKeyOverlap })

var leewayVar = variable{
	name: "TOKEN_CLOCK_LEEWAY", def: "30s",
	desc: "clock skew tolerated on exp, nbf and iat, 0 to 30s: an access token works up to ACCESS_TOKEN_TTL plus this",
	set: func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > MaxClockLeeway {
			return fmt.Errorf("%q must be a duration from 0 to 30s", v)
		}
		c.TokenClockLeeway = d
		return nil
	},
	get: func(c *Config) string { return c.TokenClockLeeway.String() },
}

// validateKeys checks the signing-key rules that involve more than one
// variable.
func (c *Config) validateKeys() error {
	for i, s := range c.OldRefreshTokenSecrets {
		if s.Equal(c.AccessTokenSecret) {
			return fmt.Errorf("REFRESH_TOKEN_SECRET: secret %d is ACCESS_TOKEN_SECRET; they must all be different", i+2)
		}
	}
	if !c.Asymmetric() {
		return nil
	}
	if keep := c.KeepPreviousKey(); c.SigningKeyRotation < keep {
		return fmt.Errorf("SIGNING_KEY_ROTATION: %v is shorter than ACCESS_TOKEN_TTL + TOKEN_CLOCK_LEEWAY + the JWKS max-age (%v), the time a replaced key must stay published",
			c.SigningKeyRotation, keep)
	}
	if c.SigningKeyOverlap < JWKSMaxAge {
		return fmt.Errorf("SIGNING_KEY_OVERLAP: %v is shorter than the JWKS max-age (%v): verifiers could meet the new key before their cached set has it",
			c.SigningKeyOverlap, JWKSMaxAge)
	}
	if len(c.KeyEncryptionKey) == 0 {
		if c.Database == Postgres {
			return fmt.Errorf("KEY_ENCRYPTION_KEY: required with PostgreSQL and ACCESS_TOKEN_ALG=%s; set a random value of at least 32 bytes (e.g. openssl rand -base64 48), the same on every instance", c.AccessTokenAlg)
		}
		c.GenerateKEK = true
	}
	return nil
}

// ResolveKeyEncryptionKey fills in KEY_ENCRYPTION_KEY when GenerateKEK is
// set: the one kept in KEKFileName beside the SQLite database file
// (created, mode 0600, when there is none), or a fresh one for an
// in-memory database. file is where it is kept ("" for in-memory) and
// created reports a new key, so main can warn.
func (c *Config) ResolveKeyEncryptionKey() (file string, created bool, err error) {
	if !c.GenerateKEK {
		return "", false, nil
	}
	dir, memory := sqliteDir(c.SQLitePath)
	if memory {
		c.KeyEncryptionKey, err = randomSecret()
		if err != nil {
			return "", false, err
		}
		c.GenerateKEK = false
		return "", true, nil
	}
	file = filepath.Join(dir, KEKFileName)
	if c.KeyEncryptionKey, created, err = loadOrCreateKEK(dir); err != nil {
		return "", false, err
	}
	c.GenerateKEK = false
	return file, created, nil
}

func randomSecret() (Secret, error) {
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generate secret: %w", err)
	}
	return Secret(base64.RawURLEncoding.EncodeToString(b)), nil
}

func loadOrCreateKEK(dir string) (Secret, bool, error) {
	path := filepath.Join(dir, KEKFileName)
	kek, err := readKEKFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return kek, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("create key directory: %w", err)
	}
	if kek, err = randomSecret(); err != nil {
		return nil, false, err
	}
	content := "# tokengate key encryption key, generated because KEY_ENCRYPTION_KEY was\n" +
		"# not set. Keep this file private (mode 0600) and beside the database:\n" +
		"# without it the signing keys in the database cannot be used.\n" +
		"KEY_ENCRYPTION_KEY=" + string(kek) + "\n"
	won, err := publish(path, []byte(content))
	if err != nil {
		return nil, false, err
	}
	if !won {
		kek, err = readKEKFile(path)
		return kek, false, err
	}
	return kek, true, nil
}

// readKEKFile reads and checks a key file; its errors never quote it.
func readKEKFile(path string) (Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("key file %s has mode %04o: group or others may read or write it; if it is still private, run chmod 600 %s", path, perm, path)
	}
	var kek Secret
	sc := bufio.NewScanner(io.LimitReader(f, maxSecretsFile))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		value, ok := strings.CutPrefix(line, "KEY_ENCRYPTION_KEY=")
		if !ok || len(value) < MinSecretBytes {
			return nil, fmt.Errorf("key file %s, line %d: want KEY_ENCRYPTION_KEY= and at least %d bytes", path, n, MinSecretBytes)
		}
		kek = Secret(value)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	if kek == nil {
		return nil, fmt.Errorf("key file %s does not set KEY_ENCRYPTION_KEY", path)
	}
	return kek, nil
}
