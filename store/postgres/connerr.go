package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// DescribeConnectError returns err with a message of one plain line saying
// what is wrong, when err is a failure to connect to PostgreSQL: the
// password or the user was refused, the database does not exist, nothing
// listens at the address, the host name does not resolve, or the server did
// not answer in time. It is for start-up, where the store's usual
// STORE_UNAVAILABLE "try again shortly" misleads: none of these goes away
// by waiting, and pgx's own message spans lines (a "tls error" line for the
// encrypted attempt that sslmode=prefer makes first, then the real cause).
//
// It also words the one refusal that follows a successful connection at
// start-up and that no wait cures: a user that may not create tokengate's
// tables, as in a database it does not own since PostgreSQL 15.
//
// The result still wraps err, for errors.Is and errors.As; only the message
// is new. It never contains the password. Any other error is returned as it
// is; nil stays nil.
func DescribeConnectError(err error) error {
	var (
		ce    *pgconn.ConnectError
		pgErr *pgconn.PgError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce) && ce.Config != nil:
		return &connectError{msg: describe(ce), err: err}
	case errors.As(err, &pgErr) && pgErr.Code == "42501": // insufficient_privilege
		return &connectError{err: err, msg: "PostgreSQL refused the user of DATABASE_URL what the migrations need (" + pgErr.Message +
			"): make that user the owner of the database (CREATE DATABASE ... OWNER ..., or ALTER DATABASE ... OWNER TO ...)"}
	}
	return err
}

// connectError is an error DescribeConnectError recognised.
type connectError struct {
	msg string
	err error
}

func (e *connectError) Error() string { return e.msg }
func (e *connectError) Unwrap() error { return e.err }

// describe words one failed connection attempt. pgx tries every host and
// fallback of the configuration and joins their errors; the server's own
// answer, when there is one, says the most, so it is looked for first.
func describe(ce *pgconn.ConnectError) string {
	cfg := ce.Config
	where := address(cfg)
	var (
		pgErr  *pgconn.PgError
		dnsErr *net.DNSError
	)
	switch {
	case errors.As(ce, &pgErr):
		switch pgErr.Code {
		case "28P01": // invalid_password
			return fmt.Sprintf("PostgreSQL at %s refused the password of user %q (password authentication failed): check the user and password in DATABASE_URL",
				where, cfg.User)
		case "28000": // invalid_authorization_specification: no such role, no pg_hba.conf entry, role may not log in
			return fmt.Sprintf("PostgreSQL at %s refused user %q (authentication failed: %s): check the user in DATABASE_URL, and that the role exists and may log in from this host",
				where, cfg.User, pgErr.Message)
		case "3D000": // invalid_catalog_name
			return fmt.Sprintf("PostgreSQL at %s has no database %q: create it (CREATE DATABASE %s OWNER %s) or correct the database name in DATABASE_URL",
				where, cfg.Database, quoteIdent(cfg.Database), quoteIdent(cfg.User))
		}
		return fmt.Sprintf("PostgreSQL at %s refused the connection of user %q: %s (SQLSTATE %s)", where, cfg.User, pgErr.Message, pgErr.Code)
	case errors.As(ce, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("cannot connect to PostgreSQL: the host %q in DATABASE_URL does not resolve (no such host)", dnsErr.Name)
		}
		return fmt.Sprintf("cannot connect to PostgreSQL: looking up the host %q in DATABASE_URL failed: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(ce, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot connect to PostgreSQL at %s: connection refused (is PostgreSQL running, on this host and port?)", where)
	case isSocket(cfg.Host) && errors.Is(ce, fs.ErrNotExist):
		return fmt.Sprintf("cannot connect to PostgreSQL at %s: no such socket (is PostgreSQL running, with its socket in %s?)", where, cfg.Host)
	case timedOut(ce):
		within := ""
		if cfg.ConnectTimeout > 0 {
			within = " within " + cfg.ConnectTimeout.String()
		}
		return fmt.Sprintf("cannot connect to PostgreSQL at %s: no answer%s (check the host, the port and any firewall; connect_timeout in DATABASE_URL sets the wait)",
			where, within)
	}
	// Something else (TLS refused where sslmode requires it, too many
	// connections, a server starting up): pgx's words, on one line.
	detail := strings.ReplaceAll(errors.Unwrap(ce).Error(), "\n", "; ")
	return fmt.Sprintf("cannot connect to PostgreSQL at %s as user %q: %s", where, cfg.User, detail)
}

// address shows where the first host of cfg is: host:port, or a Unix
// socket's path.
func address(cfg *pgconn.Config) string {
	port := strconv.Itoa(int(cfg.Port))
	if isSocket(cfg.Host) {
		return strings.TrimSuffix(cfg.Host, "/") + "/.s.PGSQL." + port
	}
	return net.JoinHostPort(cfg.Host, port)
}

// isSocket reports a host that names a Unix socket directory, as libpq and
// pgx read it.
func isSocket(host string) bool { return strings.HasPrefix(host, "/") }

func timedOut(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.As(err, &netErr) && netErr.Timeout()
}

// quoteIdent quotes an SQL identifier when it needs quotes, for the
// CREATE DATABASE an error suggests.
func quoteIdent(s string) string {
	plain := s != ""
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
