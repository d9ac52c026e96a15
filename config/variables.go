package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokengate/tokengate/ratelimit"
)

// variable is one environment variable: its default, its one-line meaning
// for -h, how it is parsed into a Config, and how it is shown back.
type variable struct {
	name string
	def  string
	desc string
	// secret values are neither trimmed nor ever shown.
	secret bool
	set    func(c *Config, v string) error
	get    func(c *Config) string
}

func (v variable) shownDefault() string {
	if v.def == "" {
		return "(empty)"
	}
	return v.def
}

// variables is every variable tokengate reads, in the order of API.md
// section 7; Load, WriteUsage and Config.String all range over it.
var variables = []variable{
	{
		name: "ADDR", def: ":8080",
		desc: "address to listen on, host:port (port 0 picks a free one)",
		set:  setAddr,
		get:  func(c *Config) string { return c.Addr },
	},
	{
		name: "DATABASE_URL", def: "",
		desc: "empty: SQLite at " + DefaultSQLitePath + "; sqlite:PATH or sqlite::memory:; or postgres://user:password@host:5432/dbname",
		set:  setDatabase,
		get:  (*Config).databaseURL,
	},
	{
		name: "DATABASE_MAX_CONNS", def: "0",
		desc: "PostgreSQL connections this instance keeps at most, 1 to 1000; 0: the URL's pool_max_conns, else 16 (postgres.DefaultMaxConns)",
		set:  setDatabaseMaxConns,
		get:  func(c *Config) string { return strconv.Itoa(c.DatabaseMaxConns) },
	},
	secretVar("ACCESS_TOKEN_SECRET", "HS256 key of access tokens, at least 32 bytes; unset with SQLite: generated and kept beside the database",
		func(c *Config) *Secret { return &c.AccessTokenSecret }),
	refreshSecretsVar,
	durationVar("ACCESS_TOKEN_TTL", "15m", "lifetime of an access token; at most REFRESH_TOKEN_TTL", 1,
		func(c *Config) *time.Duration { return &c.AccessTokenTTL }),
	durationVar("REFRESH_TOKEN_TTL", "168h", "lifetime of a refresh token, renewed at every refresh; at most SESSION_MAX_AGE", 1,
		func(c *Config) *time.Duration { return &c.RefreshTokenTTL }),
	durationVar("SESSION_MAX_AGE", "720h", "longest a session lasts from sign-in, however often it is refreshed", 1,
		func(c *Config) *time.Duration { return &c.SessionMaxAge }),
	durationVar("REFRESH_REUSE_GRACE", "10s", "how long the previous refresh token still works after a rotation (parallel requests); 0 disables", 0,
		func(c *Config) *time.Duration { return &c.RefreshReuseGrace }),
	nameVar("TOKEN_ISSUER", "iss claim of every token", func(c *Config) *string { return &c.TokenIssuer }),
	nameVar("TOKEN_AUDIENCE", "aud claim of every token", func(c *Config) *string { return &c.TokenAudience }),
	accessTokenAlgVar, rotationVar, overlapVar, kekVar, leewayVar, // keys.go
	{
		name: "BCRYPT_COST", def: "12",
		desc: "bcrypt cost of password hashes, 4 to 31; weaker hashes are upgraded at the next sign-in",
		set:  setBcryptCost,
		get:  func(c *Config) string { return strconv.Itoa(c.BcryptCost) },
	},
	{
		name: "BCRYPT_CONCURRENCY", def: "0",
		desc: "password hashes computed at once, the rest wait up to 2s, then RATE_LIMITED; 0: one per CPU. Fewer keeps CPUs for other requests during a login flood",
		set:  setBcryptConcurrency,
		get:  func(c *Config) string { return strconv.Itoa(c.BcryptConcurrency) },
	},
	{
		name: "CORS_ALLOWED_ORIGINS", def: "",
		desc: "comma-separated origins (scheme://host[:port]) whose scripts may call the API; empty: none",
		set: func(c *Config, v string) (err error) {
			c.CORSAllowedOrigins, err = parseOrigins(v)
			return err
		},
		get: func(c *Config) string { return strings.Join(c.CORSAllowedOrigins, ",") },
	},
	rateVar("RATE_LIMIT_LOGIN", "10/15m", "failed sign-ins per account, N/period",
		func(c *Config) *ratelimit.Rate { return &c.RateLimitLogin }),
	rateVar("RATE_LIMIT_IP", "300/1m", "register, login and explicit refresh calls per client IP, N/period",
		func(c *Config) *ratelimit.Rate { return &c.RateLimitIP }),
	rateVar("RATE_LIMIT_REFRESH", "60/1m", "refreshes per session, N/period",
		func(c *Config) *ratelimit.Rate { return &c.RateLimitRefresh }),
	{
		name: "TRUSTED_PROXIES", def: "",
		desc: "comma-separated CIDRs or IPs whose X-Forwarded-For is believed; empty: the client IP is the TCP peer",
		set: func(c *Config, v string) (err error) {
			c.TrustedProxies, err = ParseTrustedProxies(v)
			return err
		},
		get: func(c *Config) string {
			s := make([]string, len(c.TrustedProxies))
			for i, p := range c.TrustedProxies {
				s[i] = p.String()
			}
			return strings.Join(s, ",")
		},
	},
	{
		name: "LOG_LEVEL", def: "info",
		desc: "debug, info, warn or error",
		set:  setLogLevel,
		get:  func(c *Config) string { return strings.ToLower(c.LogLevel.String()) },
	},
	{
		name: "LOG_FORMAT", def: "text",
		desc: "text, or json for machines",
		set: func(c *Config, v string) error {
			switch f := LogFormat(strings.ToLower(v)); f {
			case LogText, LogJSON:
				c.LogFormat = f
				return nil
			}
			return fmt.Errorf("%q is not a log format (text or json)", v)
		},
		get: func(c *Config) string { return string(c.LogFormat) },
	},
	revocationStalenessVar,
	listenURLVar,
	durationVar("SHUTDOWN_TIMEOUT", "15s", "how long in-flight requests may finish after SIGINT or SIGTERM", 1,
		func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
	boolVar("PPROF", "false", "serve /debug/pprof (true or false)", func(c *Config) *bool { return &c.PProf }),
	boolVar("METRICS", "true", "serve /metrics (true or false)", func(c *Config) *bool { return &c.Metrics }),
}

// durationVar declares a duration of at least least (0 or 1: non-negative
// or positive).
func durationVar(name, def, desc string, least time.Duration, field func(*Config) *time.Duration) variable {
	return variable{
		name: name, def: def, desc: desc,
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			switch {
			case err != nil:
				return fmt.Errorf("%q is not a duration (e.g. %s)", v, def)
			case d < least && least > 0:
				return fmt.Errorf("%q must be positive", v)
			case d < least:
				return fmt.Errorf("%q must not be negative", v)
			}
			*field(c) = d
			return nil
		},
		get: func(c *Config) string { return field(c).String() },
	}
}

func rateVar(name, def, desc string, field func(*Config) *ratelimit.Rate) variable {
	return variable{
		name: name, def: def, desc: desc,
		set: func(c *Config, v string) (err error) {
			*field(c), err = ratelimit.ParseRate(v)
			return err
		},
		get: func(c *Config) string { return field(c).String() },
	}
}

func boolVar(name, def, desc string, field func(*Config) *bool) variable {
	return variable{
		name: name, def: def, desc: desc,
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not a boolean (true or false)", v)
			}
			*field(c) = b
			return nil
		},
		get: func(c *Config) string { return strconv.FormatBool(*field(c)) },
	}
}

// nameVar declares a token claim value, defaulting to "tokengate".
func nameVar(name, desc string, field func(*Config) *string) variable {
	return variable{
		name: name, def: "tokengate", desc: desc,
		set: func(c *Config, v string) error {
			if strings.ContainsFunc(v, unicode.IsControl) {
				return fmt.Errorf("%q must not contain control characters", v)
			}
			*field(c) = v
			return nil
		},
		get: func(c *Config) string { return *field(c) },
	}
}

func secretVar(name, desc string, field func(*Config) *Secret) variable {
	return variable{
		name: name, def: "", desc: desc, secret: true,
		set: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			// The value is never quoted back: only its length is safe to say.
			if len(v) < MinSecretBytes {
				return fmt.Errorf("must be at least %d bytes, got %d (e.g. openssl rand -base64 48)", MinSecretBytes, len(v))
			}
			*field(c) = Secret(v)
			return nil
		},
		get: func(c *Config) string { return field(c).String() },
	}
}

func setAddr(c *Config, v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. :8080 or 127.0.0.1:8080)", v)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: the port must be a number from 0 to 65535", v)
	}
	c.Addr = v
	return nil
}

func setBcryptCost(c *Config, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < bcrypt.MinCost || n > bcrypt.MaxCost {
		return fmt.Errorf("%q must be a whole number from %d to %d", v, bcrypt.MinCost, bcrypt.MaxCost)
	}
	c.BcryptCost = n
	return nil
}

func setDatabaseMaxConns(c *Config, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1000 {
		return fmt.Errorf("%q must be a whole number from 0 (the default) to 1000", v)
	}
	c.DatabaseMaxConns = n
	return nil
}

func setBcryptConcurrency(c *Config, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxBcryptConcurrency {
		return fmt.Errorf("%q must be a whole number from 0 (one per CPU) to %d", v, maxBcryptConcurrency)
	}
	c.BcryptConcurrency = n
	return nil
}

// maxBcryptConcurrency only catches a typo: a slot is a goroutine hashing,
// and more of them than CPUs just queue in the scheduler instead.
const maxBcryptConcurrency = 4096

func setLogLevel(c *Config, v string) error {
	switch strings.ToLower(v) {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		return fmt.Errorf("%q is not a log level (debug, info, warn or error)", v)
	}
	return nil
}

// setDatabase parses DATABASE_URL. Its errors never quote the value: a
// PostgreSQL URL carries a password, in the user info or the query.
func setDatabase(c *Config, v string) error {
	const example = "postgres://user:password@host:5432/dbname"
	lower := strings.ToLower(v)
	switch {
	case v == "":
		c.Database, c.SQLitePath = SQLite, DefaultSQLitePath
	case strings.HasPrefix(lower, "sqlite:"):
		path := v[len("sqlite:"):]
		switch {
		case path == "":
			return errors.New("sqlite: needs a path (sqlite:data/tokengate.db) or :memory: (sqlite::memory:)")
		case strings.HasPrefix(path, "//"):
			return errors.New("write sqlite:PATH without //, e.g. sqlite:/var/lib/tokengate/tokengate.db or sqlite:data/tokengate.db")
		}
		c.Database, c.SQLitePath = SQLite, path
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		u, err := url.Parse(v)
		if err != nil {
			// url's own message quotes the URL, password included.
			return fmt.Errorf("not a valid PostgreSQL URL (%s); percent-encode special characters in the password", example)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("the PostgreSQL URL has no host (%s)", example)
		}
		c.Database, c.PostgresURL = Postgres, v
	default:
		if scheme, _, ok := strings.Cut(v, "://"); ok && isScheme(scheme) {
			return fmt.Errorf("unsupported scheme %q: use %s, sqlite:PATH, or leave it empty for SQLite at %s", scheme, example, DefaultSQLitePath)
		}
		return fmt.Errorf("must be %s, sqlite:PATH, sqlite::memory:, or empty for SQLite at %s", example, DefaultSQLitePath)
	}
	return nil
}

// isScheme reports whether s is a URL scheme (RFC 3986), so that it may be
// quoted in an error without risk of quoting a password.
func isScheme(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	return true
}

// databaseURL shows the database as DATABASE_URL would select it, with any
// password replaced.
func (c *Config) databaseURL() string {
	switch c.Database {
	case SQLite:
		return "sqlite:" + c.SQLitePath
	case Postgres:
		return redactURL(c.PostgresURL)
	}
	return ""
}

// redactURL hides the password of a URL, both where url.URL.Redacted looks
// and in a password query parameter, which PostgreSQL drivers also accept.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redacted
	}
	q := u.Query()
	for key := range q {
		if strings.EqualFold(key, "password") {
			q[key] = []string{"xxxxx"}
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

// parseOrigins parses CORS_ALLOWED_ORIGINS into normalized origins.
func parseOrigins(s string) ([]string, error) {
	var origins []string
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		o, err := parseOrigin(item)
		if err != nil {
			return nil, err
		}
		if !contains(origins, o) {
			origins = append(origins, o)
		}
	}
	return origins, nil
}

// parseOrigin checks one origin and puts it in the form a browser sends in
// the Origin header: lower case, no default port.
func parseOrigin(s string) (string, error) {
	const form = "an origin is scheme://host[:port], e.g. https://app.example.com"
	if s == "*" {
		return "", errors.New(`"*" is not allowed: responses expose the token headers (x-access-token, x-refresh-token) to the allowed origins, so a wildcard would let scripts on every site read them; list the origins instead`)
	}
	if strings.Contains(s, "*") {
		return "", fmt.Errorf("%q: wildcards are not supported; list each origin", s)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("%q is not an origin: %s", s, form)
	}
	switch {
	case u.User != nil:
		return "", fmt.Errorf("%q is not an origin: it has user info; %s", s, form)
	case u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("%q is not an origin: it has a path, query or trailing slash; %s", s, form)
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return "", fmt.Errorf("%q is not an origin: the port must be a number from 1 to 65535", s)
		}
	}
	if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// ParseTrustedProxies parses TRUSTED_PROXIES: a comma-separated list of
// CIDRs ("10.0.0.0/8") or single addresses ("192.0.2.10", a /32 or /128).
// Prefixes are masked and IPv4-mapped ones unmapped, as the client-IP
// middleware compares unmapped addresses.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var p netip.Prefix
		if strings.Contains(item, "/") {
			var err error
			if p, err = netip.ParsePrefix(item); err != nil {
				return nil, fmt.Errorf("%q is not a CIDR (e.g. 10.0.0.0/8)", item)
			}
		} else {
			addr, err := netip.ParseAddr(item)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP address or CIDR (e.g. 192.0.2.10 or 10.0.0.0/8)", item)
			}
			if addr.Zone() != "" {
				return nil, fmt.Errorf("%q: an IPv6 zone cannot be matched against a client address", item)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		if addr := p.Addr(); addr.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(addr.Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if !contains(prefixes, p) {
			prefixes = append(prefixes, p)
		}
	}
	return prefixes, nil
}

func contains[T comparable](list []T, x T) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}
