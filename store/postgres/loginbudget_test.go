package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokengate/tokengate/internal/pgtest"
	"github.com/tokengate/tokengate/store/postgres"
)

// budgetClock is a settable clock shared by the instances of a test.
type budgetClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *budgetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *budgetClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newBudgetClock() *budgetClock {
	return &budgetClock{t: time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)}
}

// loginBudget is RATE_LIMIT_LOGIN's default, 10 per 15 minutes.
func loginBudget(s *postgres.Store, c *budgetClock) *postgres.LoginBudget {
	return s.LoginBudget(postgres.LoginBudgetConfig{N: 10, Per: 15 * time.Minute, Clock: c.Now})
}

func TestLoginBudgetRisingDelays(t *testing.T) {
	s := openStore(t, pgtest.URL(t))
	c := newBudgetClock()
	b := loginBudget(s, c)

	// Three failures in a row are free.
	for i := range 3 {
		if retry, ok := b.Spend("victim"); !ok {
			t.Fatalf("failure %d refused (retry %v)", i+1, retry)
		}
	}
	if _, ok := b.Check("victim"); !ok {
		t.Fatal("Check refused after the free failures")
	}
	// Then each one waits longer: 1s, 2s, 4s, ..., never more than 90s.
	for i, want := range []time.Duration{1, 2, 4, 8, 16, 32, 64, 90, 90} {
		want *= time.Second
		if _, ok := b.Spend("victim"); !ok {
			t.Fatalf("failure %d refused at its time", i+4)
		}
		if retry, ok := b.Check("victim"); ok || retry != want {
			t.Fatalf("after failure %d: Check = %v, %v; want %v, false", i+4, retry, ok, want)
		}
		// A refused attempt changes nothing.
		if retry, ok := b.Spend("victim"); ok || retry != want {
			t.Fatalf("after failure %d: Spend = %v, %v; want %v, false", i+4, retry, ok, want)
		}
		c.Advance(want)
	}
	// Other accounts are untouched.
	if _, ok := b.Check("bystander"); !ok {
		t.Error("another account's budget was spent")
	}
	// A budget refilled completely starts the streak again.
	c.Advance(time.Hour)
	for range 3 {
		if _, ok := b.Spend("victim"); !ok {
			t.Fatal("the free failures did not come back after a full refill")
		}
	}
	if retry, ok := b.Spend("victim"); !ok {
		t.Fatalf("fourth failure after the refill refused (%v)", retry)
	}
	if retry, _ := b.Check("victim"); retry != time.Second {
		t.Errorf("delay after the refill = %v; want 1s again", retry)
	}
}

// Three instances on one database allow together what one allows: an
// attacker trying as fast as allowed on every instance for an hour gets
// N + hour/interval attempts, as against one instance.
func TestLoginBudgetIsSharedByInstances(t *testing.T) {
	url := pgtest.URL(t)
	c := newBudgetClock()
	var budgets []*postgres.LoginBudget
	for range 3 {
		budgets = append(budgets, loginBudget(openStore(t, url), c))
	}
	granted := 0
	for sec := 0; sec < 3600; sec++ {
		for _, b := range budgets {
			if _, ok := b.Check("victim"); !ok {
				continue
			}
			if _, ok := b.Spend("victim"); ok {
				granted++
			}
		}
		c.Advance(time.Second)
	}
	// GCRA's bound: 10 at once plus one per 90s.
	if limit := 10 + 3600/90; granted > limit || granted < limit-10 {
		t.Errorf("three instances granted %d failed logins in an hour; want about %d (one instance's budget)", granted, limit)
	}
	t.Logf("three instances, one attacker trying every second on each for an hour: %d failures allowed", granted)
}

func TestLoginBudgetStoresNoAddressAndPrunes(t *testing.T) {
	url := pgtest.URL(t)
	s := openStore(t, url)
	c := newBudgetClock()
	b := loginBudget(s, c)
	b.Spend("someone@example.test")
	conn := rawConn(t, url)
	var n int
	var keyLen int
	if err := conn.QueryRow(t.Context(), `SELECT count(*), max(length(key)) FROM login_budget`).Scan(&n, &keyLen); err != nil {
		t.Fatal(err)
	}
	if n != 1 || keyLen != 32 {
		t.Fatalf("%d rows, key of %d bytes; want one row keyed by a 32-byte hash", n, keyLen)
	}
	if pruned, err := s.PruneLoginBudget(t.Context(), c.Now()); err != nil || pruned != 0 {
		t.Fatalf("PruneLoginBudget at once = %d, %v; want 0", pruned, err)
	}
	if pruned, err := s.PruneLoginBudget(t.Context(), c.Now().Add(90*time.Second)); err != nil || pruned != 1 {
		t.Fatalf("PruneLoginBudget after a refill = %d, %v; want 1", pruned, err)
	}
}

func TestLoginBudgetLetsThroughWhenTheDatabaseFails(t *testing.T) {
	s, err := postgres.Open(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := newBudgetClock()
	b := loginBudget(s, c)
	s.Close()
	if _, ok := b.Check("k"); !ok {
		t.Error("Check refused with the database gone")
	}
	if _, ok := b.Spend("k"); !ok {
		t.Error("Spend refused with the database gone")
	}
	if b.Failures() != 2 {
		t.Errorf("Failures = %d; want 2", b.Failures())
	}
}

func rawConn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}
