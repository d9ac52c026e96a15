package tokengatetest

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Mail is one e-mail tokengate sent.
type Mail struct {
	To      string
	Subject string
	// Text is the plain-text part.
	Text string
	// Link is the first link in Text that carries a token in its fragment
	// (a reset or verification link), and Token that token; both are empty
	// in a mail with no such link.
	Link, Token string
}

var linkPattern = regexp.MustCompile(`https?://[^\s]+#token=([A-Za-z0-9_\-.~%]+)`)

// Outbox delivers the mail queued so far and returns every mail the server
// sent since it started, oldest first. The server writes them to a folder
// of its own (SMTP_URL=file:...) unless the test set SMTP_URL.
func (s *Server) Outbox(tb testing.TB) []Mail {
	tb.Helper()
	if _, err := s.App.DeliverMail(context.Background()); err != nil {
		tb.Fatalf("tokengatetest: deliver mail: %v", err)
	}
	if s.outbox == "" {
		tb.Fatalf("tokengatetest: Outbox: SMTP_URL was set by the test, so mail did not go to a folder")
	}
	entries, err := os.ReadDir(s.outbox)
	if err != nil && !os.IsNotExist(err) {
		tb.Fatalf("tokengatetest: read outbox: %v", err)
	}
	type file struct {
		name string
		mod  int64
	}
	var files []file
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			tb.Fatalf("tokengatetest: read outbox: %v", err)
		}
		files = append(files, file{e.Name(), info.ModTime().UnixNano()})
	}
	slices.SortStableFunc(files, func(a, b file) int {
		switch {
		case a.mod < b.mod:
			return -1
		case a.mod > b.mod:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	var out []Mail
	for _, f := range files {
		out = append(out, readMail(tb, filepath.Join(s.outbox, f.name)))
	}
	return out
}

// LastMailTo is the newest mail to the address, failing the test if none
// was sent.
func (s *Server) LastMailTo(tb testing.TB, address string) Mail {
	tb.Helper()
	box := s.Outbox(tb)
	for i := len(box) - 1; i >= 0; i-- {
		if strings.EqualFold(box[i].To, address) {
			return box[i]
		}
	}
	tb.Fatalf("tokengatetest: no mail to %s among %d", address, len(box))
	return Mail{}
}

func readMail(tb testing.TB, path string) Mail {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("tokengatetest: %v", err)
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		tb.Fatalf("tokengatetest: %s: %v", path, err)
	}
	var m Mail
	if to, err := mail.ParseAddress(msg.Header.Get("To")); err == nil {
		m.To = to.Address
	}
	dec := new(mime.WordDecoder)
	m.Subject, _ = dec.DecodeHeader(msg.Header.Get("Subject"))
	m.Text = plainText(tb, msg.Header.Get("Content-Type"), msg.Body)
	if found := linkPattern.FindStringSubmatch(m.Text); found != nil {
		m.Link, m.Token = found[0], found[1]
	}
	return m
}

// plainText returns the text/plain part of a body, walking multiparts.
func plainText(tb testing.TB, contentType string, body io.Reader) string {
	tb.Helper()
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") {
		b, err := io.ReadAll(body)
		if err != nil {
			tb.Fatalf("tokengatetest: read mail: %v", err)
		}
		return string(b)
	}
	r := multipart.NewReader(body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return ""
		}
		if err != nil {
			tb.Fatalf("tokengatetest: read mail: %v", err)
		}
		ct := p.Header.Get("Content-Type")
		if strings.HasPrefix(ct, "multipart/") {
			if text := plainText(tb, ct, p); text != "" {
				return text
			}
			continue
		}
		if strings.HasPrefix(ct, "text/plain") {
			b, err := io.ReadAll(p)
			if err != nil {
				tb.Fatalf("tokengatetest: read mail: %v", err)
			}
			return string(b)
		}
	}
}
