package mail_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/mail"
	"github.com/tokengate/tokengate/store/sqlite"
)

var linkSecret = []byte("mail-test-link-secret-0123456789abcdef")

// env is the domain with recovery on a real SQLite store, and a worker
// delivering to a real SMTP server in the process.
type env struct {
	*testserver.Stack
	Store    *sqlite.Store
	Key      *auth.LinkKey
	Recovery *auth.Recovery
	SMTP     *smtpServer
	Logs     *testserver.LogBuffer
}

func newEnv(t testing.TB, path string) *env {
	t.Helper()
	if path == "" {
		path = sqlite.Memory
	}
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &testserver.LogBuffer{}
	stack := testserver.NewStack(t, testserver.Options{Store: st, Logs: logs})
	key, err := auth.NewLinkKey(linkSecret)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := auth.NewRecovery(stack.Service, st, key, auth.DefaultRecoveryConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &env{Stack: stack, Store: st, Key: key, Recovery: rec, SMTP: startSMTP(t), Logs: logs}
}

// sender is an SMTP sender to the env's server, wherever it listens now.
func (e *env) sender(host string, timeout time.Duration) *mail.SMTPSender {
	s := mail.NewSMTPSender(mail.SMTPConfig{Host: host, Port: 25}, timeout)
	mail.DialThrough(s, e.SMTP.Addr)
	return s
}

func (e *env) worker(send mail.Sender, cfg mail.WorkerConfig) *mail.Worker {
	return mail.NewWorker(e.Store, e.Key, nil, send, cfg, e.Clock.Now, e.Logger)
}

func runOnce(t testing.TB, w *mail.Worker) int {
	t.Helper()
	n, err := w.RunOnce(t.Context())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return n
}

// textPart returns the decoded text/plain part of a message.
func textPart(t testing.TB, msg *netmail.Message) string {
	t.Helper()
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err != nil {
			t.Fatalf("no text/plain part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			var body io.Reader = p
			if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
				body = quotedprintable.NewReader(p)
			}
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

var tokenRE = regexp.MustCompile(`#token=([A-Za-z0-9_-]+)`)

func tokenIn(t testing.TB, text string) string {
	t.Helper()
	m := tokenRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no link with a token in:\n%s", text)
	}
	return m[1]
}

func TestResetMailArrivesOverSMTPAndItsLinkWorks(t *testing.T) {
	e := newEnv(t, "")
	e.SignUp(t, "Ada@Example.com")
	if err := e.Recovery.RequestPasswordReset(t.Context(), "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	w := e.worker(e.sender("localhost", 10*time.Second), mail.WorkerConfig{From: "tokengate <no-reply@tokengate.test>"})
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("RunOnce claimed %d; want 1", n)
	}
	got := e.SMTP.Received()
	if len(got) != 1 {
		t.Fatalf("%d mails arrived; want 1", len(got))
	}
	m := got[0]
	if m.To != "Ada@Example.com" || m.From != "no-reply@tokengate.test" {
		t.Errorf("envelope %s -> %s", m.From, m.To)
	}
	if s := m.Msg.Header.Get("Subject"); s != "Reset your password" {
		t.Errorf("Subject %q", s)
	}
	if id := m.Msg.Header.Get("Message-Id"); !strings.HasSuffix(id, "@tokengate>") {
		t.Errorf("Message-ID %q", id)
	}
	if !bytes.Contains(m.Raw, []byte("text/html")) {
		t.Error("no HTML part")
	}
	text := textPart(t, m.Msg)
	if !strings.Contains(text, "http://localhost:8080/reset-password#token=") || !strings.Contains(text, "30 minutes") {
		t.Errorf("text part:\n%s", text)
	}
	if _, err := e.Recovery.ResetPassword(t.Context(), tokenIn(t, text), "a brand new password"); err != nil {
		t.Errorf("the mailed link: %v", err)
	}
	// The notice follows.
	runOnce(t, w)
	if got := e.SMTP.Received(); len(got) != 2 || got[1].Msg.Header.Get("Subject") != "Your password was changed" {
		t.Errorf("after the reset: %d mails; want the password-changed notice second", len(got))
	}
	if strings.Contains(e.Logs.String(), "Example.com") || strings.Contains(e.Logs.String(), "token=") {
		t.Errorf("the logs name the address or the link:\n%s", e.Logs)
	}
}

// An SMTP outage: the request still answers, nothing is lost, and the mail
// arrives once the server is back.
func TestSMTPOutageLosesNoMail(t *testing.T) {
	e := newEnv(t, "")
	e.SignUp(t, "outage@example.com")
	w := e.worker(e.sender("localhost", 5*time.Second), mail.WorkerConfig{Backoff: time.Minute})
	e.SMTP.stop()
	if err := e.Recovery.RequestPasswordReset(t.Context(), "outage@example.com"); err != nil {
		t.Fatalf("request during the outage: %v; want it accepted", err)
	}
	runOnce(t, w)
	runOnce(t, w) // the retry is not due yet
	e.SMTP.start()
	if got := e.SMTP.Received(); len(got) != 0 {
		t.Fatalf("%d mails before the retry", len(got))
	}
	if n := runOnce(t, w); n != 0 {
		t.Errorf("RunOnce claimed %d before the backoff passed", n)
	}
	e.Clock.Advance(time.Minute)
	runOnce(t, w)
	got := e.SMTP.Received()
	if len(got) != 1 || got[0].To != "outage@example.com" {
		t.Fatalf("after the outage: %d mails; want the one queued during it", len(got))
	}
}

// Queued mail survives a restart: another worker on another store handle
// of the same file sends it.
func TestQueuedMailIsSentAfterARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokengate.db")
	e := newEnv(t, path)
	e.SignUp(t, "restart@example.com")
	if err := e.Recovery.RequestPasswordReset(t.Context(), "restart@example.com"); err != nil {
		t.Fatal(err)
	}
	e.Store.Close()

	again, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Close() })
	w := mail.NewWorker(again, e.Key, nil, e.sender("localhost", 5*time.Second), mail.WorkerConfig{}, e.Clock.Now, e.Logger)
	runOnce(t, w)
	if got := e.SMTP.Received(); len(got) != 1 || got[0].To != "restart@example.com" {
		t.Errorf("after the restart: %d mails; want 1", len(got))
	}
}

// A worker that stopped between claiming a mail and marking it leaves the
// mail's fate unknown: it is never sent again, by any worker.
func TestCrashBetweenClaimAndMarkNeverSendsTwice(t *testing.T) {
	e := newEnv(t, "")
	e.SignUp(t, "crash@example.com")
	if err := e.Recovery.RequestPasswordReset(t.Context(), "crash@example.com"); err != nil {
		t.Fatal(err)
	}
	// The crashed worker's claim; it may have sent the mail.
	if list, err := e.Store.ClaimMail(t.Context(), e.Clock.Now(), 10); err != nil || len(list) != 1 {
		t.Fatalf("ClaimMail = %v, %v", list, err)
	}
	w := e.worker(e.sender("localhost", 5*time.Second), mail.WorkerConfig{Lease: 10 * time.Minute})
	runOnce(t, w) // the claim is fresh: it may be another instance's, at work
	e.Clock.Advance(11 * time.Minute)
	runOnce(t, w)
	e.Clock.Advance(24 * time.Hour)
	runOnce(t, w)
	if got := e.SMTP.Received(); len(got) != 0 {
		t.Errorf("%d mails sent after the crash; want none", len(got))
	}
	if !strings.Contains(e.Logs.String(), "not sent again") {
		t.Errorf("no log of the mail of unknown fate:\n%s", e.Logs)
	}
}

func TestRefusedMailIsGivenUpAndATemporaryFailureRetried(t *testing.T) {
	e := newEnv(t, "")
	e.SignUp(t, "refused@example.com")
	e.SignUp(t, "later@example.com")
	e.SMTP.rcpt = func(to string) error {
		if strings.HasPrefix(to, "refused") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox " + to}
		}
		return nil
	}
	w := e.worker(e.sender("localhost", 5*time.Second), mail.WorkerConfig{Backoff: time.Minute})
	for _, a := range []string{"refused@example.com", "later@example.com"} {
		if err := e.Recovery.RequestPasswordReset(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
	e.SMTP.mu.Lock()
	e.SMTP.data = func() error {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}
	e.SMTP.mu.Unlock()
	runOnce(t, w)
	e.SMTP.mu.Lock()
	e.SMTP.data = nil
	e.SMTP.mu.Unlock()
	e.Clock.Advance(time.Minute)
	if n := runOnce(t, w); n != 1 {
		t.Errorf("retry claimed %d; want only the temporarily failed one", n)
	}
	got := e.SMTP.Received()
	if len(got) != 1 || got[0].To != "later@example.com" {
		t.Errorf("arrived: %v; want only later@", got)
	}
	if strings.Contains(e.Logs.String(), "refused@") {
		t.Errorf("a log line quotes the address from the server's reply:\n%s", e.Logs)
	}
}

// The server takes the message and never answers: it may have been
// delivered, so it is not sent again.
func TestNoAnswerAfterTheMessageIsNotRetried(t *testing.T) {
	e := newEnv(t, "")
	e.SignUp(t, "silent@example.com")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e.SMTP.data = func() error { <-release; return nil }
	w := e.worker(e.sender("localhost", 500*time.Millisecond), mail.WorkerConfig{SendTimeout: 500 * time.Millisecond, Backoff: time.Minute})
	if err := e.Recovery.RequestPasswordReset(t.Context(), "silent@example.com"); err != nil {
		t.Fatal(err)
	}
	runOnce(t, w)
	e.Clock.Advance(time.Hour)
	if n := runOnce(t, w); n != 0 {
		t.Errorf("a mail that may have arrived was claimed again (%d)", n)
	}
	if !strings.Contains(e.Logs.String(), "may have been delivered") {
		t.Errorf("logs:\n%s", e.Logs)
	}
}

func TestSTARTTLSIsRequiredExceptToLoopback(t *testing.T) {
	e := newEnv(t, "")
	msg := mail.Message{ID: "m1", From: "a@tokengate.test", To: "b@example.com", Subject: "s", Text: "t", HTML: "<p>t</p>", Date: time.Now()}
	// The in-test server offers no STARTTLS.
	err := e.sender("mail.example.com", 5*time.Second).Send(t.Context(), msg)
	if err == nil || errors.Is(err, mail.ErrMaybeSent) {
		t.Errorf("plain SMTP to a remote host: %v; want a refusal before sending", err)
	}
	if len(e.SMTP.Received()) != 0 {
		t.Fatal("a message went over plain SMTP to a remote host")
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := e.sender(host, 5*time.Second).Send(t.Context(), msg); err != nil {
			t.Errorf("plain SMTP to %s: %v", host, err)
		}
	}
}

func TestSTARTTLSIsUsedWhenRequired(t *testing.T) {
	e := newEnv(t, "")
	cert := selfSigned(t, "mail.example.com")
	e.SMTP.stop()
	e.SMTP.tls = &tls.Config{Certificates: []tls.Certificate{cert}}
	e.SMTP.start()
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	s := e.sender("mail.example.com", 5*time.Second)
	mail.TrustRoots(s, pool)
	msg := mail.Message{ID: "m2", From: "a@tokengate.test", To: "b@example.com", Subject: "s", Text: "t", HTML: "<p>t</p>", Date: time.Now()}
	if err := s.Send(t.Context(), msg); err != nil {
		t.Fatalf("STARTTLS to a remote host: %v", err)
	}
	if got := e.SMTP.Received(); len(got) != 1 || !got[0].TLS {
		t.Errorf("received %+v; want one message over TLS", got)
	}
}

func selfSigned(t testing.TB, host string) tls.Certificate {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}
}

func TestFileOutboxWritesPrivateEMLFiles(t *testing.T) {
	e := newEnv(t, "")
	e.SignUp(t, "files@example.com")
	dir := filepath.Join(t.TempDir(), "data", "outbox")
	fs, err := mail.NewFileSender(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Recovery.RequestPasswordReset(t.Context(), "files@example.com"); err != nil {
		t.Fatal(err)
	}
	runOnce(t, e.worker(fs, mail.WorkerConfig{}))
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), ".eml") {
		t.Fatalf("outbox holds %v, %v; want one .eml", entries, err)
	}
	info, _ := entries[0].Info()
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v; want 0600", info.Mode().Perm())
	}
	if d, _ := os.Stat(dir); d.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v; want 0700", d.Mode().Perm())
	}
	raw, err := os.ReadFile(filepath.Join(dir, entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v", err)
	}
	// The README reads the link straight out of the file.
	if !regexp.MustCompile(`http://localhost:8080/reset-password#token=[A-Za-z0-9_-]{64}\r?\n`).Match(raw) {
		t.Errorf("the file does not hold the link whole on one line:\n%s", raw)
	}
	if msg.Header.Get("To") != "<files@example.com>" && msg.Header.Get("To") != "files@example.com" {
		t.Errorf("To %q", msg.Header.Get("To"))
	}
	if _, err := e.Recovery.ResetPassword(t.Context(), tokenIn(t, textPart(t, msg)), "a brand new password"); err != nil {
		t.Errorf("the link from the file: %v", err)
	}
}

func TestTemplatesCanBeReplaced(t *testing.T) {
	files := fstest.MapFS{}
	for _, n := range mail.Names {
		files[n+".subject.txt"] = &fstest.MapFile{Data: []byte("Custom " + n)}
		files[n+".txt"] = &fstest.MapFile{Data: []byte("Go to {{.Link}}")}
		files[n+".html"] = &fstest.MapFile{Data: []byte(`<a href="{{.Link}}">{{.Link}}</a>`)}
	}
	tmpl, err := mail.ParseTemplates(files)
	if err != nil {
		t.Fatal(err)
	}
	subject, text, html, err := tmpl.Render(auth.MailPasswordReset, auth.MailValues{"link": "https://app.example/reset-password#token=a<b"})
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Custom password_reset" || text != "Go to https://app.example/reset-password#token=a<b" || strings.Contains(html, "a<b") {
		t.Errorf("rendered %q / %q / %q (the HTML part must escape)", subject, text, html)
	}
	delete(files, auth.MailPasswordChanged+".html")
	if _, err := mail.ParseTemplates(files); err == nil || !strings.Contains(err.Error(), "password_changed.html") {
		t.Errorf("a missing file: %v; want an error naming it", err)
	}
	files[auth.MailPasswordChanged+".html"] = &fstest.MapFile{Data: []byte("{{.Nope}}")}
	tmpl, err = mail.ParseTemplates(files)
	if err == nil {
		_, _, _, err = tmpl.Render(auth.MailPasswordChanged, auth.MailValues{})
	}
	if err == nil {
		t.Error("a template naming an unknown field rendered")
	}
}

func TestParseSMTPURL(t *testing.T) {
	for raw, want := range map[string]mail.SMTPConfig{
		"smtp://user:p%40ss@mail.example.com": {Host: "mail.example.com", Port: 587, Username: "user", Password: "p@ss"},
		"smtp://mail.example.com:2525":        {Host: "mail.example.com", Port: 2525},
		"smtps://u:p@mail.example.com":        {Host: "mail.example.com", Port: 465, Username: "u", Password: "p", ImplicitTLS: true},
		"smtp://[::1]:1025":                   {Host: "::1", Port: 1025},
	} {
		got, err := mail.ParseSMTPURL(raw)
		if err != nil || got != want {
			t.Errorf("ParseSMTPURL(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
	for _, raw := range []string{"http://x", "smtp://", "smtp://h:0", "smtp://h:99999", "smtp://h/path", "smtp://h?x=1", "mail.example.com"} {
		if _, err := mail.ParseSMTPURL(raw); err == nil {
			t.Errorf("ParseSMTPURL(%q) accepted", raw)
		}
	}
	_, err := mail.ParseSMTPURL("ftp://user:hunter2@h")
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error repeats the password: %v", err)
	}
	if s := (mail.SMTPConfig{Host: "h", Port: 587, Username: "u", Password: "hunter2"}).String(); strings.Contains(s, "hunter2") {
		t.Errorf("String() = %q shows the password", s)
	}
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "127.8.9.1": true, "::1": true, "mail.example.com": false, "10.0.0.1": false} {
		if got := (mail.SMTPConfig{Host: host}).Loopback(); got != want {
			t.Errorf("Loopback(%s) = %v", host, got)
		}
	}
}
