package mail_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	netmail "net/mail"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// smtpServer is a real SMTP server in the test process (go-smtp), which
// keeps what it received. It can be stopped and started again on the same
// address to stand for an outage.
type smtpServer struct {
	t    testing.TB
	mu   sync.Mutex
	got  []received
	addr string
	srv  *smtp.Server
	// rcpt, when set, answers RCPT TO (to refuse an address); data, when
	// set, runs in place of keeping the message.
	rcpt func(to string) error
	data func() error
	// tls, when set, is offered through STARTTLS.
	tls *tls.Config
}

type received struct {
	From, To string
	TLS      bool
	Raw      []byte
	Msg      *netmail.Message
}

func startSMTP(t testing.TB) *smtpServer {
	t.Helper()
	s := &smtpServer{t: t, addr: "127.0.0.1:0"}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *smtpServer) start() {
	s.t.Helper()
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("smtp listen: %v", err)
	}
	s.mu.Lock()
	s.addr = l.Addr().String()
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.TLSConfig = s.tls
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(l)
}

func (s *smtpServer) stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (s *smtpServer) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

func (s *smtpServer) Received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

type backend struct{ s *smtpServer }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) { return &session{s: b.s, c: c}, nil }

type session struct {
	s        *smtpServer
	c        *smtp.Conn
	from, to string
}

func (x *session) Reset()        { x.from, x.to = "", "" }
func (x *session) Logout() error { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	f := x.s.rcpt
	x.s.mu.Unlock()
	if f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	x.to = to
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	f := x.s.data
	x.s.mu.Unlock()
	if f != nil {
		return f()
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return errors.New("unreadable message")
	}
	x.s.mu.Lock()
	_, secure := x.c.TLSConnectionState()
	x.s.got = append(x.s.got, received{From: x.from, To: x.to, TLS: secure, Raw: raw, Msg: msg})
	x.s.mu.Unlock()
	return nil
}
