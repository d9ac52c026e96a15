// Package usercache is the per-instance cache of users that lets
// `loggedInUser` and `GET /auth/me` be answered while the store is down
// (API.md section 9): the users this instance signed in, refreshed or
// served, bounded in number with least-recently-used eviction, and kept
// current by the revocation feed, which calls Forget for every user that
// changes or is deleted. A copy read from the store before such a Forget
// can never be put back after it, so a deleted user is never served.
package usercache

import (
	"container/list"
	"fmt"
	"sync"

	"github.com/tokengate/tokengate/auth"
)

// Cache is a bounded set of users. It is safe for concurrent use.
type Cache struct {
	max int

	mu    sync.Mutex
	byID  map[string]*list.Element
	order *list.List // front: most recently used
	// gen counts Forgets and Clears; a Ticket is its value.
	gen uint64
	// forgotten holds, per user, the gen of the last Forget, so a Put of a
	// copy read before it is refused. It is bounded like the entries: when
	// it is full it is emptied and floor rises, refusing every older ticket.
	forgotten map[string]uint64
	floor     uint64
}

// Ticket is taken before reading a user from the store and handed to Put,
// which refuses the copy if the user changed in between.
type Ticket uint64

// New returns a Cache of at most max users. It panics when max < 1.
func New(max int) *Cache {
	if max < 1 {
		panic(fmt.Sprintf("usercache: New(%d): need at least 1", max))
	}
	return &Cache{max: max, byID: make(map[string]*list.Element), order: list.New(), forgotten: make(map[string]uint64)}
}

// Ticket returns the ticket for a read about to be made.
func (c *Cache) Ticket() Ticket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Ticket(c.gen)
}

// Put stores a copy of u read from the store after t was taken, without its
// password hash, unless the user was forgotten since. It reports whether
// the copy was kept. The least recently used user makes room.
func (c *Cache) Put(u auth.User, t Ticket) bool {
	u.PasswordHash = nil
	c.mu.Lock()
	defer c.mu.Unlock()
	if uint64(t) < c.floor || uint64(t) < c.forgotten[u.ID] {
		return false
	}
	if e, ok := c.byID[u.ID]; ok {
		e.Value = u
		c.order.MoveToFront(e)
		return true
	}
	if c.order.Len() >= c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.byID, oldest.Value.(auth.User).ID)
	}
	c.byID[u.ID] = c.order.PushFront(u)
	return true
}

// Get returns the cached copy of the user, without its password hash.
func (c *Cache) Get(id string) (auth.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok {
		return auth.User{}, false
	}
	c.order.MoveToFront(e)
	return e.Value.(auth.User), true
}

// Forget drops the user: it changed or was deleted. Copies read before the
// call are refused by Put. Its signature is what revocation.Options.Users
// asks for.
func (c *Cache) Forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if e, ok := c.byID[id]; ok {
		c.order.Remove(e)
		delete(c.byID, id)
	}
	if len(c.forgotten) >= c.max {
		clear(c.forgotten)
		c.floor = c.gen
		return
	}
	c.forgotten[id] = c.gen
}

// Clear drops every user: called when the revocation feed reconnects, since
// changes announced while it was away are lost.
func (c *Cache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.floor = c.gen
	clear(c.byID)
	clear(c.forgotten)
	c.order.Init()
}

// Len returns how many users are cached.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
