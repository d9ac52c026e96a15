package ratelimit

import (
	"testing"
	"time"
)

// countingLimiter allows up to n spends and counts every call.
type countingLimiter struct {
	n, spent, checks, spends int
}

func (c *countingLimiter) Check(string) (time.Duration, bool) {
	c.checks++
	return time.Second, c.spent < c.n
}

func (c *countingLimiter) Spend(string) (time.Duration, bool) {
	c.spends++
	if c.spent >= c.n {
		return 7 * time.Second, false
	}
	c.spent++
	return 0, true
}

func TestLayeredAsksTheSharedBudgetOnlyWhatTheLocalAllows(t *testing.T) {
	clock := newFakeClock()
	local := New(Rate{N: 2, Per: time.Minute}, clock.Now)
	shared := &countingLimiter{n: 1}
	l := Layered{Local: local, Shared: shared}

	if _, ok := l.Spend("k"); !ok {
		t.Fatal("first spend refused")
	}
	// The shared budget (another instance spent it) refuses the second.
	if retry, ok := l.Spend("k"); ok || retry != 7*time.Second {
		t.Fatalf("second spend = %v, %v; want the shared refusal", retry, ok)
	}
	if retry, ok := l.Check("k"); ok || retry != 30*time.Second {
		t.Fatalf("Check = %v, %v; want the local refusal (2 of 2 spent here)", retry, ok)
	}
	// Local refusals never reach the shared budget.
	before := shared.checks + shared.spends
	for range 100 {
		l.Check("k")
		l.Spend("k")
	}
	if after := shared.checks + shared.spends; after != before {
		t.Errorf("%d calls reached the shared budget after the local one refused", after-before)
	}
}
