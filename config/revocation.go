package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// MinRevocationStaleness is the shortest REVOCATION_MAX_STALENESS: the
// PostgreSQL feed confirms its view every 500ms, so a bound below a second
// would send checks to the store over one slow heartbeat.
const MinRevocationStaleness = time.Second

// revocationStalenessVar and listenURLVar are REVOCATION_MAX_STALENESS and
// DATABASE_LISTEN_URL (API.md sections 7 and 9; docs/revocation.md).
var (
	revocationStalenessVar = variable{
		name: "REVOCATION_MAX_STALENESS", def: "5s",
		desc: "how long an instance's revocation view may go unconfirmed before each access token is checked in the store (at least 1s)",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			switch {
			case err != nil:
				return fmt.Errorf("%q is not a duration (e.g. 5s)", v)
			case d < MinRevocationStaleness:
				return fmt.Errorf("%q is below the minimum, %v", v, MinRevocationStaleness)
			}
			c.RevocationMaxStaleness = d
			return nil
		},
		get: func(c *Config) string { return c.RevocationMaxStaleness.String() },
	}
	listenURLVar = variable{
		name: "DATABASE_LISTEN_URL", def: "",
		desc: "empty: DATABASE_URL; the PostgreSQL connection that LISTENs for revocations, which must be direct, not through a transaction-pooling proxy such as PgBouncer",
		set:  setListenURL,
		get:  func(c *Config) string { return redactURL(c.DatabaseListenURL) },
	}
)

// setListenURL parses DATABASE_LISTEN_URL. Like DATABASE_URL's, its errors
// never quote the value.
func setListenURL(c *Config, v string) error {
	if v == "" {
		c.DatabaseListenURL = ""
		return nil
	}
	lower := strings.ToLower(v)
	if !strings.HasPrefix(lower, "postgres://") && !strings.HasPrefix(lower, "postgresql://") {
		return errors.New("must be a postgres:// URL (or empty to use DATABASE_URL)")
	}
	u, err := url.Parse(v)
	if err != nil || u.Hostname() == "" {
		return errors.New("not a valid PostgreSQL URL with a host; percent-encode special characters in the password")
	}
	c.DatabaseListenURL = v
	return nil
}

// validateRevocation checks DATABASE_LISTEN_URL against DATABASE_URL.
func (c *Config) validateRevocation() error {
	if c.DatabaseListenURL != "" && c.Database != Postgres {
		return errors.New("DATABASE_LISTEN_URL: only used with PostgreSQL; one SQLite instance feeds its revocation view in process")
	}
	return nil
}

// ListenURL returns the connection string the revocation listener uses:
// DATABASE_LISTEN_URL, or DATABASE_URL when that is empty. It holds the
// password: log Config, not it.
func (c Config) ListenURL() string {
	if c.DatabaseListenURL != "" {
		return c.DatabaseListenURL
	}
	return c.PostgresURL
}
