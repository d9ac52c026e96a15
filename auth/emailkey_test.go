package auth_test

import (
	"testing"

	"github.com/tokengate/tokengate/auth"
)

// Each pair is what an attacker would register next to a victim's address:
// the two must be one account.
func TestEmailKeyJoinsWhatReadsAsOneMailbox(t *testing.T) {
	for _, p := range [][2]string{
		{"ΟΔΟΣ@x.com", "οδος@x.com"},                        // Greek capitals, final sigma
		{"ſam@example.com", "sam@example.com"},              // long s
		{"ｅve@example.com", "eve@example.com"},              // fullwidth e (NFKC)
		{"Straße@example.com", "STRASSE@example.com"},       // full folding: ß is ss
		{"jos\u00e9@example.com", "jose\u0301@example.com"}, // NFC and NFD
		{"p@bücher.example", "p@xn--bcher-kva.example"},     // IDNA
		{"p@BÜCHER.example", "p@xn--bcher-kva.EXAMPLE"},
		{"Ada@Example.COM", "ada@example.com"},
	} {
		a, errA := auth.NormalizeEmail(p[0])
		b, errB := auth.NormalizeEmail(p[1])
		if errA != nil || errB != nil {
			t.Errorf("NormalizeEmail(%q, %q): %v, %v", p[0], p[1], errA, errB)
			continue
		}
		if ka, kb := auth.EmailKey(a), auth.EmailKey(b); ka != kb {
			t.Errorf("EmailKey(%q) = %q, EmailKey(%q) = %q: want one key", p[0], ka, p[1], kb)
		}
	}
}

func TestEmailKeyKeepsDifferentMailboxesApart(t *testing.T) {
	for _, p := range [][2]string{
		{"ada@example.com", "ada@example.org"},
		{"ada@example.com", "adb@example.com"},
		{"jose@example.com", "josé@example.com"}, // an accent is not a case
	} {
		if auth.EmailKey(p[0]) == auth.EmailKey(p[1]) {
			t.Errorf("EmailKey(%q) == EmailKey(%q)", p[0], p[1])
		}
	}
}

func TestEmailRefusesInvisibleCharacters(t *testing.T) {
	for _, in := range []string{
		"ada\u200b@example.com", // zero-width space
		"ada\u200d@example.com", // zero-width joiner
		"ada\u00ad@example.com", // soft hyphen
		"\ufeffada@example.com", // BOM
		"ada\u202e@example.com", // right-to-left override
		"ada\u2066@example.com", // left-to-right isolate
		"ada\U000E0041@example.com",
		"ada\u2028@example.com", // line separator
		"ada@exam\u200bple.com",
	} {
		if _, err := auth.NormalizeEmail(in); code(err) != auth.CodeBadUserInput {
			t.Errorf("NormalizeEmail(%+q) = %v, want BAD_USER_INPUT", in, err)
		}
	}
}

func TestEmailIsStoredAsTypedInNFC(t *testing.T) {
	got, err := auth.NormalizeEmail("  Jose\u0301@Bücher.example ")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Jos\u00e9@Bücher.example"; got != want {
		t.Errorf("NormalizeEmail = %+q, want %+q (as typed, NFC)", got, want)
	}
	if k := auth.EmailKey(got); k != "josé@xn--bcher-kva.example" {
		t.Errorf("EmailKey = %+q", k)
	}
}

func TestNameRefusesInvisibleAndDirectionCharacters(t *testing.T) {
	for in, ok := range map[string]bool{
		"Ada Lovelace":            true,
		"Zoë 李 😀":                 true,
		"Ada\u202eecalevoL":       false, // right-to-left override
		"Ada\u2067":               false, // right-to-left isolate
		"Ada\u200e":               false, // left-to-right mark
		"Ada\u061c":               false, // Arabic letter mark
		"Ad\u200ba":               false, // zero-width space
		"Ad\u200da":               false, // zero-width joiner
		"Ada\u2028Lovelace":       false, // line separator
		"Ada\u2029Lovelace":       false, // paragraph separator
		"Ada\U000E0041\U000E007F": false, // tag characters
		"\u3164":                  false, // Hangul filler only
		"\u2800\u2800":            false, // braille blanks only
		"\u0301":                  false, // a lone combining mark
		"\u3000":                  false, // ideographic space, trimmed to nothing
	} {
		_, err := auth.NormalizeName(in)
		if ok != (err == nil) {
			t.Errorf("NormalizeName(%+q) = %v, want ok=%v", in, err, ok)
		}
		if err != nil && code(err) != auth.CodeBadUserInput {
			t.Errorf("NormalizeName(%+q): code %q, want BAD_USER_INPUT", in, code(err))
		}
	}
}
