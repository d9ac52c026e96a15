package config

import (
	"errors"
	"fmt"
	netmail "net/mail"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/tokengate/tokengate/mail"
	"github.com/tokengate/tokengate/ratelimit"
)

// Mail is the configuration of account recovery and e-mail delivery
// (API.md sections 7 and 10).
type Mail struct {
	// PublicURL is the origin (and optional path) the links in e-mails
	// point to, without a trailing slash.
	PublicURL string
	// OutboxDir is set when e-mails are written as .eml files: SMTP_URL
	// unset with SQLite (the outbox/ folder beside the database), or
	// SMTP_URL=file:PATH. Otherwise SMTP says where they are sent.
	OutboxDir string
	SMTP      mail.SMTPConfig
	// From is MAIL_FROM, as given.
	From                 string
	PasswordResetTTL     time.Duration
	EmailVerificationTTL time.Duration
	RateLimitEmail       ratelimit.Rate

	// smtpURL is SMTP_URL as given, until validateMail decides what it
	// means once DATABASE_URL is known.
	smtpURL string
}

// DefaultPublicURL is where links point with the embedded default.
const DefaultPublicURL = "http://localhost:8080"

// DefaultMailFrom is the sender when MAIL_FROM is empty.
const DefaultMailFrom = "tokengate <no-reply@localhost>"

// The mail variables follow the others, in the order of API.md section 7.
// They are appended here, in their own file, to keep the shared list's
// diff small.
func init() {
	variables = append(variables,
		variable{
			name: "PUBLIC_URL", def: "",
			desc: "origin that links in e-mails point to, e.g. https://app.example.com; empty: " + DefaultPublicURL + " with SQLite; required with PostgreSQL",
			set:  setPublicURL,
			get:  func(c *Config) string { return c.Mail.PublicURL },
		},
		variable{
			name: "SMTP_URL", def: "",
			desc: "smtp://user:pass@host:587 (STARTTLS required except to a loopback host), smtps://user:pass@host:465, or file:PATH for .eml files; empty: files in outbox/ beside the SQLite database; required with PostgreSQL",
			set:  setSMTPURL,
			get:  (*Config).smtpURL,
		},
		variable{
			// The default is shown as empty, meaning DefaultMailFrom: the
			// table of -h and String() separate values by spaces.
			name: "MAIL_FROM", def: "",
			desc: "sender of the e-mails, an address or Name <address>; empty: " + DefaultMailFrom,
			set:  setMailFrom,
			get: func(c *Config) string {
				if c.Mail.From == DefaultMailFrom {
					return ""
				}
				return c.Mail.From
			},
		},
		durationVar("PASSWORD_RESET_TTL", "30m", "how long a password-reset link works", 1,
			func(c *Config) *time.Duration { return &c.Mail.PasswordResetTTL }),
		durationVar("EMAIL_VERIFICATION_TTL", "48h", "how long an e-mail-verification link works", 1,
			func(c *Config) *time.Duration { return &c.Mail.EmailVerificationTTL }),
		rateVar("RATE_LIMIT_EMAIL", "5/1h", "e-mails sent per address, N/period; a spent budget stops the sending, never changes an answer",
			func(c *Config) *ratelimit.Rate { return &c.Mail.RateLimitEmail }),
	)
}

func setPublicURL(c *Config, v string) error {
	if v == "" {
		c.Mail.PublicURL = ""
		return nil
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%q is not an http(s) URL, e.g. https://app.example.com", v)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(v, "#") || strings.HasSuffix(v, "?"):
		return fmt.Errorf("%q: links add their own path and fragment; give the origin, and a path if the pages live under one", v)
	}
	c.Mail.PublicURL = strings.TrimRight(v, "/")
	return nil
}

func setSMTPURL(c *Config, v string) error {
	c.Mail.smtpURL = v
	c.Mail.OutboxDir, c.Mail.SMTP = "", mail.SMTPConfig{}
	switch {
	case v == "":
		return nil
	case strings.HasPrefix(v, "file:"):
		path := strings.TrimPrefix(v, "file:")
		if path == "" {
			return errors.New(`"file:" needs a folder, e.g. file:./data/outbox`)
		}
		c.Mail.OutboxDir = filepath.Clean(path)
		return nil
	}
	cfg, err := mail.ParseSMTPURL(v)
	if err != nil {
		return err // its message never repeats the password
	}
	c.Mail.SMTP = cfg
	return nil
}

// smtpURL shows SMTP_URL without its password.
func (c *Config) smtpURL() string {
	switch {
	case c.Mail.SMTP.Host != "":
		return c.Mail.SMTP.String()
	case c.Mail.smtpURL != "":
		return "file:" + c.Mail.OutboxDir
	}
	return ""
}

func setMailFrom(c *Config, v string) error {
	if v == "" {
		v = DefaultMailFrom
	}
	if _, err := netmail.ParseAddress(v); err != nil || strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("%q is not an address or Name <address>", v)
	}
	c.Mail.From = v
	return nil
}

// validateMail fills in the defaults that depend on the store: with
// PostgreSQL, PUBLIC_URL and SMTP_URL are required (there is no folder
// beside the database, and several instances need one address for their
// links); with SQLite the links point to DefaultPublicURL and e-mails go to
// outbox/ beside the database file.
func (c *Config) validateMail() error {
	if c.Database == Postgres {
		switch {
		case c.Mail.PublicURL == "":
			return errors.New("PUBLIC_URL: required with PostgreSQL: the origin the links in e-mails point to, e.g. https://app.example.com")
		case c.Mail.smtpURL == "":
			return errors.New("SMTP_URL: required with PostgreSQL: smtp://user:pass@host:587, or file:PATH to write .eml files")
		}
	}
	if c.Mail.PublicURL == "" {
		c.Mail.PublicURL = DefaultPublicURL
	}
	if c.Mail.smtpURL == "" {
		dir := filepath.Dir(DefaultSQLitePath)
		if c.SQLitePath != "" && c.SQLitePath != ":memory:" {
			dir = filepath.Dir(c.SQLitePath)
		}
		c.Mail.OutboxDir = filepath.Join(dir, "outbox")
	}
	return nil
}
