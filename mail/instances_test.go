package mail_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/pgtest"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/mail"
	"github.com/tokengate/tokengate/store/postgres"
	"github.com/tokengate/tokengate/store/sqlite"
)

type outboxStore interface {
	auth.Store
	auth.RecoveryStore
}

// twoInstances queues mails through one store handle, then lets two
// workers, each on its own handle of the same database, drain the queue at
// once: every mail must arrive exactly once.
func twoInstances(t *testing.T, a, b outboxStore) {
	const users, perUser = 10, 4
	clock := testserver.NewClock(testserver.Epoch)
	key, err := auth.NewLinkKey(linkSecret)
	if err != nil {
		t.Fatal(err)
	}
	stack := testserver.NewStack(t, testserver.Options{Store: a})
	rec, err := auth.NewRecovery(stack.Service, a, key, auth.DefaultRecoveryConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := range users {
		tokens := stack.SignUp(t, fmt.Sprintf("user%d@example.com", i))
		for range perUser {
			if err := rec.NotifyPasswordChanged(t.Context(), tokens.User.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv := startSMTP(t)
	var wg sync.WaitGroup
	// Four workers on each instance, so claims overlap in time.
	for _, st := range []outboxStore{a, b, a, b, a, b, a, b} {
		s := mail.NewSMTPSender(mail.SMTPConfig{Host: "localhost", Port: 25}, 10*time.Second)
		mail.DialThrough(s, srv.Addr)
		w := mail.NewWorker(st, key, nil, s, mail.WorkerConfig{Batch: 2}, clock.Now, stack.Logger)
		wg.Go(func() {
			for {
				n, err := w.RunOnce(t.Context())
				if err != nil {
					t.Errorf("RunOnce: %v", err)
					return
				}
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for _, m := range srv.Received() {
		seen[m.Msg.Header.Get("Message-Id")]++
	}
	if len(seen) != users*perUser {
		t.Errorf("%d distinct mails arrived; want %d", len(seen), users*perUser)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("mail %s arrived %d times", id, n)
		}
	}
}

func TestTwoInstancesNeverSendOneMailTwicePostgres(t *testing.T) {
	pgtest.Require(t)
	url := pgtest.URL(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	twoInstances(t, open(), open())
}

func TestTwoInstancesNeverSendOneMailTwiceSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokengate.db")
	open := func() *sqlite.Store {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	twoInstances(t, open(), open())
}
