package config

import (
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/mail"
	"github.com/tokengate/tokengate/ratelimit"
)

// pgMail is what PostgreSQL needs beside the secrets.
var pgMail = []string{"PUBLIC_URL", "https://app.example", "SMTP_URL", "smtp://mail.example:587"}

var wantDefaultMail = Mail{
	PublicURL:            DefaultPublicURL,
	OutboxDir:            "data/outbox",
	From:                 DefaultMailFrom,
	PasswordResetTTL:     30 * time.Minute,
	EmailVerificationTTL: 48 * time.Hour,
	RateLimitEmail:       ratelimit.Rate{N: 5, Per: time.Hour},
}

func mailGoodCases(secrets []string) []goodCase {
	pg := append([]string{"DATABASE_URL", "postgres://db/tg"}, secrets...)
	return []goodCase{
		{name: "PUBLIC_URL", value: "https://app.example.com/", got: func(c Config) any { return c.Mail.PublicURL }, want: "https://app.example.com"},
		{name: "PUBLIC_URL", value: "http://localhost:3000/account", got: func(c Config) any { return c.Mail.PublicURL }, want: "http://localhost:3000/account"},
		{name: "SMTP_URL", value: "smtp://u:p%40ss@mail.example.com", got: func(c Config) any { return c.Mail.SMTP },
			want: mail.SMTPConfig{Host: "mail.example.com", Port: 587, Username: "u", Password: "p@ss"}},
		{name: "SMTP_URL", value: "smtps://mail.example.com", extra: append([]string{"PUBLIC_URL", "https://a.example"}, pg...),
			got: func(c Config) any { return [2]any{c.Mail.SMTP, c.Mail.OutboxDir} }, want: [2]any{mail.SMTPConfig{Host: "mail.example.com", Port: 465, ImplicitTLS: true}, ""}},
		{name: "SMTP_URL", value: "file:/var/spool/tg", extra: append([]string{"PUBLIC_URL", "https://a.example"}, pg...),
			got: func(c Config) any { return c.Mail.OutboxDir }, want: "/var/spool/tg"},
		{name: "SMTP_URL", value: "", extra: []string{"DATABASE_URL", "sqlite:/srv/tg/db.sqlite"},
			got: func(c Config) any { return c.Mail.OutboxDir }, want: "/srv/tg/outbox"},
		{name: "MAIL_FROM", value: "Acme <accounts@acme.example>", got: func(c Config) any { return c.Mail.From }, want: "Acme <accounts@acme.example>"},
		{name: "MAIL_FROM", value: "", got: func(c Config) any { return c.Mail.From }, want: DefaultMailFrom},
		{name: "PASSWORD_RESET_TTL", value: "15m", got: func(c Config) any { return c.Mail.PasswordResetTTL }, want: 15 * time.Minute},
		{name: "EMAIL_VERIFICATION_TTL", value: "24h", got: func(c Config) any { return c.Mail.EmailVerificationTTL }, want: 24 * time.Hour},
		{name: "RATE_LIMIT_EMAIL", value: "3/10m", got: func(c Config) any { return c.Mail.RateLimitEmail }, want: ratelimit.Rate{N: 3, Per: 10 * time.Minute}},
	}
}

func mailBadCases() []badCase {
	secrets := []string{"ACCESS_TOKEN_SECRET", accessSecret, "REFRESH_TOKEN_SECRET", refreshSecret, "KEY_ENCRYPTION_KEY", kek}
	pg := append([]string{"DATABASE_URL", "postgres://tg:" + pgPassword + "@db/tg"}, secrets...)
	return []badCase{
		{"PUBLIC_URL", "app.example.com", nil, "PUBLIC_URL: \"app.example.com\" is not an http(s) URL"},
		{"PUBLIC_URL", "ftp://app.example.com", nil, "is not an http(s) URL"},
		{"PUBLIC_URL", "https://app.example.com/#x", nil, "give the origin"},
		{"PUBLIC_URL", "https://app.example.com/?a=1", nil, "give the origin"},
		{"PUBLIC_URL", "", append([]string{"SMTP_URL", "smtp://m.example"}, pg...), "PUBLIC_URL: required with PostgreSQL"},
		{"SMTP_URL", "", append([]string{"PUBLIC_URL", "https://a.example"}, pg...), "SMTP_URL: required with PostgreSQL"},
		{"SMTP_URL", "http://mail.example.com", nil, "SMTP_URL: scheme \"http\""},
		{"SMTP_URL", "smtp://u:" + pgPassword + "@:25", nil, "SMTP_URL: no host"},
		{"SMTP_URL", "file:", nil, "needs a folder"},
		{"MAIL_FROM", "not an address", nil, "MAIL_FROM: \"not an address\" is not an address"},
		{"PASSWORD_RESET_TTL", "0s", nil, "PASSWORD_RESET_TTL: \"0s\" must be positive"},
		{"EMAIL_VERIFICATION_TTL", "soon", nil, "EMAIL_VERIFICATION_TTL: \"soon\" is not a duration"},
		{"RATE_LIMIT_EMAIL", "5", nil, "RATE_LIMIT_EMAIL:"},
	}
}

func TestSMTPURLIsShownWithoutItsPassword(t *testing.T) {
	c, err := load("SMTP_URL", "smtp://mailer:"+pgPassword+"@mail.example:2525")
	if err != nil {
		t.Fatal(err)
	}
	if s := c.String(); strings.Contains(s, pgPassword) || !strings.Contains(s, "SMTP_URL=smtp://mailer@mail.example:2525") {
		t.Errorf("String() = %s", s)
	}
}
