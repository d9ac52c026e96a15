package storetest

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// Store is what a store under the recovery contract implements: both
// interfaces of the domain.
type Store interface {
	auth.Store
	auth.RecoveryStore
}

// RunRecovery runs the contract of auth.RecoveryStore and of the e-mail
// key, on a fresh store per subtest, like Run.
func RunRecovery(t *testing.T, open func(t testing.TB) Store) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s Store)
	}{
		{"CreateUser and UserByEmail treat every spelling of one mailbox as one account", testEmailKeyInStore},
		{"RequestLink stores the link and queues the mail to the address as typed", testRequestLink},
		{"RequestLink for an unknown address queues nothing but spends the budget", testRequestLinkUnknown},
		{"RequestLink by user id finds the user", testRequestLinkByID},
		{"RequestLink spends at most the budget per window, then a new window starts", testRequestLinkBudget},
		{"RequestLink supersedes the user's older link of the same kind only", testRequestLinkSupersedes},
		{"ResetPassword uses the link once, sets the hash, counter, verified flag, ends sessions, queues the notice", testResetPassword},
		{"ResetPassword refuses a wrong hash, an expired link or another kind, and changes nothing", testResetPasswordRefused},
		{"VerifyEmail uses the link once and marks the address verified", testVerifyEmail},
		{"DeleteUser deletes the user, its sessions and its links", testDeleteUser},
		{"QueueMail queues to the user's address; ErrNotFound for no user", testQueueMail},
		{"PruneLinks deletes links expired before the cutoff", testPruneLinks},
		{"ClaimMail claims due mail once, oldest first, and not mail due later", testClaimMail},
		{"ClaimMail never hands one mail to two of 8 concurrent claimers", testClaimMailConcurrent},
		{"MarkMailSent, RetryMail and FailMail move only mail being sent", testMailStates},
		{"AbandonMail marks stale claims of unknown fate, never to be sent again", testAbandonMail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

// linkReq is a request for a reset link for email, within a budget of 5 per
// hour, at now.
func linkReq(email string, kind auth.LinkKind, now time.Time) auth.LinkRequest {
	id := nextID("link")
	return auth.LinkRequest{
		EmailKey:  auth.EmailKey(email),
		BudgetKey: []byte("budget:" + auth.EmailKey(email)),
		Budget:    5,
		Window:    time.Hour,
		Now:       now,
		Link: auth.Link{ID: id, TokenHash: []byte("hash-of-" + id), Kind: kind,
			CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute)},
		Mail: auth.Mail{ID: nextID("mail"), Template: "password_reset", Payload: []byte{0, 1, 2, 0xff}, CreatedAt: now},
	}
}

func mustRequest(t testing.TB, s Store, r auth.LinkRequest, want auth.LinkOutcome) {
	t.Helper()
	got, err := s.RequestLink(t.Context(), r)
	if err != nil || got != want {
		t.Fatalf("RequestLink = %v, %v; want %v", got, err, want)
	}
}

func mustClaim(t testing.TB, s Store, now time.Time, limit int) []auth.Mail {
	t.Helper()
	list, err := s.ClaimMail(t.Context(), now, limit)
	if err != nil {
		t.Fatalf("ClaimMail: %v", err)
	}
	return list
}

func mailIDs(list []auth.Mail) []string {
	out := make([]string, len(list))
	for i, m := range list {
		out[i] = m.ID
	}
	return out
}

func testEmailKeyInStore(t *testing.T, s Store) {
	for _, p := range [][2]string{
		{"ΟΔΟΣ@x.example", "οδος@x.example"},
		{"ſam@x.example", "sam@x.example"},
		{"jos\u00e9@x.example", "jose\u0301@x.example"},
		{"p@bücher.example", "p@xn--bcher-kva.example"},
	} {
		u := newUser(t, s, p[0])
		err := s.CreateUser(t.Context(), auth.User{ID: nextID("user"), Email: p[1], Name: "Twin", PasswordHash: []byte("h"), CreatedAt: Base})
		wantErr(t, "CreateUser("+p[1]+") after "+p[0], err, auth.ErrEmailTaken)
		got, err := s.UserByEmail(t.Context(), p[1])
		if err != nil || got.ID != u.ID || got.Email != p[0] {
			t.Errorf("UserByEmail(%q) = %+v, %v; want %s stored as %q", p[1], got, err, u.ID, p[0])
		}
	}
}

func testRequestLink(t *testing.T, s Store) {
	u := newUser(t, s, "Réset@Example.test")
	r := linkReq("réset@example.TEST", auth.LinkPasswordReset, Base)
	mustRequest(t, s, r, auth.LinkQueued)
	l, err := s.LinkByID(t.Context(), r.Link.ID)
	want := r.Link
	want.UserID = u.ID
	if err != nil || !bytes.Equal(l.TokenHash, want.TokenHash) || l.UserID != u.ID || l.Kind != want.Kind ||
		!l.CreatedAt.Equal(want.CreatedAt) || !l.ExpiresAt.Equal(want.ExpiresAt) || l.ExpiresAt.Location() != time.UTC {
		t.Errorf("LinkByID = %+v, %v; want %+v", l, err, want)
	}
	got := mustClaim(t, s, Base, 10)
	if len(got) != 1 || got[0].ID != r.Mail.ID || got[0].To != u.Email || got[0].Template != r.Mail.Template ||
		!bytes.Equal(got[0].Payload, r.Mail.Payload) || got[0].Attempts != 1 || !got[0].CreatedAt.Equal(Base) {
		t.Errorf("ClaimMail = %+v; want the mail to %q with its payload, attempt 1", got, u.Email)
	}
	_, err = s.LinkByID(t.Context(), "no-such-link")
	wantErr(t, "LinkByID(unknown)", err, auth.ErrNotFound)
}

func testRequestLinkUnknown(t *testing.T, s Store) {
	for i := range 5 {
		r := linkReq("nobody@example.test", auth.LinkPasswordReset, Base.Add(time.Duration(i)*time.Second))
		mustRequest(t, s, r, auth.LinkNoAccount)
		_, err := s.LinkByID(t.Context(), r.Link.ID)
		wantErr(t, "LinkByID(the link of a request without an account)", err, auth.ErrNotFound)
		_, err = s.ResetPassword(t.Context(), reset(r, r.Now))
		wantErr(t, "ResetPassword(the link of a request without an account)", err, auth.ErrNotFound)
	}
	mustRequest(t, s, linkReq("nobody@example.test", auth.LinkPasswordReset, Base.Add(time.Minute)), auth.LinkBudgetSpent)
	if got := mustClaim(t, s, Base.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("ClaimMail = %v; want nothing queued", mailIDs(got))
	}
}

func testRequestLinkByID(t *testing.T, s Store) {
	u := newUser(t, s, "")
	r := linkReq("ignored@example.test", auth.LinkEmailVerification, Base)
	r.EmailKey, r.UserID = "", u.ID
	mustRequest(t, s, r, auth.LinkQueued)
	if l, err := s.LinkByID(t.Context(), r.Link.ID); err != nil || l.UserID != u.ID || l.Kind != auth.LinkEmailVerification {
		t.Errorf("LinkByID = %+v, %v", l, err)
	}
	r = linkReq("", auth.LinkEmailVerification, Base)
	r.EmailKey, r.UserID = "", "no-such-user"
	mustRequest(t, s, r, auth.LinkNoAccount)
}

func testRequestLinkBudget(t *testing.T, s Store) {
	u := newUser(t, s, "")
	for i := range 5 {
		mustRequest(t, s, linkReq(u.Email, auth.LinkPasswordReset, Base.Add(time.Duration(i)*time.Minute)), auth.LinkQueued)
	}
	for i := range 3 {
		mustRequest(t, s, linkReq(u.Email, auth.LinkPasswordReset, Base.Add(59*time.Minute+time.Duration(i)*time.Second)), auth.LinkBudgetSpent)
	}
	if got := mustClaim(t, s, Base.Add(2*time.Hour), 100); len(got) != 5 {
		t.Errorf("ClaimMail: %d mails queued; want the budget's 5", len(got))
	}
	// The window began at Base; an hour later a new one starts.
	mustRequest(t, s, linkReq(u.Email, auth.LinkPasswordReset, Base.Add(time.Hour)), auth.LinkQueued)
	// Another address has its own budget.
	other := newUser(t, s, "")
	mustRequest(t, s, linkReq(other.Email, auth.LinkPasswordReset, Base.Add(59*time.Minute)), auth.LinkQueued)
}

func testRequestLinkSupersedes(t *testing.T, s Store) {
	u := newUser(t, s, "")
	first := linkReq(u.Email, auth.LinkPasswordReset, Base)
	verify := linkReq(u.Email, auth.LinkEmailVerification, Base)
	mustRequest(t, s, first, auth.LinkQueued)
	mustRequest(t, s, verify, auth.LinkQueued)
	second := linkReq(u.Email, auth.LinkPasswordReset, Base.Add(time.Minute))
	mustRequest(t, s, second, auth.LinkQueued)
	_, err := s.LinkByID(t.Context(), first.Link.ID)
	wantErr(t, "LinkByID(superseded)", err, auth.ErrNotFound)
	for _, id := range []string{second.Link.ID, verify.Link.ID} {
		if _, err := s.LinkByID(t.Context(), id); err != nil {
			t.Errorf("LinkByID(%s): %v; want it still pending", id, err)
		}
	}
	_, err = s.ResetPassword(t.Context(), auth.PasswordReset{LinkID: first.Link.ID, TokenHash: first.Link.TokenHash, Hash: []byte("new"), Now: Base.Add(2 * time.Minute)})
	wantErr(t, "ResetPassword(superseded)", err, auth.ErrNotFound)
}

func reset(r auth.LinkRequest, now time.Time) auth.PasswordReset {
	return auth.PasswordReset{LinkID: r.Link.ID, TokenHash: r.Link.TokenHash, Hash: []byte("new-hash"), Now: now,
		Notice: auth.Mail{ID: nextID("notice"), Template: "password_changed", Payload: []byte("sealed"), CreatedAt: now}}
}

func testResetPassword(t *testing.T, s Store) {
	u := newUser(t, s, "")
	a := newSession(t, s, u.ID, Base)
	b := newSession(t, s, u.ID, Base)
	r := linkReq(u.Email, auth.LinkPasswordReset, Base)
	mustRequest(t, s, r, auth.LinkQueued)
	mustClaim(t, s, Base, 10) // the reset mail itself
	now := Base.Add(10 * time.Minute)
	got, err := s.ResetPassword(t.Context(), reset(r, now))
	if err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	want := u
	want.PasswordHash, want.TokenVersion, want.EmailVerified = []byte("new-hash"), u.TokenVersion+1, true
	equalUser(t, "ResetPassword's user", got, want)
	equalUser(t, "UserByID after the reset", mustUser(t, s, u.ID), want)
	for _, id := range []string{a.ID, b.ID} {
		if sess, _ := mustState(t, s, id); !sess.RevokedAt.Equal(now) {
			t.Errorf("session %s: RevokedAt %v; want %v", id, sess.RevokedAt, now)
		}
	}
	notices := mustClaim(t, s, now, 10)
	if len(notices) != 1 || notices[0].Template != "password_changed" || notices[0].To != u.Email {
		t.Errorf("ClaimMail after the reset = %+v; want the notice to %q", notices, u.Email)
	}
	_, err = s.ResetPassword(t.Context(), reset(r, now))
	wantErr(t, "ResetPassword with a used link", err, auth.ErrNotFound)
	if _, err := s.LinkByID(t.Context(), r.Link.ID); err == nil {
		t.Error("LinkByID finds a used link")
	}
}

func testResetPasswordRefused(t *testing.T, s Store) {
	u := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	r := linkReq(u.Email, auth.LinkPasswordReset, Base)
	mustRequest(t, s, r, auth.LinkQueued)
	v := linkReq(u.Email, auth.LinkEmailVerification, Base)
	mustRequest(t, s, v, auth.LinkQueued)

	wrong := reset(r, Base)
	wrong.TokenHash = []byte("hash-of-something-else")
	_, err := s.ResetPassword(t.Context(), wrong)
	wantErr(t, "ResetPassword(wrong hash)", err, auth.ErrNotFound)
	_, err = s.ResetPassword(t.Context(), reset(r, r.Link.ExpiresAt))
	wantErr(t, "ResetPassword(at expiry)", err, auth.ErrNotFound)
	_, err = s.ResetPassword(t.Context(), reset(v, Base))
	wantErr(t, "ResetPassword(a verification link)", err, auth.ErrNotFound)

	equalUser(t, "user after refused resets", mustUser(t, s, u.ID), u)
	if got, _ := mustState(t, s, sess.ID); !got.RevokedAt.IsZero() {
		t.Error("a refused reset revoked a session")
	}
	// Still usable just before expiry.
	if _, err := s.ResetPassword(t.Context(), reset(r, r.Link.ExpiresAt.Add(-time.Microsecond))); err != nil {
		t.Errorf("ResetPassword just before expiry: %v", err)
	}
}

func testVerifyEmail(t *testing.T, s Store) {
	u := newUser(t, s, "")
	r := linkReq(u.Email, auth.LinkEmailVerification, Base)
	mustRequest(t, s, r, auth.LinkQueued)
	_, err := s.VerifyEmail(t.Context(), r.Link.ID, []byte("wrong"), Base)
	wantErr(t, "VerifyEmail(wrong hash)", err, auth.ErrNotFound)
	got, err := s.VerifyEmail(t.Context(), r.Link.ID, r.Link.TokenHash, Base.Add(time.Minute))
	want := u
	want.EmailVerified = true
	if err != nil {
		t.Fatalf("VerifyEmail: %v", err)
	}
	equalUser(t, "VerifyEmail's user", got, want)
	equalUser(t, "UserByID after VerifyEmail", mustUser(t, s, u.ID), want)
	_, err = s.VerifyEmail(t.Context(), r.Link.ID, r.Link.TokenHash, Base.Add(time.Minute))
	wantErr(t, "VerifyEmail twice", err, auth.ErrNotFound)
}

func testDeleteUser(t *testing.T, s Store) {
	u := newUser(t, s, "")
	other := newUser(t, s, "")
	sess := newSession(t, s, u.ID, Base)
	keep := newSession(t, s, other.ID, Base)
	r := linkReq(u.Email, auth.LinkPasswordReset, Base)
	mustRequest(t, s, r, auth.LinkQueued)
	if err := s.DeleteUser(t.Context(), u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err := s.UserByID(t.Context(), u.ID)
	wantErr(t, "UserByID(deleted)", err, auth.ErrNotFound)
	_, _, err = s.SessionState(t.Context(), sess.ID)
	wantErr(t, "SessionState(deleted user's session)", err, auth.ErrNotFound)
	_, err = s.LinkByID(t.Context(), r.Link.ID)
	wantErr(t, "LinkByID(deleted user's link)", err, auth.ErrNotFound)
	mustState(t, s, keep.ID)
	if got := mustClaim(t, s, Base, 10); len(got) != 0 {
		t.Errorf("ClaimMail after DeleteUser = %v; want the deleted user's queued mail gone", mailIDs(got))
	}
	wantErr(t, "DeleteUser(again)", s.DeleteUser(t.Context(), u.ID), auth.ErrNotFound)
	// The address is free again.
	newUser(t, s, u.Email)
}

func testQueueMail(t *testing.T, s Store) {
	u := newUser(t, s, "Notice@Example.test")
	m := auth.Mail{ID: nextID("mail"), Template: "password_changed", Payload: []byte("p"), CreatedAt: Base}
	if err := s.QueueMail(t.Context(), u.ID, m); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "QueueMail(unknown user)", s.QueueMail(t.Context(), "no-such-user",
		auth.Mail{ID: nextID("mail"), Template: "x", Payload: []byte("p"), CreatedAt: Base}), auth.ErrNotFound)
	got := mustClaim(t, s, Base, 10)
	if len(got) != 1 || got[0].ID != m.ID || got[0].To != u.Email {
		t.Errorf("ClaimMail = %+v; want %s to %q", got, m.ID, u.Email)
	}
}

func testPruneLinks(t *testing.T, s Store) {
	u := newUser(t, s, "")
	old := linkReq(u.Email, auth.LinkPasswordReset, Base)
	fresh := linkReq(u.Email, auth.LinkEmailVerification, Base.Add(time.Hour))
	mustRequest(t, s, old, auth.LinkQueued)
	mustRequest(t, s, fresh, auth.LinkQueued)
	n, err := s.PruneLinks(t.Context(), Base.Add(time.Hour))
	if err != nil || n != 1 {
		t.Errorf("PruneLinks = %d, %v; want 1", n, err)
	}
	if _, err := s.LinkByID(t.Context(), fresh.Link.ID); err != nil {
		t.Errorf("PruneLinks took a live link: %v", err)
	}
	// A budget window that began before the cutoff goes too: the address
	// has its whole budget again.
	v := newUser(t, s, "")
	for range 5 {
		mustRequest(t, s, linkReq(v.Email, auth.LinkPasswordReset, Base.Add(2*time.Hour)), auth.LinkQueued)
	}
	mustRequest(t, s, linkReq(v.Email, auth.LinkPasswordReset, Base.Add(2*time.Hour)), auth.LinkBudgetSpent)
	if _, err := s.PruneLinks(t.Context(), Base.Add(2*time.Hour+time.Second)); err != nil {
		t.Fatal(err)
	}
	mustRequest(t, s, linkReq(v.Email, auth.LinkPasswordReset, Base.Add(2*time.Hour+2*time.Second)), auth.LinkQueued)
}

// queue queues n mails for one user, created a second apart from at.
func queue(t testing.TB, s Store, n int, at time.Time) []string {
	t.Helper()
	u := newUser(t, s, "")
	var out []string
	for i := range n {
		m := auth.Mail{ID: nextID("mail"), Template: "password_changed", Payload: []byte("p"), CreatedAt: at.Add(time.Duration(i) * time.Second)}
		if err := s.QueueMail(t.Context(), u.ID, m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m.ID)
	}
	return out
}

func testClaimMail(t *testing.T, s Store) {
	ids := queue(t, s, 3, Base)
	later := queue(t, s, 1, Base.Add(time.Hour))
	if got := mailIDs(mustClaim(t, s, Base.Add(time.Minute), 2)); !slices.Equal(got, ids[:2]) {
		t.Errorf("ClaimMail(limit 2) = %v; want the oldest %v", got, ids[:2])
	}
	if got := mailIDs(mustClaim(t, s, Base.Add(time.Minute), 10)); !slices.Equal(got, ids[2:]) {
		t.Errorf("second ClaimMail = %v; want %v", got, ids[2:])
	}
	if got := mustClaim(t, s, Base.Add(time.Minute), 10); len(got) != 0 {
		t.Errorf("third ClaimMail = %v; want nothing (the rest is due later)", mailIDs(got))
	}
	if got := mailIDs(mustClaim(t, s, Base.Add(time.Hour), 10)); !slices.Equal(got, later) {
		t.Errorf("ClaimMail when due = %v; want %v", got, later)
	}
}

func testClaimMailConcurrent(t *testing.T, s Store) {
	ids := queue(t, s, 40, Base)
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				list, err := s.ClaimMail(t.Context(), Base.Add(time.Hour), 3)
				if err != nil {
					t.Errorf("ClaimMail: %v", err)
					return
				}
				if len(list) == 0 {
					return
				}
				mu.Lock()
				got = append(got, mailIDs(list)...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("claimed %d mails (%v); want each of the %d exactly once", len(got), got, len(want))
	}
}

func testMailStates(t *testing.T, s Store) {
	ids := queue(t, s, 3, Base)
	now := Base.Add(time.Minute)
	for _, id := range ids {
		wantErr(t, "MarkMailSent(queued, not claimed)", s.MarkMailSent(t.Context(), id, now), auth.ErrNotFound)
	}
	mustClaim(t, s, now, 10)
	if err := s.MarkMailSent(t.Context(), ids[0], now); err != nil {
		t.Errorf("MarkMailSent: %v", err)
	}
	if err := s.RetryMail(t.Context(), ids[1], now.Add(time.Minute), "421 try later"); err != nil {
		t.Errorf("RetryMail: %v", err)
	}
	if err := s.FailMail(t.Context(), ids[2], now, "550 no such mailbox"); err != nil {
		t.Errorf("FailMail: %v", err)
	}
	for _, id := range ids {
		wantErr(t, "MarkMailSent(no longer being sent)", s.MarkMailSent(t.Context(), id, now), auth.ErrNotFound)
		wantErr(t, "RetryMail(no longer being sent)", s.RetryMail(t.Context(), id, now, "x"), auth.ErrNotFound)
		wantErr(t, "FailMail(no longer being sent)", s.FailMail(t.Context(), id, now, "x"), auth.ErrNotFound)
	}
	if got := mustClaim(t, s, now.Add(59*time.Second), 10); len(got) != 0 {
		t.Errorf("ClaimMail before the retry is due = %v", mailIDs(got))
	}
	got := mustClaim(t, s, now.Add(time.Minute), 10)
	if len(got) != 1 || got[0].ID != ids[1] || got[0].Attempts != 2 {
		t.Errorf("ClaimMail when the retry is due = %+v; want %s at attempt 2 (sent and failed mail never again)", got, ids[1])
	}
}

func testAbandonMail(t *testing.T, s Store) {
	ids := queue(t, s, 2, Base)
	mustClaim(t, s, Base, 1)                     // ids[0], claimed at Base
	mustClaim(t, s, Base.Add(10*time.Minute), 1) // ids[1], claimed later
	got, err := s.AbandonMail(t.Context(), Base.Add(5*time.Minute), Base.Add(10*time.Minute))
	if err != nil || !slices.Equal(got, ids[:1]) {
		t.Errorf("AbandonMail = %v, %v; want %v", got, err, ids[:1])
	}
	wantErr(t, "MarkMailSent(abandoned)", s.MarkMailSent(t.Context(), ids[0], Base), auth.ErrNotFound)
	if err := s.MarkMailSent(t.Context(), ids[1], Base.Add(11*time.Minute)); err != nil {
		t.Errorf("MarkMailSent(the fresh claim): %v", err)
	}
	if got := mustClaim(t, s, Base.Add(24*time.Hour), 10); len(got) != 0 {
		t.Errorf("ClaimMail after AbandonMail = %v; want nothing", mailIDs(got))
	}
}
