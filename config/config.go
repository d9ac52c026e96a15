// Package config turns tokengate's environment (API.md section 7) into a
// typed, validated Config, once, at start-up. Every variable is declared in
// one table that drives parsing, the -h listing and Config.String, so the
// three cannot drift apart.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/ratelimit"
)

// DatabaseKind says which store DATABASE_URL selects.
type DatabaseKind int

// The stores tokengate can run on.
const (
	SQLite DatabaseKind = iota + 1
	Postgres
)

// String returns "sqlite" or "postgres".
func (k DatabaseKind) String() string {
	switch k {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return fmt.Sprintf("DatabaseKind(%d)", int(k))
}

// LogFormat is how log records are written.
type LogFormat string

// The values of LOG_FORMAT.
const (
	LogText LogFormat = "text"
	LogJSON LogFormat = "json"
)

// DefaultSQLitePath is the embedded database used when DATABASE_URL is empty.
const DefaultSQLitePath = "./data/tokengate.db"

// MinSecretBytes is the shortest token secret accepted: HS256 needs a key at
// least as long as its 256-bit output to keep its strength.
const MinSecretBytes = 32

// Config is tokengate's configuration, parsed and validated by Load. Its
// String, GoString, Format and LogValue never show a secret or a database
// password.
type Config struct {
	// Addr is the listen address, host:port.
	Addr string

	// Database selects the store. SQLitePath is set for SQLite (":memory:"
	// for an in-memory database), PostgresURL for PostgreSQL; the URL holds
	// the password, so log Config rather than the field.
	Database    DatabaseKind
	SQLitePath  string
	PostgresURL string
	// DatabaseMaxConns caps the PostgreSQL pool (DATABASE_MAX_CONNS); 0
	// leaves it to the URL's pool_max_conns, else the store's default.
	DatabaseMaxConns int
	// DatabaseListenURL is DATABASE_LISTEN_URL, empty for DATABASE_URL;
	// read it through ListenURL.
	DatabaseListenURL string
	// RevocationMaxStaleness is REVOCATION_MAX_STALENESS.
	RevocationMaxStaleness time.Duration

	// AccessTokenSecret and RefreshTokenSecret are the HS256 keys. Both are
	// empty when GenerateSecrets is set.
	AccessTokenSecret  Secret
	RefreshTokenSecret Secret
	// GenerateSecrets is set when no secret was given and the store is
	// SQLite: main must call ResolveSecrets (or LoadOrCreateSecrets) before
	// it signs anything.
	GenerateSecrets bool

	// OldRefreshTokenSecrets are the further secrets REFRESH_TOKEN_SECRET
	// lists after the first: they verify, only the first signs.
	OldRefreshTokenSecrets []Secret

	// AccessTokenAlg is ACCESS_TOKEN_ALG (keys.go). KeyEncryptionKey seals
	// the private signing keys; GenerateKEK is set when it must come from
	// ResolveKeyEncryptionKey.
	AccessTokenAlg     string
	KeyEncryptionKey   Secret
	GenerateKEK        bool
	SigningKeyRotation time.Duration
	SigningKeyOverlap  time.Duration
	// TokenClockLeeway is the clock skew tolerated on token times.
	TokenClockLeeway time.Duration

	AccessTokenTTL    time.Duration
	RefreshTokenTTL   time.Duration
	SessionMaxAge     time.Duration
	RefreshReuseGrace time.Duration

	TokenIssuer   string
	TokenAudience string
	BcryptCost    int
	// BcryptConcurrency bounds the hashes computed at once; 0 leaves the
	// domain's default, one per CPU.
	BcryptConcurrency int

	// CORSAllowedOrigins are normalized origins (lower case, no default
	// port) compared verbatim with the Origin header; empty allows none.
	CORSAllowedOrigins []string

	RateLimitLogin   ratelimit.Rate
	RateLimitIP      ratelimit.Rate
	RateLimitRefresh ratelimit.Rate

	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix

	LogLevel  slog.Level
	LogFormat LogFormat

	// ShutdownTimeout bounds how long in-flight requests may finish after
	// a shutdown signal.
	ShutdownTimeout time.Duration
	// PProf serves /debug/pprof; Metrics serves /metrics.
	PProf   bool
	Metrics bool

	// Mail is account recovery and e-mail delivery (config/mail.go).
	Mail Mail

	// Args are the command-line arguments left after the flags, for main to
	// interpret; Load does not look at them.
	Args []string
}

// Load reads the configuration from getenv (os.Getenv in main). args are the
// command-line arguments after the program name; the only flag is
// -h/-help/--help, which writes every variable with its default and meaning
// to usage and returns flag.ErrHelp. An unset or empty variable takes its
// default. A bad value returns an error of one line, starting with the
// variable's name, that never contains a secret. opts relax what a command
// that needs less than serve requires (WithoutTokenSecrets).
func Load(args []string, getenv func(string) string, usage io.Writer, opts ...Option) (Config, error) {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	fs := flag.NewFlagSet("tokengate", flag.ContinueOnError)
	// The flag package would print its error and then the usage; the error
	// is returned instead, for main to print once.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var help bool
	fs.BoolVar(&help, "h", false, "list the environment variables")
	fs.BoolVar(&help, "help", false, "list the environment variables")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("%v; the only flag is -h, which lists the environment variables", err)
	}
	if help {
		WriteUsage(usage)
		return Config{}, flag.ErrHelp
	}

	var c Config
	for _, v := range variables {
		raw := getenv(v.name)
		if !v.secret {
			// Secrets are taken byte for byte; anything else may carry
			// stray spaces from a .env file or a YAML block.
			raw = strings.TrimSpace(raw)
		}
		if raw == "" {
			raw = v.def
		}
		if err := v.set(&c, raw); err != nil {
			return Config{}, fmt.Errorf("%s: %w", v.name, err)
		}
	}
	if err := c.validate(o); err != nil {
		return Config{}, err
	}
	c.Args = fs.Args()
	return c, nil
}

// validate checks the rules that involve more than one variable.
func (c *Config) validate(o loadOptions) error {
	if c.AccessTokenTTL > c.RefreshTokenTTL {
		return fmt.Errorf("ACCESS_TOKEN_TTL: %v is longer than REFRESH_TOKEN_TTL (%v); the refresh token that renews an access token must outlive it",
			c.AccessTokenTTL, c.RefreshTokenTTL)
	}
	if c.RefreshTokenTTL > c.SessionMaxAge {
		return fmt.Errorf("REFRESH_TOKEN_TTL: %v is longer than SESSION_MAX_AGE (%v); a refresh token cannot outlive its session",
			c.RefreshTokenTTL, c.SessionMaxAge)
	}
	// The token secret rules come last, so that a command without tokens
	// skips only them: rules on other variables belong above.
	if o.withoutTokenSecrets {
		return nil
	}
	access, refresh := len(c.AccessTokenSecret) > 0, len(c.RefreshTokenSecret) > 0
	switch {
	case !access && !refresh && c.Database == Postgres:
		return errors.New("ACCESS_TOKEN_SECRET, REFRESH_TOKEN_SECRET: required with PostgreSQL; set each to a different random value of at least 32 bytes (e.g. openssl rand -base64 48)")
	case !access && !refresh:
		c.GenerateSecrets = true
	case !access || !refresh:
		set, unset := "ACCESS_TOKEN_SECRET", "REFRESH_TOKEN_SECRET"
		if !access {
			set, unset = unset, set
		}
		if c.Database == Postgres {
			return fmt.Errorf("%s: required with PostgreSQL, at least 32 bytes, different from %s", unset, set)
		}
		return fmt.Errorf("%s: must be set when %s is (or leave both unset to have them generated beside the SQLite database)", unset, set)
	case c.AccessTokenSecret.Equal(c.RefreshTokenSecret):
		return errors.New("ACCESS_TOKEN_SECRET, REFRESH_TOKEN_SECRET: must be different, so that a refresh token can never pass as an access token")
	}
	if err := c.validateKeys(); err != nil {
		return err
	}
	if err := c.validateMail(); err != nil {
		return err
	}
	return c.validateRevocation()
}

// Policy returns the domain policy this configuration sets, with the
// domain's defaults for what the environment does not cover.
func (c Config) Policy() auth.Policy {
	p := auth.DefaultPolicy()
	p.RefreshTTL = c.RefreshTokenTTL
	p.SessionMaxAge = c.SessionMaxAge
	p.ReuseGrace = c.RefreshReuseGrace
	p.BcryptCost = c.BcryptCost
	if c.BcryptConcurrency > 0 {
		p.MaxConcurrentHashes = c.BcryptConcurrency
	}
	return p
}

// DefaultGCPercent is the garbage collector's target tokengate sets unless
// GOGC is set. Its live heap is small and flat (1.6 MiB through the bench
// soak) while every request allocates, so at Go's default of 100 the
// collector keeps to its 4 MiB minimum heap and runs many times a second:
// 11% of the CPU of an access request under load. At 400 an access request
// cost 146 instead of 177 µs of CPU, for some 10 MiB more resident memory
// (bench/README.md).
const DefaultGCPercent = 400

// WriteUsage writes the table of every environment variable, its default
// and its meaning: what -h prints.
func WriteUsage(w io.Writer) {
	fmt.Fprint(w, "Environment:\n\n"+
		"tokengate is configured through environment variables. An unset or empty\n"+
		"variable takes its default; a bad value stops start-up with a message\n"+
		"naming the variable.\n\n")
	width := len("VARIABLE")
	for _, v := range variables {
		width = max(width, len(v.name))
	}
	defWidth := len("DEFAULT")
	for _, v := range variables {
		defWidth = max(defWidth, len(v.shownDefault()))
	}
	line := func(name, def, desc string) {
		fmt.Fprintf(w, "  %-*s  %-*s  %s\n", width, name, defWidth, def, desc)
	}
	line("VARIABLE", "DEFAULT", "DESCRIPTION")
	for _, v := range variables {
		line(v.name, v.shownDefault(), v.desc)
	}
	fmt.Fprintf(w, "\nThe Go runtime's GOGC, when unset, is %d here rather than Go's 100.\n", DefaultGCPercent)
}

// String lists every variable as NAME=value, separated by spaces, with
// secrets and the database password redacted. A value with spaces or
// unprintable characters is quoted.
func (c Config) String() string {
	var b strings.Builder
	for i, v := range variables {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v.name)
		b.WriteByte('=')
		val := v.get(&c)
		if strings.ContainsFunc(val, func(r rune) bool { return r == '"' || !unicode.IsPrint(r) || unicode.IsSpace(r) }) {
			val = strconv.Quote(val)
		}
		b.WriteString(val)
	}
	return b.String()
}

// GoString is String, so %#v cannot print the fields raw either.
func (c Config) GoString() string { return "config.Config{" + c.String() + "}" }

// Format prints String for every verb (GoString for %#v), so no verb, not
// even %x or %d, reaches a raw field.
func (c Config) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, c.GoString())
		return
	}
	io.WriteString(f, c.String())
}

// LogValue logs every variable under its name, secrets and the database
// password redacted.
func (c Config) LogValue() slog.Value {
	attrs := make([]slog.Attr, len(variables))
	for i, v := range variables {
		attrs[i] = slog.String(v.name, v.get(&c))
	}
	return slog.GroupValue(attrs...)
}
