package mail

import (
	"context"
	"errors"
	"fmt"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one rendered e-mail, ready for a Sender.
type Message struct {
	// ID is the outbox id. It names the message in logs and, as
	// <ID@tokengate>, in its Message-ID header, so a copy that did arrive
	// twice would show it.
	ID      string
	From    string
	To      string
	Subject string
	Text    string
	HTML    string
	Date    time.Time
}

// Sender hands a message to its destination.
//
// An error wrapping ErrRejected means the destination refused it for good
// (retrying cannot help); one wrapping ErrMaybeSent means the connection
// failed after the message was handed over, so it may have been delivered.
// Any other error means it was not delivered and may be tried again.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Errors a Sender wraps to say what became of a message it could not send.
var (
	ErrRejected  = errors.New("the destination refused the message")
	ErrMaybeSent = errors.New("the connection failed after the message was handed over; it may have been delivered")
)

// msg builds the RFC 5322 message.
func (m Message) msg() (*gomail.Msg, error) {
	// 8bit rather than quoted-printable: the link stays whole on one line,
	// so it can be copied (or grepped) out of an .eml file as it is.
	g := gomail.NewMsg(gomail.WithEncoding(gomail.NoEncoding))
	if err := g.From(m.From); err != nil {
		return nil, fmt.Errorf("%w: from: %v", ErrRejected, err)
	}
	if err := g.To(m.To); err != nil {
		return nil, fmt.Errorf("%w: to: %v", ErrRejected, err)
	}
	g.Subject(m.Subject)
	g.SetMessageIDWithValue(m.ID + "@tokengate")
	g.SetDateWithValue(m.Date)
	g.SetGenHeader("Auto-Submitted", "auto-generated")
	g.SetBodyString(gomail.TypeTextPlain, m.Text)
	g.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return g, nil
}
