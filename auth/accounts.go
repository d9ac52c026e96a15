package auth

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// The account rules of API.md section 6.
const (
	MaxEmailBytes    = 254
	MinPasswordBytes = 8
	// MaxPasswordBytes is bcrypt's input limit. Longer passwords are refused
	// rather than silently truncated.
	MaxPasswordBytes = 72
	MaxNameRunes     = 100
)

// NormalizeEmail trims e-mail, puts it in NFC and checks it against RFC 5322
// addr-spec syntax, the length limit and the character rules: no control
// characters, no invisible format characters (category Cf: zero-width
// spaces and joiners, soft hyphen, BOM, bidi controls, tag characters), no
// line or paragraph separators, and a domain that has an IDNA ASCII form.
// The returned form is the address as the user typed it (NFC, case kept);
// EmailKey gives the form used for comparison.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	switch {
	case email == "":
		return "", BadUserInput("email is required")
	case !utf8.ValidString(email) || strings.ContainsFunc(email, invisible):
		return "", BadUserInput("email is not a valid address")
	}
	// NFC so that "josé" typed with a combining accent is stored as the one
	// typed with a precomposed é; the key folds both anyway.
	email = norm.NFC.String(email)
	if len(email) > MaxEmailBytes {
		return "", BadUserInput("email must be at most %d bytes", MaxEmailBytes)
	}
	addr, err := mail.ParseAddress(email)
	// ParseAddress also accepts "Name <a@b>"; only a bare address is an e-mail.
	if err != nil || addr.Name != "" || addr.Address != email {
		return "", BadUserInput("email is not a valid address")
	}
	if _, err := emailKey(email); err != nil {
		return "", BadUserInput("email is not a valid address")
	}
	return email, nil
}

// invisible reports the characters an address or a name must not contain:
// controls, format characters (Cf covers the bidi controls, zero-width
// characters, soft hyphen, BOM and tag characters) and the line and
// paragraph separators. Each can make two strings that read alike differ,
// or reorder what a reader sees.
func invisible(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// EmailKey is the comparison form of an e-mail (API.md section 6): NFKC,
// then full Unicode case folding, then NFKC again (folding can undo a
// composition), with the domain in its IDNA ASCII form. Every spelling a
// person would read as the same mailbox has one key: "ΟΔΟΣ" and "οδος",
// "ſam" and "sam", a fullwidth "ｅ" and "e", "bücher.example" and
// "xn--bcher-kva.example". Stores keep it in a unique column, so both stores
// compare identically. For an address NormalizeEmail accepted the domain
// always converts; otherwise the folded domain is used as it is.
func EmailKey(email string) string {
	k, _ := emailKey(email)
	return k
}

func emailKey(email string) (string, error) {
	s := norm.NFKC.String(email)
	s = norm.NFKC.String(cases.Fold().String(s))
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s, nil
	}
	domain, err := idna.Lookup.ToASCII(s[at+1:])
	if err != nil {
		return s, err
	}
	return s[:at+1] + strings.ToLower(domain), nil
}

// CheckPassword enforces the length policy in bytes, the unit bcrypt uses.
func CheckPassword(password string) error {
	switch {
	case password == "":
		return BadUserInput("password is required")
	case len(password) < MinPasswordBytes:
		return BadUserInput("password must be at least %d bytes", MinPasswordBytes)
	case len(password) > MaxPasswordBytes:
		return BadUserInput("password must be at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// NormalizeName trims a display name and checks its length and characters
// (API.md section 6): no controls, bidi controls, zero-width characters,
// line or paragraph separators or tag characters, and at least one visible
// character. The rules apply to names as they are set; a name stored before
// them is still read and returned as it is.
func NormalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", BadUserInput("name is required")
	case !utf8.ValidString(name):
		return "", BadUserInput("name must be valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameRunes:
		return "", BadUserInput("name must be at most %d characters", MaxNameRunes)
	case strings.ContainsFunc(name, unicode.IsControl):
		return "", BadUserInput("name must not contain control characters")
	case strings.ContainsFunc(name, invisible):
		return "", BadUserInput("name must not contain invisible or direction-changing characters")
	case !strings.ContainsFunc(name, visible):
		return "", BadUserInput("name must contain a visible character")
	}
	return name, nil
}

// visible reports a character that puts ink on the page: a letter, number,
// punctuation or symbol, except the fillers and blanks that are letters or
// symbols by category yet draw nothing (a name of Hangul fillers or braille
// blanks would look empty).
func visible(r rune) bool {
	switch r {
	case '\u115F', '\u1160', '\u3164', '\uFFA0', // Hangul fillers
		'\u2800',           // braille pattern blank
		'\u17B4', '\u17B5': // Khmer inherent vowels, drawn as nothing
		return false
	}
	return unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S)
}
