package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/ratelimit"
)

func code(err error) auth.Code {
	if err == nil {
		return ""
	}
	return auth.ErrorOf(err).Code
}

func TestEmailRules(t *testing.T) {
	for in, want := range map[string]auth.Code{
		"ada@example.com":           "",
		"  Ada@Example.COM  ":       "",
		"o'brien+tag@example.co.uk": "",
		"":                          auth.CodeBadUserInput,
		"no-at-sign":                auth.CodeBadUserInput,
		"Ada <ada@example.com>":     auth.CodeBadUserInput,
		"ada@example.com\n":         "", // trimmed
		"ada\x00@example.com":       auth.CodeBadUserInput,
		"ada@exa mple.com":          auth.CodeBadUserInput,
		"\xff@example.com":          auth.CodeBadUserInput,
		strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com": auth.CodeBadUserInput, // 255 bytes
	} {
		_, err := auth.NormalizeEmail(in)
		if code(err) != want {
			t.Errorf("NormalizeEmail(%q) = %v, want code %q", in, err, want)
		}
	}
	if got, _ := auth.NormalizeEmail("  Ada@Example.COM "); got != "Ada@Example.COM" {
		t.Errorf("NormalizeEmail keeps the user's case but trims: got %q", got)
	}
	if auth.EmailKey("Ada@Example.COM") != auth.EmailKey("ada@example.com") {
		t.Error("EmailKey must fold case")
	}
}

func TestPasswordRulesCountBytes(t *testing.T) {
	for in, want := range map[string]auth.Code{
		"":                      auth.CodeBadUserInput,
		"1234567":               auth.CodeBadUserInput,
		"12345678":              "",
		strings.Repeat("x", 72): "",
		strings.Repeat("x", 73): auth.CodeBadUserInput, // bcrypt would silently truncate
		strings.Repeat("é", 36): "",                    // 72 bytes
		strings.Repeat("é", 37): auth.CodeBadUserInput, // 74 bytes, 37 characters
		"пароль-🔑-密码":           "",
	} {
		if err := auth.CheckPassword(in); code(err) != want {
			t.Errorf("CheckPassword(%d bytes) = %v, want code %q", len(in), err, want)
		}
	}
}

func TestNameRules(t *testing.T) {
	for in, want := range map[string]auth.Code{
		"Ada Lovelace":              "",
		"  Ada  ":                   "",
		"":                          auth.CodeBadUserInput,
		"   ":                       auth.CodeBadUserInput,
		strings.Repeat("ä", 100):    "",
		strings.Repeat("ä", 101):    auth.CodeBadUserInput,
		"Ada\x07":                   auth.CodeBadUserInput,
		"Ada\nLovelace":             auth.CodeBadUserInput,
		"Robert'); DROP TABLE x;--": "",
	} {
		if _, err := auth.NormalizeName(in); code(err) != want {
			t.Errorf("NormalizeName(%q) = %v, want code %q", in, err, want)
		}
	}
}

func stack(t *testing.T, tweak func(*auth.Policy), limits auth.Limits) *testserver.Stack {
	t.Helper()
	p := auth.DefaultPolicy()
	p.BcryptCost = bcrypt.MinCost
	if tweak != nil {
		tweak(&p)
	}
	return testserver.NewStack(t, testserver.Options{Policy: &p, Limits: limits})
}

func TestUnknownEmailAndWrongPasswordLookTheSame(t *testing.T) {
	s := stack(t, nil, auth.Limits{})
	s.SignUp(t, "ada@example.com")
	_, wrong := s.Service.Login(context.Background(), "ada@example.com", "not the password")
	_, unknown := s.Service.Login(context.Background(), "nobody@example.com", "not the password")
	if !errors.Is(wrong, auth.ErrInvalidCredentials) || !errors.Is(unknown, auth.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v; unknown e-mail: %v", wrong, unknown)
	}
	if wrong.Error() != unknown.Error() {
		t.Errorf("messages differ: %q vs %q", wrong, unknown)
	}
}

// The unknown-account path must spend the same bcrypt work as a wrong
// password. Timing is not asserted (tests do not measure time); instead:
// the dummy hash has the configured cost, and an unknown account waits for
// a bcrypt slot exactly like a known one.
func TestUnknownEmailSpendsABcryptComparison(t *testing.T) {
	s := stack(t, func(p *auth.Policy) {
		p.BcryptCost = 5
		p.MaxConcurrentHashes = 1
		p.HashWait = 10 * time.Millisecond
	}, auth.Limits{})
	if cost, err := bcrypt.Cost(auth.DummyHash(s.Service)); err != nil || cost != 5 {
		t.Fatalf("dummy hash cost = %d (%v), want the configured 5", cost, err)
	}
	release := auth.HoldHashSlots(s.Service)
	defer release()
	_, err := s.Service.Login(context.Background(), "nobody@example.com", "not the password")
	if code(err) != auth.CodeRateLimited {
		t.Fatalf("unknown e-mail with every bcrypt slot busy: %v; it did not wait for a comparison", err)
	}
}

func TestLoginUpgradesAWeakerHash(t *testing.T) {
	s := stack(t, func(p *auth.Policy) { p.BcryptCost = 6 }, auth.Limits{})
	weak, _ := bcrypt.GenerateFromPassword([]byte(testserver.Password), 4)
	u := auth.User{ID: "u-weak", Email: "old@example.com", Name: "Old", PasswordHash: weak, CreatedAt: testserver.Epoch}
	if err := s.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Service.Login(context.Background(), "old@example.com", testserver.Password); err != nil {
		t.Fatalf("login: %v", err)
	}
	stored, err := s.Store.UserByID(context.Background(), "u-weak")
	if err != nil {
		t.Fatal(err)
	}
	if cost, _ := bcrypt.Cost(stored.PasswordHash); cost != 6 {
		t.Fatalf("hash cost after login = %d, want the configured 6", cost)
	}
	if _, err := s.Service.Login(context.Background(), "old@example.com", testserver.Password); err != nil {
		t.Fatalf("login with the upgraded hash: %v", err)
	}
}

func TestFailedLoginBudgetIsPerAccount(t *testing.T) {
	clock := &testserver.Clock{}
	two, _ := ratelimit.ParseRate("2/15m")
	s := stack(t, nil, auth.Limits{LoginFailures: ratelimit.New(two, clock.Now)})
	s.SignUp(t, "ada@example.com")
	s.SignUp(t, "bob@example.com")
	ctx := context.Background()
	for range 2 {
		s.Service.Login(ctx, "ada@example.com", "wrong password")
		s.Service.Login(ctx, "nobody@example.com", "wrong password")
	}
	// The budget is spent: even the right password waits.
	if _, err := s.Service.Login(ctx, "ADA@example.com", testserver.Password); code(err) != auth.CodeRateLimited {
		t.Fatalf("third attempt on a flooded account: %v", err)
	}
	// Unknown accounts are limited the same way, so a 429 reveals nothing.
	if _, err := s.Service.Login(ctx, "nobody@example.com", "wrong password"); code(err) != auth.CodeRateLimited {
		t.Fatalf("third attempt on an unknown account: %v", err)
	}
	// Another account's budget is untouched.
	if _, err := s.Service.Login(ctx, "bob@example.com", testserver.Password); err != nil {
		t.Fatalf("another account: %v", err)
	}
}

func TestHashWorkIsBounded(t *testing.T) {
	s := stack(t, func(p *auth.Policy) {
		p.MaxConcurrentHashes = 1
		p.HashWait = 10 * time.Millisecond
	}, auth.Limits{})
	release := auth.HoldHashSlots(s.Service)
	_, err := s.Service.Register(context.Background(), "ada@example.com", testserver.Password, "Ada")
	if e := auth.ErrorOf(err); e.Code != auth.CodeRateLimited || e.RetryAfter <= 0 {
		t.Fatalf("register with every bcrypt slot busy: %v, want RATE_LIMITED with Retry-After", err)
	}
	release()
	if _, err := s.Service.Register(context.Background(), "ada@example.com", testserver.Password, "Ada"); err != nil {
		t.Fatalf("register once a slot is free: %v (no data may be lost to the refusal)", err)
	}
}

func TestOverlongPasswordIsRefusedBeforeHashing(t *testing.T) {
	s := stack(t, func(p *auth.Policy) {
		p.MaxConcurrentHashes = 1
		p.HashWait = time.Millisecond
	}, auth.Limits{})
	release := auth.HoldHashSlots(s.Service)
	defer release()
	huge := strings.Repeat("p", 1<<20)
	// With every slot busy, only a refusal before hashing answers
	// BAD_USER_INPUT rather than RATE_LIMITED.
	if _, err := s.Service.Register(context.Background(), "ada@example.com", huge, "Ada"); code(err) != auth.CodeBadUserInput {
		t.Fatalf("register with a 1 MB password: %v", err)
	}
	if _, err := s.Service.Login(context.Background(), "ada@example.com", huge); code(err) != auth.CodeBadUserInput {
		t.Fatalf("login with a 1 MB password: %v", err)
	}
}
