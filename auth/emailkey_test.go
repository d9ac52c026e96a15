package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/ratelimit"
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

// Register, login, the per-account budget and revoke-user all go through
// the key: every spelling of one mailbox is one account.
func TestOneMailboxIsOneAccount(t *testing.T) {
	s := stack(t, nil, auth.Limits{})
	first, err := s.Service.Register(t.Context(), "ΟΔΟΣ@x.com", "correct horse battery", "Odos")
	if err != nil {
		t.Fatal(err)
	}
	for _, twin := range []string{"οδος@x.com", "ΟΔΟΣ@X.COM", "οδοσ@x.com"} {
		if _, err := s.Service.Register(t.Context(), twin, "correct horse battery", "Twin"); code(err) != auth.CodeEmailTaken {
			t.Errorf("Register(%q) = %v; want EMAIL_TAKEN", twin, err)
		}
		tokens, err := s.Service.Login(t.Context(), twin, "correct horse battery")
		if err != nil || tokens.User.ID != first.User.ID {
			t.Errorf("Login(%q) = %v; want the first account", twin, err)
		}
	}
	if _, err := s.Service.Register(t.Context(), "p@bücher.example", "correct horse battery", "P"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Service.Register(t.Context(), "p@xn--bcher-kva.example", "correct horse battery", "P"); code(err) != auth.CodeEmailTaken {
		t.Errorf("the ASCII form of a registered IDN domain: %v; want EMAIL_TAKEN", err)
	}
	if err := auth.RevokeUser(t.Context(), s.Store, "Οδος@x.com", s.Clock.Now()); err != nil {
		t.Errorf("RevokeUser by another spelling: %v", err)
	}
	if _, err := s.Service.Rotate(t.Context(), first.RefreshToken); auth.ErrorOf(err).Reason != auth.ReasonSessionRevoked {
		t.Errorf("refresh after revoke-user: %v; want SESSION_REVOKED", err)
	}
}

func TestLoginBudgetIsSharedByEverySpelling(t *testing.T) {
	clock := testserver.NewClock(testserver.Epoch)
	s := stack(t, nil, auth.Limits{LoginFailures: ratelimit.New(ratelimit.Rate{N: 2, Per: time.Hour}, clock.Now)})
	s.SignUp(t, "sam@example.com")
	for _, spelling := range []string{"ſam@example.com", "SAM@example.com"} {
		if _, err := s.Service.Login(t.Context(), spelling, "wrong password"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("Login(%q, wrong) = %v", spelling, err)
		}
	}
	if _, err := s.Service.Login(t.Context(), "sam@example.com", testserver.Password); code(err) != auth.CodeRateLimited {
		t.Errorf("third attempt by a third spelling: %v; want RATE_LIMITED", err)
	}
}

// A name stored before the rules is still read and returned as it is.
func TestStoredNamesStayReadable(t *testing.T) {
	s := stack(t, nil, auth.Limits{})
	u := auth.User{ID: "old-user", Email: "old@example.com", Name: "Ada\u202e\u200b", PasswordHash: auth.DummyHash(s.Service), CreatedAt: s.Clock.Now()}
	if err := s.Store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	got, err := s.Service.Me(auth.NewContextWithCaller(t.Context(), auth.Caller{UserID: u.ID, SessionID: "s"}))
	if err != nil || got.Name != u.Name {
		t.Errorf("Me = %+q, %v; want the stored name as it is", got.Name, err)
	}
}
