package auth

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
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

// NormalizeEmail trims e-mail and checks it against RFC 5322 addr-spec
// syntax and the length limit. The returned form keeps the user's case;
// EmailKey gives the form used for comparison.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	switch {
	case email == "":
		return "", BadUserInput("email is required")
	case len(email) > MaxEmailBytes:
		return "", BadUserInput("email must be at most %d bytes", MaxEmailBytes)
	case !utf8.ValidString(email) || strings.ContainsFunc(email, unicode.IsControl):
		return "", BadUserInput("email is not a valid address")
	}
	addr, err := mail.ParseAddress(email)
	// ParseAddress also accepts "Name <a@b>"; only a bare address is an e-mail.
	if err != nil || addr.Name != "" || addr.Address != email {
		return "", BadUserInput("email is not a valid address")
	}
	return email, nil
}

// EmailKey is the case-insensitive comparison form of a normalized e-mail.
// Stores keep it in a unique column so both stores fold case identically.
func EmailKey(email string) string {
	return strings.ToLower(email)
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

// NormalizeName trims a display name and checks its length and characters.
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
	}
	return name, nil
}
