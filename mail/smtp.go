package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPConfig is a parsed SMTP_URL.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	// ImplicitTLS is smtps:// (TLS from the first byte, port 465 by
	// default); otherwise the connection must be upgraded with STARTTLS,
	// except to a loopback host, where it is used when offered.
	ImplicitTLS bool
}

// Loopback reports whether Host is this machine, the one case where mail
// may travel without TLS.
func (c SMTPConfig) Loopback() bool {
	if strings.EqualFold(c.Host, "localhost") {
		return true
	}
	ip := net.ParseIP(c.Host)
	return ip != nil && ip.IsLoopback()
}

// String is the URL without its password, for logs.
func (c SMTPConfig) String() string {
	scheme := "smtp"
	if c.ImplicitTLS {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(c.Host, strconv.Itoa(c.Port))}
	if c.Username != "" {
		u.User = url.User(c.Username)
	}
	return u.String()
}

// ParseSMTPURL reads smtp://[user:pass@]host[:587] or
// smtps://[user:pass@]host[:465] (API.md section 7). The error says what
// is wrong without repeating the password.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTPConfig{}, errors.New("not a URL: want smtp://user:pass@host:587 or smtps://user:pass@host:465")
	}
	var c SMTPConfig
	switch u.Scheme {
	case "smtp":
		c.Port = 587
	case "smtps":
		c.Port, c.ImplicitTLS = 465, true
	default:
		return SMTPConfig{}, fmt.Errorf("scheme %q: want smtp:// or smtps:// (or file:PATH)", u.Scheme)
	}
	if u.Hostname() == "" {
		return SMTPConfig{}, errors.New("no host: want smtp://user:pass@host:587")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return SMTPConfig{}, errors.New("a path, query or fragment has no meaning here")
	}
	c.Host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, fmt.Errorf("port %q is not a port", p)
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	return c, nil
}

// SMTPSender sends through an SMTP server, one connection per message.
type SMTPSender struct {
	cfg     SMTPConfig
	timeout time.Duration
	// dial replaces the network dial in tests, so a server on a loopback
	// port can stand for a remote host.
	dial gomail.DialContextFunc
	// tlsConfig is nil in production: the system roots, for cfg.Host.
	tlsConfig *tls.Config
}

// NewSMTPSender returns a sender for cfg. timeout bounds each message,
// from connecting to the server's last reply.
func NewSMTPSender(cfg SMTPConfig, timeout time.Duration) *SMTPSender {
	return &SMTPSender{cfg: cfg, timeout: timeout}
}

func (s *SMTPSender) client() (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.timeout),
	}
	switch {
	case s.cfg.ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case s.cfg.Loopback():
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	tc := s.tlsConfig
	if tc == nil {
		tc = &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
	}
	opts = append(opts, gomail.WithTLSConfig(tc))
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	if s.dial != nil {
		opts = append(opts, gomail.WithDialContextFunc(s.dial))
	}
	return gomail.NewClient(s.cfg.Host, opts...)
}

// Send delivers m. Its error says, per the Sender rules, whether m may have
// arrived: only a failure while waiting for the server's answer to the
// message itself, with no answer, leaves that open.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	g, err := m.msg()
	if err != nil {
		return err
	}
	c, err := s.client()
	if err != nil {
		return fmt.Errorf("%w: smtp client: %v", ErrRejected, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return classifySend(c.DialAndSendWithContext(ctx, g))
}

// classifySend sorts a delivery error by the Sender rules. The error it
// returns carries the SMTP reply code and the stage, never the server's
// reply text, which may quote the recipient's address: these errors are
// logged, and a log line names a mail by its id alone.
func classifySend(err error) error {
	if err == nil {
		return nil
	}
	var se *gomail.SendError
	if !errors.As(err, &se) {
		// Could not connect, greet, secure or authenticate: not sent.
		return fmt.Errorf("smtp: %w", err)
	}
	code := se.ErrorCode()
	what := fmt.Sprintf("smtp %s failed (reply %d %s)", se.Reason, code, se.EnhancedStatusCode())
	switch {
	case code >= 500 && code < 600:
		return fmt.Errorf("%w: %s", ErrRejected, what)
	case se.Reason == gomail.ErrSMTPDataClose && code == 0, se.Reason == gomail.ErrAmbiguous:
		// The message was handed over; the answer to it never came.
		return fmt.Errorf("%w: %s", ErrMaybeSent, what)
	}
	return errors.New(what)
}
