package usercache

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
)

func user(id string) auth.User {
	return auth.User{ID: id, Email: id + "@example.test", Name: "N " + id, PasswordHash: []byte("hash"),
		CreatedAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func TestPutGetWithoutTheHash(t *testing.T) {
	c := New(10)
	if _, ok := c.Get("u1"); ok {
		t.Fatal("an empty cache found a user")
	}
	if !c.Put(user("u1"), c.Ticket()) {
		t.Fatal("Put refused")
	}
	got, ok := c.Get("u1")
	if !ok || got.Email != "u1@example.test" || got.Name != "N u1" {
		t.Fatalf("Get = %+v, %v", got, ok)
	}
	if got.PasswordHash != nil {
		t.Error("the cache keeps password hashes")
	}
	// A newer copy replaces the old one.
	u := user("u1")
	u.Name = "renamed"
	c.Put(u, c.Ticket())
	if got, _ := c.Get("u1"); got.Name != "renamed" || c.Len() != 1 {
		t.Errorf("after a second Put: %+v, Len %d", got, c.Len())
	}
}

func TestEvictsTheLeastRecentlyUsed(t *testing.T) {
	c := New(3)
	for _, id := range []string{"a", "b", "c"} {
		c.Put(user(id), c.Ticket())
	}
	c.Get("a") // a is now the most recent; b the least
	c.Put(user("d"), c.Ticket())
	if _, ok := c.Get("b"); ok {
		t.Error("b, the least recently used, was kept")
	}
	for _, id := range []string{"a", "c", "d"} {
		if _, ok := c.Get(id); !ok {
			t.Errorf("%s was evicted", id)
		}
	}
	for i := range 1000 {
		c.Put(user(strconv.Itoa(i)), c.Ticket())
	}
	if c.Len() != 3 {
		t.Errorf("Len = %d; want the bound, 3", c.Len())
	}
}

func TestForgetNeverLetsAnOlderCopyBack(t *testing.T) {
	c := New(10)
	c.Put(user("u1"), c.Ticket())
	// A request reads u1 from the store; meanwhile u1 is deleted and the
	// feed says so; then the request tries to cache what it read.
	ticket := c.Ticket()
	c.Forget("u1")
	if _, ok := c.Get("u1"); ok {
		t.Fatal("a forgotten user is still served")
	}
	if c.Put(user("u1"), ticket) {
		t.Fatal("a copy read before the Forget was put back")
	}
	if _, ok := c.Get("u1"); ok {
		t.Fatal("a deleted user is served")
	}
	// A read after the Forget is fine, and other users are unaffected.
	if !c.Put(user("u1"), c.Ticket()) || !c.Put(user("u2"), ticket) {
		t.Error("a fresh copy, or another user's, was refused")
	}
}

func TestForgottenSetIsBounded(t *testing.T) {
	c := New(4)
	old := c.Ticket()
	for i := range 100 {
		c.Forget("x" + strconv.Itoa(i))
	}
	if len(c.forgotten) > 4 {
		t.Errorf("%d tombstones kept; want at most 4", len(c.forgotten))
	}
	// Overflow forgets conservatively: every older ticket is refused.
	if c.Put(user("x0"), old) || c.Put(user("unrelated"), old) {
		t.Error("a ticket older than an overflow was accepted")
	}
}

func TestClearDropsEverything(t *testing.T) {
	c := New(10)
	ticket := c.Ticket()
	c.Put(user("u1"), ticket)
	c.Clear()
	if c.Len() != 0 {
		t.Fatal("Clear kept users")
	}
	if c.Put(user("u1"), ticket) {
		t.Error("a copy read before Clear was accepted")
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New(50)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				id := strconv.Itoa((i * (g + 1)) % 200)
				switch i % 4 {
				case 0:
					c.Forget(id)
				case 1:
					c.Get(id)
				default:
					c.Put(user(id), c.Ticket())
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 50 {
		t.Errorf("Len = %d over the bound", c.Len())
	}
}
