package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/ratelimit"
)

const (
	accessSecret  = "access-secret-0123456789abcdef-XYZ"
	refreshSecret = "refresh-secret-0123456789abcdef-XYZ"
	pgPassword    = "pg-Pa55word-do-not-print"
)

// env is a getenv over pairs of name and value.
func env(kv ...string) func(string) string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(name string) string { return m[name] }
}

func load(kv ...string) (Config, error) {
	return Load(nil, env(kv...), io.Discard)
}

func TestDefaults(t *testing.T) {
	c, err := load()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Addr:            ":8080",
		Database:        SQLite,
		SQLitePath:      "./data/tokengate.db",
		GenerateSecrets: true,
		// keys.go
		AccessTokenAlg: AlgES256, GenerateKEK: true, TokenClockLeeway: 30 * time.Second,
		SigningKeyRotation: 168 * time.Hour, SigningKeyOverlap: 24 * time.Hour,
		AccessTokenTTL:    15 * time.Minute,
		RefreshTokenTTL:   168 * time.Hour,
		SessionMaxAge:     720 * time.Hour,
		RefreshReuseGrace: 10 * time.Second,
		TokenIssuer:       "tokengate",
		TokenAudience:     "tokengate",
		BcryptCost:        12,
		RateLimitLogin:    ratelimit.Rate{N: 10, Per: 15 * time.Minute},
		RateLimitIP:       ratelimit.Rate{N: 300, Per: time.Minute},
		RateLimitRefresh:  ratelimit.Rate{N: 60, Per: time.Minute},
		LogLevel:          slog.LevelInfo,
		LogFormat:         LogText,
		ShutdownTimeout:   15 * time.Second,
		PProf:             false,
		Metrics:           true,
		Mail:              wantDefaultMail,
	}
	want.RevocationMaxStaleness = 5 * time.Second
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %#v\nwant %#v", fields(c), fields(want))
	}
}

// fields shows a Config's fields raw, for test failures only.
func fields(c Config) string {
	type raw Config
	return fmt.Sprintf("%+v", raw(c))
}

type goodCase struct {
	name, value string
	extra       []string // more variables the case needs
	got         func(Config) any
	want        any
}

func TestGoodValues(t *testing.T) {
	secrets := []string{"ACCESS_TOKEN_SECRET", accessSecret, "REFRESH_TOKEN_SECRET", refreshSecret, "KEY_ENCRYPTION_KEY", kek}
	tests := []goodCase{
		{name: "ADDR", value: "127.0.0.1:0", got: func(c Config) any { return c.Addr }, want: "127.0.0.1:0"},
		{name: "ADDR", value: "[::1]:443", got: func(c Config) any { return c.Addr }, want: "[::1]:443"},
		{name: "ADDR", value: " localhost:8080 ", got: func(c Config) any { return c.Addr }, want: "localhost:8080"},

		{name: "DATABASE_URL", value: "sqlite:/var/lib/tg/tg.db", got: func(c Config) any { return [2]any{c.Database, c.SQLitePath} }, want: [2]any{SQLite, "/var/lib/tg/tg.db"}},
		{name: "DATABASE_URL", value: "sqlite::memory:", got: func(c Config) any { return [2]any{c.Database, c.SQLitePath} }, want: [2]any{SQLite, ":memory:"}},
		{name: "DATABASE_URL", value: "SQLite:data/x.db", got: func(c Config) any { return c.SQLitePath }, want: "data/x.db"},
		{name: "DATABASE_URL", value: "postgres://tg:" + pgPassword + "@db.internal:5432/tg?sslmode=verify-full", extra: append(pgMail, secrets...),
			got:  func(c Config) any { return [3]any{c.Database, c.PostgresURL, c.GenerateSecrets} },
			want: [3]any{Postgres, "postgres://tg:" + pgPassword + "@db.internal:5432/tg?sslmode=verify-full", false}},
		{name: "DATABASE_URL", value: "postgresql://localhost/tg", extra: append(pgMail, secrets...), got: func(c Config) any { return c.Database }, want: Postgres},

		{name: "ACCESS_TOKEN_SECRET", value: accessSecret, extra: []string{"REFRESH_TOKEN_SECRET", refreshSecret},
			got: func(c Config) any {
				return [3]any{string(c.AccessTokenSecret), string(c.RefreshTokenSecret), c.GenerateSecrets}
			},
			want: [3]any{accessSecret, refreshSecret, false}},
		{name: "REFRESH_TOKEN_SECRET", value: " " + strings.Repeat("s", 31) + " ", extra: []string{"ACCESS_TOKEN_SECRET", accessSecret},
			got: func(c Config) any { return string(c.RefreshTokenSecret) }, want: " " + strings.Repeat("s", 31) + " "},

		{name: "ACCESS_TOKEN_TTL", value: "5m", got: func(c Config) any { return c.AccessTokenTTL }, want: 5 * time.Minute},
		{name: "REFRESH_TOKEN_TTL", value: "720h", got: func(c Config) any { return c.RefreshTokenTTL }, want: 720 * time.Hour},
		{name: "SESSION_MAX_AGE", value: "2160h", got: func(c Config) any { return c.SessionMaxAge }, want: 2160 * time.Hour},
		{name: "REFRESH_REUSE_GRACE", value: "0", got: func(c Config) any { return c.RefreshReuseGrace }, want: time.Duration(0)},
		{name: "REFRESH_REUSE_GRACE", value: "2s", got: func(c Config) any { return c.RefreshReuseGrace }, want: 2 * time.Second},
		{name: "REVOCATION_MAX_STALENESS", value: "2s", got: func(c Config) any { return c.RevocationMaxStaleness }, want: 2 * time.Second},
		{name: "DATABASE_LISTEN_URL", value: "postgres://u:p@db-direct:5432/app", extra: []string{"DATABASE_URL", "postgres://u:p@pgbouncer:6432/app", "ACCESS_TOKEN_SECRET", accessSecret, "REFRESH_TOKEN_SECRET", refreshSecret, "KEY_ENCRYPTION_KEY", kek, "PUBLIC_URL", "https://app.example", "SMTP_URL", "smtp://mail.example:587"},
			got: func(c Config) any { return c.ListenURL() }, want: "postgres://u:p@db-direct:5432/app"},
		{name: "DATABASE_LISTEN_URL", value: "", extra: []string{"DATABASE_URL", "postgres://u:p@db:5432/app", "ACCESS_TOKEN_SECRET", accessSecret, "REFRESH_TOKEN_SECRET", refreshSecret, "KEY_ENCRYPTION_KEY", kek, "PUBLIC_URL", "https://app.example", "SMTP_URL", "smtp://mail.example:587"},
			got: func(c Config) any { return c.ListenURL() }, want: "postgres://u:p@db:5432/app"},

		{name: "TOKEN_ISSUER", value: "https://auth.example.com", got: func(c Config) any { return c.TokenIssuer }, want: "https://auth.example.com"},
		{name: "TOKEN_AUDIENCE", value: "my-app", got: func(c Config) any { return c.TokenAudience }, want: "my-app"},

		{name: "BCRYPT_COST", value: "4", got: func(c Config) any { return c.BcryptCost }, want: 4},
		{name: "BCRYPT_COST", value: "31", got: func(c Config) any { return c.BcryptCost }, want: 31},
		{name: "DATABASE_MAX_CONNS", value: "24", got: func(c Config) any { return c.DatabaseMaxConns }, want: 24},
		{name: "DATABASE_MAX_CONNS", value: "0", got: func(c Config) any { return c.DatabaseMaxConns }, want: 0},
		{name: "BCRYPT_CONCURRENCY", value: "1", got: func(c Config) any { return c.BcryptConcurrency }, want: 1},
		{name: "BCRYPT_CONCURRENCY", value: "0", got: func(c Config) any { return c.BcryptConcurrency }, want: 0},

		{name: "CORS_ALLOWED_ORIGINS", value: "https://app.example.com", got: func(c Config) any { return c.CORSAllowedOrigins }, want: []string{"https://app.example.com"}},
		{name: "CORS_ALLOWED_ORIGINS", value: " https://App.Example.com:443 , http://localhost:3000,,http://[::1]:8080,https://app.example.com, capacitor://localhost",
			got:  func(c Config) any { return c.CORSAllowedOrigins },
			want: []string{"https://app.example.com", "http://localhost:3000", "http://[::1]:8080", "capacitor://localhost"}},
		{name: "CORS_ALLOWED_ORIGINS", value: "http://example.com:80", got: func(c Config) any { return c.CORSAllowedOrigins }, want: []string{"http://example.com"}},

		{name: "RATE_LIMIT_LOGIN", value: "5/1h", got: func(c Config) any { return c.RateLimitLogin }, want: ratelimit.Rate{N: 5, Per: time.Hour}},
		{name: "RATE_LIMIT_IP", value: "1000/1m", got: func(c Config) any { return c.RateLimitIP }, want: ratelimit.Rate{N: 1000, Per: time.Minute}},
		{name: "RATE_LIMIT_REFRESH", value: "10/10s", got: func(c Config) any { return c.RateLimitRefresh }, want: ratelimit.Rate{N: 10, Per: 10 * time.Second}},

		{name: "TRUSTED_PROXIES", value: "10.0.0.0/8, 192.0.2.10 ,::1,10.1.2.3/8, ::ffff:172.16.0.0/108, ::ffff:198.51.100.7",
			got: func(c Config) any { return c.TrustedProxies },
			want: []netip.Prefix{
				netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("::1/128"),
				netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("198.51.100.7/32"),
			}},

		{name: "LOG_LEVEL", value: "DEBUG", got: func(c Config) any { return c.LogLevel }, want: slog.LevelDebug},
		{name: "LOG_LEVEL", value: "warn", got: func(c Config) any { return c.LogLevel }, want: slog.LevelWarn},
		{name: "LOG_LEVEL", value: "error", got: func(c Config) any { return c.LogLevel }, want: slog.LevelError},
		{name: "LOG_FORMAT", value: "json", got: func(c Config) any { return c.LogFormat }, want: LogJSON},
		{name: "LOG_FORMAT", value: "Text", got: func(c Config) any { return c.LogFormat }, want: LogText},

		{name: "SHUTDOWN_TIMEOUT", value: "1m", got: func(c Config) any { return c.ShutdownTimeout }, want: time.Minute},
		{name: "PPROF", value: "true", got: func(c Config) any { return c.PProf }, want: true},
		{name: "PPROF", value: "1", got: func(c Config) any { return c.PProf }, want: true},
		{name: "METRICS", value: "false", got: func(c Config) any { return c.Metrics }, want: false},
	}
	tests = append(tests, mailGoodCases(secrets)...)
	tests = append(tests, keyGoodCases(secrets)...)
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.name] = true
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			c, err := load(append([]string{tt.name, tt.value}, tt.extra...)...)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := tt.got(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v; want %#v", got, tt.want)
			}
		})
	}
	for _, v := range variables {
		if !covered[v.name] {
			t.Errorf("no good value tested for %s", v.name)
		}
	}
}

type badCase struct {
	name, value string
	extra       []string
	wantErr     string
}

func TestBadValues(t *testing.T) {
	tests := []badCase{
		{"ADDR", "8080", nil, `ADDR: "8080" is not host:port`},
		{"ADDR", ":http", nil, `ADDR: ":http": the port must be a number from 0 to 65535`},
		{"ADDR", ":65536", nil, "the port must be a number"},
		{"ADDR", "localhost:", nil, "the port must be a number"},
		{"ADDR", "::1:80", nil, "is not host:port"},

		{"DATABASE_URL", "sqlite:", nil, "DATABASE_URL: sqlite: needs a path"},
		{"DATABASE_URL", "sqlite:///var/db", nil, "without //"},
		{"DATABASE_URL", "postgres://", nil, "has no host"},
		{"DATABASE_URL", "postgres://tg:" + pgPassword + "@/tg", nil, "has no host"},
		{"DATABASE_URL", "postgres://tg:" + pgPassword + "@db:port/tg", nil, "not a valid PostgreSQL URL"},
		{"DATABASE_URL", "postgres://tg:" + pgPassword + "%zz@db/tg", nil, "percent-encode"},
		{"DATABASE_URL", "postgres://tg:" + pgPassword + "@db/tg\x7f", nil, "not a valid PostgreSQL URL"},
		{"DATABASE_URL", "mysql://tg:" + pgPassword + "@db/tg", nil, `DATABASE_URL: unsupported scheme "mysql"`},
		{"DATABASE_URL", "host=db user=tg password=" + pgPassword, nil, "DATABASE_URL: must be postgres://"},
		{"DATABASE_URL", "tg:" + pgPassword + "@db/tg", nil, "DATABASE_URL: must be postgres://"},
		{"DATABASE_URL", "./data/tokengate.db", nil, "sqlite:PATH"},

		{"ACCESS_TOKEN_SECRET", "short-" + pgPassword, []string{"REFRESH_TOKEN_SECRET", refreshSecret}, "ACCESS_TOKEN_SECRET: must be at least 32 bytes, got 30"},
		{"REFRESH_TOKEN_SECRET", "short-" + pgPassword, []string{"ACCESS_TOKEN_SECRET", accessSecret}, "REFRESH_TOKEN_SECRET: must be at least 32 bytes"},

		{"ACCESS_TOKEN_TTL", "abc", nil, `ACCESS_TOKEN_TTL: "abc" is not a duration (e.g. 15m)`},
		{"ACCESS_TOKEN_TTL", "15", nil, "is not a duration"},
		{"ACCESS_TOKEN_TTL", "0", nil, `ACCESS_TOKEN_TTL: "0" must be positive`},
		{"REFRESH_TOKEN_TTL", "-1h", nil, "must be positive"},
		{"REFRESH_TOKEN_TTL", "721h", nil, "REFRESH_TOKEN_TTL: 721h0m0s is longer than SESSION_MAX_AGE (720h0m0s)"},
		{"SESSION_MAX_AGE", "1h", nil, "REFRESH_TOKEN_TTL: 168h0m0s is longer than SESSION_MAX_AGE (1h0m0s)"},
		{"SESSION_MAX_AGE", "forever", nil, `SESSION_MAX_AGE: "forever" is not a duration (e.g. 720h)`},
		{"REFRESH_REUSE_GRACE", "-1s", nil, `REFRESH_REUSE_GRACE: "-1s" must not be negative`},
		{"REFRESH_REUSE_GRACE", "soon", nil, "is not a duration (e.g. 10s)"},

		{"TOKEN_ISSUER", "token\x01gate", nil, "TOKEN_ISSUER: \"token\\x01gate\" must not contain control characters"},
		{"TOKEN_AUDIENCE", "a\nb", nil, "TOKEN_AUDIENCE:"},

		{"BCRYPT_COST", "3", nil, `BCRYPT_COST: "3" must be a whole number from 4 to 31`},
		{"BCRYPT_COST", "32", nil, "from 4 to 31"},
		{"BCRYPT_COST", "12.5", nil, "from 4 to 31"},
		{"BCRYPT_COST", "high", nil, "from 4 to 31"},
		{"DATABASE_MAX_CONNS", "-1", nil, `DATABASE_MAX_CONNS: "-1" must be a whole number from 0 (the default) to 1000`},
		{"DATABASE_MAX_CONNS", "1001", nil, "from 0 (the default) to 1000"},
		{"DATABASE_MAX_CONNS", "many", nil, "from 0 (the default) to 1000"},
		{"BCRYPT_CONCURRENCY", "-1", nil, `BCRYPT_CONCURRENCY: "-1" must be a whole number from 0 (one per CPU) to 4096`},
		{"BCRYPT_CONCURRENCY", "4097", nil, "from 0 (one per CPU)"},
		{"BCRYPT_CONCURRENCY", "two", nil, "from 0 (one per CPU)"},

		{"CORS_ALLOWED_ORIGINS", "*", nil, `CORS_ALLOWED_ORIGINS: "*" is not allowed: responses expose the token headers`},
		{"CORS_ALLOWED_ORIGINS", "https://app.example.com, *", nil, "every site"},
		{"CORS_ALLOWED_ORIGINS", "https://*.example.com", nil, "wildcards are not supported"},
		{"CORS_ALLOWED_ORIGINS", "https://app.example.com/", nil, "trailing slash"},
		{"CORS_ALLOWED_ORIGINS", "https://app.example.com/app", nil, "has a path"},
		{"CORS_ALLOWED_ORIGINS", "https://app.example.com?x=1", nil, "query"},
		{"CORS_ALLOWED_ORIGINS", "https://app.example.com#top", nil, "has a path, query"},
		{"CORS_ALLOWED_ORIGINS", "app.example.com", nil, `"app.example.com" is not an origin: an origin is scheme://host[:port]`},
		{"CORS_ALLOWED_ORIGINS", "https://", nil, "is not an origin"},
		{"CORS_ALLOWED_ORIGINS", "null", nil, "is not an origin"},
		{"CORS_ALLOWED_ORIGINS", "https://u:p@app.example.com", nil, "user info"},
		{"CORS_ALLOWED_ORIGINS", "https://app.example.com:0", nil, "from 1 to 65535"},
		{"CORS_ALLOWED_ORIGINS", "https://app.example.com:99999", nil, "from 1 to 65535"},

		{"REVOCATION_MAX_STALENESS", "500ms", nil, `REVOCATION_MAX_STALENESS: "500ms" is below the minimum, 1s`},
		{"REVOCATION_MAX_STALENESS", "soon", nil, `REVOCATION_MAX_STALENESS: "soon" is not a duration`},
		{"DATABASE_LISTEN_URL", "mysql://u:secret@h/db", nil, "DATABASE_LISTEN_URL: must be a postgres:// URL"},
		{"DATABASE_LISTEN_URL", "postgres://u:p@db/app", nil, "DATABASE_LISTEN_URL: only used with PostgreSQL"},
		{"RATE_LIMIT_LOGIN", "ten", nil, `RATE_LIMIT_LOGIN: "ten" is not a rate`},
		{"RATE_LIMIT_IP", "0/1m", nil, "RATE_LIMIT_IP:"},
		{"RATE_LIMIT_REFRESH", "60/0s", nil, "RATE_LIMIT_REFRESH:"},

		{"TRUSTED_PROXIES", "10.0.0.0/33", nil, `TRUSTED_PROXIES: "10.0.0.0/33" is not a CIDR`},
		{"TRUSTED_PROXIES", "10.0.0.1, 10.0.0", nil, `"10.0.0" is not an IP address or CIDR`},
		{"TRUSTED_PROXIES", "proxy.internal", nil, "is not an IP address or CIDR"},
		{"TRUSTED_PROXIES", "fe80::1%eth0", nil, "zone"},

		{"LOG_LEVEL", "verbose", nil, `LOG_LEVEL: "verbose" is not a log level (debug, info, warn or error)`},
		{"LOG_LEVEL", "warning", nil, "is not a log level"},
		{"LOG_FORMAT", "xml", nil, `LOG_FORMAT: "xml" is not a log format (text or json)`},

		{"SHUTDOWN_TIMEOUT", "0s", nil, "SHUTDOWN_TIMEOUT: \"0s\" must be positive"},
		{"PPROF", "yes", nil, `PPROF: "yes" is not a boolean (true or false)`},
		{"METRICS", "on", nil, `METRICS: "on" is not a boolean`},
	}
	tests = append(tests, mailBadCases()...)
	tests = append(tests, keyBadCases()...)
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.name] = true
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			_, err := load(append([]string{tt.name, tt.value}, tt.extra...)...)
			checkLoadError(t, err, tt.wantErr)
		})
	}
	for _, v := range variables {
		if !covered[v.name] {
			t.Errorf("no bad value tested for %s", v.name)
		}
	}
}

// checkLoadError checks that err is one line, mentions want, and leaks no
// secret or password.
func checkLoadError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Load succeeded; want an error mentioning %q", want)
	}
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not mention %q", msg, want)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans lines: %q", msg)
	}
	for _, secret := range []string{accessSecret, refreshSecret, pgPassword} {
		if strings.Contains(msg, secret) {
			t.Errorf("error leaks a secret: %q", msg)
		}
	}
	if !startsWithVariable(msg) {
		t.Errorf("error %q does not start with a variable's name", msg)
	}
}

func startsWithVariable(msg string) bool {
	for _, v := range variables {
		if strings.HasPrefix(msg, v.name+": ") || strings.HasPrefix(msg, v.name+", ") {
			return true
		}
	}
	return false
}

func TestSecretRules(t *testing.T) {
	pg := "postgres://tg:" + pgPassword + "@db/tg"
	tests := []struct {
		name    string
		env     []string
		wantErr string
	}{
		{"postgres needs both", []string{"DATABASE_URL", pg}, "ACCESS_TOKEN_SECRET, REFRESH_TOKEN_SECRET: required with PostgreSQL"},
		{"postgres needs refresh", []string{"DATABASE_URL", pg, "ACCESS_TOKEN_SECRET", accessSecret}, "REFRESH_TOKEN_SECRET: required with PostgreSQL"},
		{"postgres needs access", []string{"DATABASE_URL", pg, "REFRESH_TOKEN_SECRET", refreshSecret}, "ACCESS_TOKEN_SECRET: required with PostgreSQL"},
		{"sqlite with one", []string{"ACCESS_TOKEN_SECRET", accessSecret}, "REFRESH_TOKEN_SECRET: must be set when ACCESS_TOKEN_SECRET is"},
		{"sqlite with the other", []string{"REFRESH_TOKEN_SECRET", refreshSecret}, "ACCESS_TOKEN_SECRET: must be set when REFRESH_TOKEN_SECRET is"},
		{"equal", []string{"ACCESS_TOKEN_SECRET", accessSecret, "REFRESH_TOKEN_SECRET", accessSecret}, "ACCESS_TOKEN_SECRET, REFRESH_TOKEN_SECRET: must be different"},
		{"equal with postgres", []string{"DATABASE_URL", pg, "ACCESS_TOKEN_SECRET", refreshSecret, "REFRESH_TOKEN_SECRET", refreshSecret}, "must be different"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(tt.env...)
			checkLoadError(t, err, tt.wantErr)
		})
	}

	for _, dbURL := range []string{"", "sqlite:x.db", "sqlite::memory:"} {
		c, err := load("DATABASE_URL", dbURL)
		if err != nil || !c.GenerateSecrets {
			t.Errorf("DATABASE_URL=%q without secrets: GenerateSecrets=%v, err %v; want generation", dbURL, c.GenerateSecrets, err)
		}
	}
}

func TestRefreshTTLMayEqualSessionMaxAge(t *testing.T) {
	c, err := load("REFRESH_TOKEN_TTL", "720h", "SESSION_MAX_AGE", "720h")
	if err != nil || c.RefreshTokenTTL != c.SessionMaxAge {
		t.Fatalf("Load = %v, %v", c.RefreshTokenTTL, err)
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var out bytes.Buffer
		_, err := Load([]string{arg}, env(), &out)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("Load(%s) error = %v; want flag.ErrHelp", arg, err)
		}
		lines := strings.Split(out.String(), "\n")
		for _, v := range variables {
			found := false
			for _, line := range lines {
				f := strings.Fields(line)
				if len(f) >= 3 && f[0] == v.name && f[1] == v.shownDefault() && strings.Contains(line, v.desc) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s output has no line for %s with its default %q and description", arg, v.name, v.shownDefault())
			}
		}
		for _, name := range []string{"ADDR", "DATABASE_URL", "ACCESS_TOKEN_SECRET", "REFRESH_TOKEN_SECRET", "ACCESS_TOKEN_TTL",
			"REFRESH_TOKEN_TTL", "SESSION_MAX_AGE", "REFRESH_REUSE_GRACE", "TOKEN_ISSUER", "TOKEN_AUDIENCE", "BCRYPT_COST",
			"CORS_ALLOWED_ORIGINS", "RATE_LIMIT_LOGIN", "RATE_LIMIT_IP", "RATE_LIMIT_REFRESH", "TRUSTED_PROXIES", "LOG_LEVEL",
			"LOG_FORMAT", "SHUTDOWN_TIMEOUT", "PPROF", "METRICS"} {
			if !strings.Contains(out.String(), "\n  "+name+" ") {
				t.Errorf("%s output does not list %s", arg, name)
			}
		}
	}
}

func TestHelpDefaultsParse(t *testing.T) {
	// The listed defaults are the values Load parses; each must be valid on
	// its own.
	for _, v := range variables {
		var c Config
		if err := v.set(&c, v.def); err != nil {
			t.Errorf("default of %s, %q: %v", v.name, v.def, err)
		}
	}
}

func TestFlags(t *testing.T) {
	var out bytes.Buffer
	_, err := Load([]string{"-port", "80"}, env(), &out)
	if err == nil || errors.Is(err, flag.ErrHelp) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("unknown flag: error %v; want a one-line error", err)
	}
	if want := "flag provided but not defined: -port; the only flag is -h"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("unknown flag: error %q; want it to start %q", err, want)
	}
	if out.Len() != 0 {
		t.Errorf("unknown flag wrote %q; want the error returned, not printed", out.String())
	}

	c, err := Load([]string{"revoke-user", "a@example.com"}, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"revoke-user", "a@example.com"}; !reflect.DeepEqual(c.Args, want) {
		t.Errorf("Args = %q; want %q", c.Args, want)
	}
}

func TestStringRoundTrips(t *testing.T) {
	in := []string{
		"ADDR", "127.0.0.1:9000",
		"DATABASE_URL", "sqlite:/tmp/tg.db",
		"ACCESS_TOKEN_SECRET", accessSecret,
		"REFRESH_TOKEN_SECRET", refreshSecret,
		"ACCESS_TOKEN_TTL", "5m",
		"REFRESH_TOKEN_TTL", "24h",
		"SESSION_MAX_AGE", "48h",
		"REFRESH_REUSE_GRACE", "0s",
		"TOKEN_ISSUER", "iss",
		"TOKEN_AUDIENCE", "aud",
		"BCRYPT_COST", "10",
		"CORS_ALLOWED_ORIGINS", "https://a.example,http://localhost:3000",
		"RATE_LIMIT_LOGIN", "5/10m",
		"RATE_LIMIT_IP", "100/30s",
		"RATE_LIMIT_REFRESH", "30/1m",
		"TRUSTED_PROXIES", "10.0.0.0/8,::1/128",
		"LOG_LEVEL", "debug",
		"LOG_FORMAT", "json",
		"SHUTDOWN_TIMEOUT", "3s",
		"PPROF", "true",
		"METRICS", "false",
	}
	c, err := load(in...)
	if err != nil {
		t.Fatal(err)
	}
	// Feed String's NAME=value pairs back, secrets aside (they print
	// redacted), and expect the same Config.
	var back []string
	for pair := range strings.FieldsSeq(c.String()) {
		name, value, _ := strings.Cut(pair, "=")
		if !strings.HasSuffix(name, "_SECRET") && name != "KEY_ENCRYPTION_KEY" {
			back = append(back, name, value)
		}
	}
	back = append(back, "ACCESS_TOKEN_SECRET", accessSecret, "REFRESH_TOKEN_SECRET", refreshSecret)
	c2, err := load(back...)
	if err != nil {
		t.Fatalf("Load(String()): %v", err)
	}
	if !reflect.DeepEqual(c, c2) {
		t.Errorf("round trip:\n got %s\nwant %s", fields(c2), fields(c))
	}

	spaced, err := load("TOKEN_ISSUER", "my issuer")
	if err != nil {
		t.Fatal(err)
	}
	if s := spaced.String(); !strings.Contains(s, `TOKEN_ISSUER="my issuer" `) {
		t.Errorf("String() = %s; want a value with a space quoted", s)
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	c, err := load(
		"DATABASE_URL", "postgres://tg:"+pgPassword+"@db/tg?sslmode=require&password="+pgPassword,
		"PUBLIC_URL", "https://app.example", "SMTP_URL", "smtp://mailer:"+pgPassword+"@mail.example:587",
		"ACCESS_TOKEN_SECRET", accessSecret,
		"REFRESH_TOKEN_SECRET", refreshSecret,
		"KEY_ENCRYPTION_KEY", kek,
	)
	if err != nil {
		t.Fatal(err)
	}
	var outputs []string
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outputs = append(outputs,
			fmt.Sprintf(format, c), fmt.Sprintf(format, &c),
			fmt.Sprintf(format, c.AccessTokenSecret), fmt.Sprintf(format, []Secret{c.RefreshTokenSecret}))
	}
	outputs = append(outputs, c.String(), c.GoString(), fmt.Sprint(c), fmt.Sprintln(c.AccessTokenSecret))

	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("config", "config", c, "secret", c.AccessTokenSecret)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "config", c, "secret", c.RefreshTokenSecret)
	outputs = append(outputs, logs.String())

	j, err := json.Marshal(struct{ A, R Secret }{c.AccessTokenSecret, c.RefreshTokenSecret})
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))

	hexAccess := fmt.Sprintf("%x", []byte(accessSecret))
	for _, out := range outputs {
		for _, secret := range []string{accessSecret, refreshSecret, pgPassword, hexAccess, kek} {
			if strings.Contains(out, secret) {
				t.Errorf("output leaks a secret: %s", out)
			}
		}
	}
	if !strings.Contains(c.String(), "DATABASE_URL=postgres://tg:xxxxx@db/tg?") {
		t.Errorf("String() = %s; want the database URL with its password redacted", c.String())
	}
	if !strings.Contains(c.String(), "ACCESS_TOKEN_SECRET=[redacted]") {
		t.Errorf("String() = %s; want the secrets shown as [redacted]", c.String())
	}
	// The values stay usable as bytes.
	if string(c.AccessTokenSecret) != accessSecret {
		t.Error("the secret's bytes changed")
	}
}

func TestPolicy(t *testing.T) {
	c, err := load("REFRESH_TOKEN_TTL", "24h", "SESSION_MAX_AGE", "48h", "REFRESH_REUSE_GRACE", "3s", "BCRYPT_COST", "5")
	if err != nil {
		t.Fatal(err)
	}
	want := auth.DefaultPolicy()
	want.RefreshTTL, want.SessionMaxAge, want.ReuseGrace, want.BcryptCost = 24*time.Hour, 48*time.Hour, 3*time.Second, 5
	if got := c.Policy(); got != want {
		t.Errorf("Policy() = %+v; want %+v", got, want)
	}

	c, err = load("BCRYPT_CONCURRENCY", "3")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Policy().MaxConcurrentHashes; got != 3 {
		t.Errorf("BCRYPT_CONCURRENCY=3: MaxConcurrentHashes %d, want 3", got)
	}
}

func TestDatabaseKindString(t *testing.T) {
	for k, want := range map[DatabaseKind]string{SQLite: "sqlite", Postgres: "postgres", 0: "DatabaseKind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q; want %q", int(k), got, want)
		}
	}
}
