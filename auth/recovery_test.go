package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/ratelimit"
	"github.com/tokengate/tokengate/store/sqlite"
)

// recoveryStack is a test stack with the recovery operations on a real
// SQLite store.
type recoveryStack struct {
	*testserver.Stack
	Recovery *auth.Recovery
	Store    *sqlite.Store
	Key      *auth.LinkKey
}

var linkSecret = []byte("test-link-secret-0123456789abcdef0123")

func newRecovery(t testing.TB, path string, limits auth.Limits) *recoveryStack {
	t.Helper()
	if path == "" {
		path = sqlite.Memory
	}
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	stack := testserver.NewStack(t, testserver.Options{Store: st, Limits: limits})
	key, err := auth.NewLinkKey(linkSecret)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := auth.NewRecovery(stack.Service, st, key, auth.DefaultRecoveryConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &recoveryStack{Stack: stack, Recovery: rec, Store: st, Key: key}
}

// mails claims every queued mail and returns them with their opened values.
func (s *recoveryStack) mails(t testing.TB) ([]auth.Mail, []auth.MailValues) {
	t.Helper()
	list, err := s.Store.ClaimMail(t.Context(), s.Clock.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	var values []auth.MailValues
	for _, m := range list {
		v, err := s.Key.OpenMail(m)
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, v)
		if err := s.Store.MarkMailSent(t.Context(), m.ID, s.Clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return list, values
}

// link asks for a reset (or, with a caller, a verification) and returns the
// token from the one mail it sent.
func (s *recoveryStack) resetToken(t testing.TB, email string) string {
	t.Helper()
	if err := s.Recovery.RequestPasswordReset(t.Context(), email); err != nil {
		t.Fatalf("RequestPasswordReset: %v", err)
	}
	return s.onlyToken(t, "/reset-password#token=")
}

func (s *recoveryStack) onlyToken(t testing.TB, page string) string {
	t.Helper()
	list, values := s.mails(t)
	if len(list) != 1 {
		t.Fatalf("%d mails queued; want 1", len(list))
	}
	link := values[0]["link"]
	i := strings.Index(link, page)
	if i < 0 || !strings.HasPrefix(link, "http://localhost:8080/") {
		t.Fatalf("link %q: want http://localhost:8080%s…", link, page)
	}
	return link[i+len(page):]
}

func asCaller(tokens auth.Tokens) context.Context {
	return auth.NewContextWithCaller(context.Background(), auth.Caller{UserID: tokens.User.ID, SessionID: tokens.SessionID})
}

func TestPasswordResetEndsEverySessionAndSignsIn(t *testing.T) {
	s := newRecovery(t, "", auth.Limits{})
	old := s.SignUp(t, "Reset.Me@Example.com")
	token := s.resetToken(t, "reset.me@EXAMPLE.com")
	if len(token) < 22 { // 128 bits in base64url
		t.Fatalf("token %q is shorter than 128 bits", token)
	}

	got, err := s.Recovery.ResetPassword(t.Context(), token, "a brand new password")
	if err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	if got.User.ID != old.User.ID || !got.User.EmailVerified || got.User.TokenVersion != old.User.TokenVersion+1 {
		t.Errorf("ResetPassword user = %+v; want the same user, verified, counter + 1", got.User)
	}
	if _, err := s.Service.Rotate(t.Context(), old.RefreshToken); auth.ErrorOf(err).Reason != auth.ReasonSessionRevoked {
		t.Errorf("old refresh token after a reset: %v; want SESSION_REVOKED", err)
	}
	if _, err := s.Service.Rotate(t.Context(), got.RefreshToken); err != nil {
		t.Errorf("new session's refresh token: %v", err)
	}
	if _, err := s.Service.Login(t.Context(), "reset.me@example.com", testserver.Password); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("old password after the reset: %v; want INVALID_CREDENTIALS", err)
	}
	if _, err := s.Service.Login(t.Context(), "reset.me@example.com", "a brand new password"); err != nil {
		t.Errorf("new password: %v", err)
	}
	list, _ := s.mails(t)
	if len(list) != 1 || list[0].Template != auth.MailPasswordChanged || list[0].To != "Reset.Me@Example.com" {
		t.Errorf("after the reset: %+v; want one password-changed notice to the address as typed", list)
	}
	// Single use.
	if _, err := s.Recovery.ResetPassword(t.Context(), token, "yet another password"); !errors.Is(err, auth.ErrLinkInvalid) {
		t.Errorf("second use: %v; want LINK_INVALID", err)
	}
}

func TestLinkExpiresOnTheInjectedClock(t *testing.T) {
	s := newRecovery(t, "", auth.Limits{})
	s.SignUp(t, "expiry@example.com")
	token := s.resetToken(t, "expiry@example.com")
	s.Clock.Advance(30*time.Minute - time.Second)
	if _, err := s.Recovery.ResetPassword(t.Context(), token, "short"); auth.ErrorOf(err).Code != auth.CodeBadUserInput {
		t.Fatalf("a second before expiry, a bad password: %v; want BAD_USER_INPUT", err)
	}
	s.Clock.Advance(time.Second)
	if _, err := s.Recovery.ResetPassword(t.Context(), token, "a good new password"); !errors.Is(err, auth.ErrLinkInvalid) {
		t.Errorf("at expiry: %v; want LINK_INVALID", err)
	}
}

func TestBadNewPasswordLeavesTheLinkUsable(t *testing.T) {
	s := newRecovery(t, "", auth.Limits{})
	s.SignUp(t, "keep@example.com")
	token := s.resetToken(t, "keep@example.com")
	for _, pw := range []string{"", "short", strings.Repeat("x", 73)} {
		if _, err := s.Recovery.ResetPassword(t.Context(), token, pw); auth.ErrorOf(err).Code != auth.CodeBadUserInput {
			t.Errorf("ResetPassword(%d bytes): %v; want BAD_USER_INPUT", len(pw), err)
		}
	}
	if _, err := s.Recovery.ResetPassword(t.Context(), token, "a good new password"); err != nil {
		t.Errorf("after refused passwords: %v; want the link still good", err)
	}
}

func TestNewerLinkSupersedesTheOlder(t *testing.T) {
	s := newRecovery(t, "", auth.Limits{})
	s.SignUp(t, "twice@example.com")
	first := s.resetToken(t, "twice@example.com")
	second := s.resetToken(t, "twice@example.com")
	if _, err := s.Recovery.ResetPassword(t.Context(), first, "a good new password"); !errors.Is(err, auth.ErrLinkInvalid) {
		t.Errorf("superseded link: %v; want LINK_INVALID", err)
	}
	if _, err := s.Recovery.ResetPassword(t.Context(), second, "a good new password"); err != nil {
		t.Errorf("newest link: %v", err)
	}
}

func TestEveryBadLinkIsOneError(t *testing.T) {
	s := newRecovery(t, "", auth.Limits{})
	tokens := s.SignUp(t, "bad@example.com")
	good := s.resetToken(t, "bad@example.com")
	if err := s.Recovery.RequestEmailVerification(asCaller(tokens)); err != nil {
		t.Fatal(err)
	}
	verify := s.onlyToken(t, "/verify-email#token=")
	flip := []byte(good)
	flip[len(flip)-2] ^= 1 // same id, another secret
	var msgs []string
	for name, tok := range map[string]string{
		"empty":                   "",
		"garbage":                 "not-a-token",
		"altered secret":          string(flip),
		"unknown":                 strings.Repeat("A", 64),
		"verification as a reset": verify,
	} {
		_, err := s.Recovery.ResetPassword(t.Context(), tok, "a good new password")
		if !errors.Is(err, auth.ErrLinkInvalid) {
			t.Errorf("%s: %v; want LINK_INVALID", name, err)
			continue
		}
		msgs = append(msgs, auth.ErrorOf(err).Message)
	}
	if _, err := s.Recovery.VerifyEmail(t.Context(), good); !errors.Is(err, auth.ErrLinkInvalid) {
		t.Errorf("a reset token as a verification: %v; want LINK_INVALID", err)
	}
	slices.Sort(msgs)
	if len(slices.Compact(msgs)) != 1 {
		t.Errorf("messages differ: %q", msgs)
	}
	if _, err := s.Recovery.ResetPassword(t.Context(), good, "a good new password"); err != nil {
		t.Errorf("the good link after the bad attempts: %v", err)
	}
}

func TestVerifyEmailNeedsOnlyTheLink(t *testing.T) {
	s := newRecovery(t, "", auth.Limits{})
	tokens := s.SignUp(t, "verify@example.com")
	if tokens.User.EmailVerified {
		t.Fatal("a new account is verified")
	}
	if err := s.Recovery.RequestEmailVerification(context.Background()); auth.ErrorOf(err).Code != auth.CodeUnauthenticated {
		t.Errorf("RequestEmailVerification without a caller: %v", err)
	}
	if err := s.Recovery.RequestEmailVerification(asCaller(tokens)); err != nil {
		t.Fatal(err)
	}
	token := s.onlyToken(t, "/verify-email#token=")
	u, err := s.Recovery.VerifyEmail(context.Background(), token)
	if err != nil || !u.EmailVerified || u.ID != tokens.User.ID {
		t.Fatalf("VerifyEmail = %+v, %v", u, err)
	}
	if me, _ := s.Service.Me(asCaller(tokens)); !me.EmailVerified {
		t.Error("Me after VerifyEmail: not verified")
	}
	if _, err := s.Recovery.VerifyEmail(context.Background(), token); !errors.Is(err, auth.ErrLinkInvalid) {
		t.Errorf("second VerifyEmail: %v; want LINK_INVALID", err)
	}
	s.Clock.Advance(47 * time.Hour)
	if err := s.Recovery.RequestEmailVerification(asCaller(tokens)); err != nil {
		t.Fatal(err)
	}
	token = s.onlyToken(t, "/verify-email#token=")
	s.Clock.Advance(48 * time.Hour)
	if _, err := s.Recovery.VerifyEmail(context.Background(), token); !errors.Is(err, auth.ErrLinkInvalid) {
		t.Errorf("VerifyEmail after 48h: %v; want LINK_INVALID", err)
	}
}

func TestForgotPasswordAnswersTheSameForUnknownAddresses(t *testing.T) {
	s := newRecovery(t, "", auth.Limits{})
	s.SignUp(t, "known@example.com")
	for _, email := range []string{"known@example.com", "unknown@example.com"} {
		if err := s.Recovery.RequestPasswordReset(t.Context(), email); err != nil {
			t.Errorf("RequestPasswordReset(%s) = %v; want nil", email, err)
		}
	}
	list, _ := s.mails(t)
	if len(list) != 1 || list[0].To != "known@example.com" {
		t.Errorf("mails: %+v; want one, to the known address", list)
	}
	if err := s.Recovery.RequestPasswordReset(t.Context(), "not an address"); auth.ErrorOf(err).Code != auth.CodeBadUserInput {
		t.Errorf("RequestPasswordReset(not an address) = %v; want BAD_USER_INPUT", err)
	}
}

// The forgot-password request does the same work whether or not the
// address has an account: the same statements in one write transaction.
// This measures it on a file database (commits reach the disk) and fails
// when the medians part by more than 3x, far beyond the noise, which a
// branch that skipped the write for unknown addresses would show.
func TestForgotPasswordTakesTheSameTime(t *testing.T) {
	if testing.Short() {
		t.Skip("timing: 400 requests")
	}
	s := newRecovery(t, filepath.Join(t.TempDir(), "tokengate.db"), auth.Limits{})
	s.SignUp(t, "known@example.com")
	const samples = 200
	var known, unknown []time.Duration
	for i := range 2 * samples {
		// Interleaved, so a neighbour's burst hits both alike. A clock
		// step per pair keeps the e-mail budget from ever being spent.
		s.Clock.Advance(time.Hour)
		email := "known@example.com"
		if i%2 == 1 {
			email = "unknown@example.com"
		}
		start := time.Now()
		if err := s.Recovery.RequestPasswordReset(t.Context(), email); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			known = append(known, time.Since(start))
		} else {
			unknown = append(unknown, time.Since(start))
		}
	}
	median := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	mk, mu := median(known), median(unknown)
	t.Logf("forgot-password medians over %d samples each: account %v, no account %v", samples, mk, mu)
	if mk > 3*mu || mu > 3*mk {
		t.Errorf("medians %v (account) and %v (no account) differ by more than 3x", mk, mu)
	}
}

func TestEmailBudgetStopsSendingButNotTheAnswer(t *testing.T) {
	s := newRecovery(t, "", auth.Limits{})
	s.SignUp(t, "flood@example.com")
	for i := range 20 {
		// Every spelling of the address spends one budget.
		email := []string{"flood@example.com", "FLOOD@example.com", "ｆlood@example.com"}[i%3]
		if err := s.Recovery.RequestPasswordReset(t.Context(), email); err != nil {
			t.Fatalf("request %d: %v; want nil even past the budget", i, err)
		}
	}
	if list, _ := s.mails(t); len(list) != 5 {
		t.Errorf("%d mails queued by a flood of 20; want the budget's 5", len(list))
	}
	s.Clock.Advance(time.Hour)
	if err := s.Recovery.RequestPasswordReset(t.Context(), "flood@example.com"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.mails(t); len(list) != 1 {
		t.Errorf("%d mails an hour later; want 1", len(list))
	}
}

func TestRequestsSpendTheIPBudget(t *testing.T) {
	ip := ratelimit.New(ratelimit.Rate{N: 3, Per: time.Minute}, time.Now)
	s := newRecovery(t, "", auth.Limits{IP: ip})
	ctx := auth.NewContextWithClient(context.Background(), auth.Client{IP: "192.0.2.9"})
	for i := range 3 {
		if err := s.Recovery.RequestPasswordReset(ctx, "x@example.com"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if err := s.Recovery.RequestPasswordReset(ctx, "x@example.com"); auth.ErrorOf(err).Code != auth.CodeRateLimited {
		t.Errorf("fourth request from one IP: %v; want RATE_LIMITED", err)
	}
}

func TestDeleteAccountChecksThePasswordAndEndsEverything(t *testing.T) {
	s := newRecovery(t, "", auth.Limits{})
	tokens := s.SignUp(t, "leaving@example.com")
	ctx := asCaller(tokens)
	if err := s.Recovery.DeleteAccount(ctx, "wrong password"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("DeleteAccount(wrong password) = %v; want INVALID_CREDENTIALS", err)
	}
	if err := s.Recovery.DeleteAccount(context.Background(), testserver.Password); auth.ErrorOf(err).Code != auth.CodeUnauthenticated {
		t.Errorf("DeleteAccount without a caller = %v", err)
	}
	token := s.resetToken(t, "leaving@example.com")
	if err := s.Recovery.DeleteAccount(ctx, testserver.Password); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	if _, err := s.Service.Rotate(t.Context(), tokens.RefreshToken); auth.ErrorOf(err).Reason != auth.ReasonSessionRevoked {
		t.Errorf("refresh after deletion: %v; want SESSION_REVOKED", err)
	}
	if _, err := s.Recovery.ResetPassword(t.Context(), token, "a good new password"); !errors.Is(err, auth.ErrLinkInvalid) {
		t.Errorf("pending link after deletion: %v; want LINK_INVALID", err)
	}
	if _, err := s.Service.Login(t.Context(), "leaving@example.com", testserver.Password); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("login after deletion: %v", err)
	}
	s.SignUp(t, "leaving@example.com") // the address is free again
}

func TestNotifyPasswordChangedMailsTheAddress(t *testing.T) {
	s := newRecovery(t, "", auth.Limits{})
	tokens := s.SignUp(t, "Changed@Example.com")
	// The change itself queues the notice, once NewRecovery has run.
	if _, err := s.Service.ChangePassword(asCaller(tokens), testserver.Password, "another good password"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.mails(t); len(list) != 1 || list[0].Template != auth.MailPasswordChanged || list[0].To != "Changed@Example.com" {
		t.Errorf("mails: %+v", list)
	}
}

func TestQueuedMailIsSealed(t *testing.T) {
	s := newRecovery(t, "", auth.Limits{})
	s.SignUp(t, "sealed@example.com")
	if err := s.Recovery.RequestPasswordReset(t.Context(), "sealed@example.com"); err != nil {
		t.Fatal(err)
	}
	list, err := s.Store.ClaimMail(t.Context(), s.Clock.Now(), 10)
	if err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	if strings.Contains(string(list[0].Payload), "token=") {
		t.Error("the payload holds the link in the clear")
	}
	other, _ := auth.NewLinkKey([]byte("another-link-secret-0123456789abcdef"))
	if _, err := other.OpenMail(list[0]); err == nil {
		t.Error("the payload opens under another key")
	}
	moved := list[0]
	moved.ID = "another-mail"
	if _, err := s.Key.OpenMail(moved); err == nil {
		t.Error("the payload opens as another mail")
	}
}

// Rotating the link secret (the new one first, the old one kept) keeps
// what the old one made: a link mailed before still works, and mail queued
// before still opens. What is made after is under the new secret alone, and
// a key that has dropped the old secret honours none of the old links.
func TestLinkKeyRotationKeepsPendingLinksAndMail(t *testing.T) {
	s := newRecovery(t, "", auth.Limits{})
	s.SignUp(t, "rotating@example.com")
	s.SignUp(t, "queued@example.com")
	pending := s.resetToken(t, "rotating@example.com")
	if err := s.Recovery.RequestPasswordReset(t.Context(), "queued@example.com"); err != nil {
		t.Fatal(err)
	}

	newSecret := []byte("the-next-link-secret-0123456789abcdef")
	rotated, err := auth.NewLinkKey(newSecret, linkSecret)
	if err != nil {
		t.Fatal(err)
	}
	s.Key = rotated
	if s.Recovery, err = auth.NewRecovery(s.Service, s.Store, rotated, auth.DefaultRecoveryConfig()); err != nil {
		t.Fatal(err)
	}
	queued := s.onlyToken(t, "/reset-password#token=") // opened with the rotated key
	if _, err := s.Recovery.ResetPassword(t.Context(), pending, "a password after rotation"); err != nil {
		t.Errorf("a link mailed before the rotation: %v", err)
	}
	s.mails(t) // the "your password was changed" notice

	fresh := s.resetToken(t, "rotating@example.com")
	newOnly, err := auth.NewLinkKey(newSecret)
	if err != nil {
		t.Fatal(err)
	}
	if s.Recovery, err = auth.NewRecovery(s.Service, s.Store, newOnly, auth.DefaultRecoveryConfig()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recovery.ResetPassword(t.Context(), queued, "another password here"); !errors.Is(err, auth.ErrLinkInvalid) {
		t.Errorf("a link of the dropped secret: %v, want LINK_INVALID", err)
	}
	if _, err := s.Recovery.ResetPassword(t.Context(), fresh, "a third password here"); err != nil {
		t.Errorf("a link made after the rotation, under the new secret alone: %v", err)
	}
}
