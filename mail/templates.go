// Package mail delivers the e-mails the domain queues in the outbox: it
// renders them from templates embedded in the binary, and a Worker claims
// them from the store and hands them to a Sender, either an SMTP server
// (SMTPSender) or a folder of .eml files (FileSender).
package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"strings"
	texttemplate "text/template"

	"github.com/tokengate/tokengate/auth"
)

//go:embed templates/*
var embedded embed.FS

// Names lists the templates the domain sends; a template set must have all
// three files of each: NAME.subject.txt, NAME.txt and NAME.html.
var Names = []string{auth.MailPasswordReset, auth.MailEmailVerification, auth.MailPasswordChanged}

// Templates renders queued mail. The plain-text part and the subject use
// text/template, the HTML part html/template (which escapes the values).
// Each is filled with .Link and .ExpiresIn; a template naming anything
// else fails at rendering, not silently.
type Templates struct {
	subject map[string]*texttemplate.Template
	text    map[string]*texttemplate.Template
	html    map[string]*htmltemplate.Template
}

// DefaultTemplates returns the templates embedded in the binary (the files
// in mail/templates/).
func DefaultTemplates() *Templates {
	t, err := ParseTemplates(mustSub(embedded, "templates"))
	if err != nil {
		panic("mail: embedded templates: " + err.Error()) // the package's tests parse them
	}
	return t
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// ParseTemplates reads a template set from the root of fsys, for an adopter
// who replaces the wording or the look: every name of Names needs its three
// files. An error names the file that is missing or does not parse.
func ParseTemplates(fsys fs.FS) (*Templates, error) {
	t := &Templates{
		subject: map[string]*texttemplate.Template{},
		text:    map[string]*texttemplate.Template{},
		html:    map[string]*htmltemplate.Template{},
	}
	read := func(name string) (string, error) {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return "", fmt.Errorf("mail template %s: %w", name, err)
		}
		return string(b), nil
	}
	for _, n := range Names {
		for _, f := range []struct {
			file string
			set  func(src string) error
		}{
			{n + ".subject.txt", func(src string) (err error) {
				t.subject[n], err = texttemplate.New(n).Option("missingkey=error").Parse(strings.TrimSpace(src))
				return err
			}},
			{n + ".txt", func(src string) (err error) {
				t.text[n], err = texttemplate.New(n).Option("missingkey=error").Parse(src)
				return err
			}},
			{n + ".html", func(src string) (err error) {
				t.html[n], err = htmltemplate.New(n).Option("missingkey=error").Parse(src)
				return err
			}},
		} {
			src, err := read(f.file)
			if err != nil {
				return nil, err
			}
			if err := f.set(src); err != nil {
				return nil, fmt.Errorf("mail template %s: %w", f.file, err)
			}
		}
	}
	return t, nil
}

// fields is what a template sees.
type fields struct {
	Link      string
	ExpiresIn string
}

// Render fills the template name with v and returns the subject and both
// parts.
func (t *Templates) Render(name string, v auth.MailValues) (subject, text, html string, err error) {
	st, ok := t.subject[name]
	if !ok {
		return "", "", "", fmt.Errorf("render mail: no template %q", name)
	}
	f := fields{Link: v["link"], ExpiresIn: v["expiresIn"]}
	var sb, tb, hb bytes.Buffer
	if err := st.Execute(&sb, f); err != nil {
		return "", "", "", fmt.Errorf("render mail %s subject: %w", name, err)
	}
	if err := t.text[name].Execute(&tb, f); err != nil {
		return "", "", "", fmt.Errorf("render mail %s text: %w", name, err)
	}
	if err := t.html[name].Execute(&hb, f); err != nil {
		return "", "", "", fmt.Errorf("render mail %s html: %w", name, err)
	}
	// A subject is one header line.
	subject = strings.Join(strings.Fields(sb.String()), " ")
	return subject, tb.String(), hb.String(), nil
}
