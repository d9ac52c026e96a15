package client

import (
	"context"
	"sync"
)

// Store is where a Client keeps its tokens. Load, Save and Clear may be
// called from many goroutines at once. A Store that other Clients or other
// processes share should also implement Locker, so that one of them at a
// time refreshes and the others adopt its result.
type Store interface {
	// Load returns the saved tokens, or the zero Tokens and a nil error
	// when none are saved.
	Load(ctx context.Context) (Tokens, error)
	// Save replaces the saved tokens with t.
	Save(ctx context.Context, t Tokens) error
	// Clear forgets the saved tokens.
	Clear(ctx context.Context) error
}

// Locker is implemented by a Store that can be locked for a
// read-modify-write: a Client holds the lock from the Load that finds the
// access token expiring to the Save of the new pair, including the refresh
// request between them, and around every other Save or Clear it makes.
// Load, Save and Clear must not take the lock themselves.
type Locker interface {
	// Lock blocks until the caller holds the store's lock, or ctx ends.
	// The caller calls unlock exactly once.
	Lock(ctx context.Context) (unlock func(), err error)
}

// MemoryStore keeps tokens in memory: the default Store. Its zero value is
// ready to use. Several Clients may share one, and then share its lock.
type MemoryStore struct {
	mu     sync.Mutex
	tokens Tokens
	lockMu lockChan
}

var (
	_ Store  = (*MemoryStore)(nil)
	_ Locker = (*MemoryStore)(nil)
)

// Load returns the tokens last saved.
func (m *MemoryStore) Load(context.Context) (Tokens, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tokens, nil
}

// Save keeps t.
func (m *MemoryStore) Save(_ context.Context, t Tokens) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens = t
	return nil
}

// Clear forgets the tokens.
func (m *MemoryStore) Clear(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens = Tokens{}
	return nil
}

// Lock takes the store's lock; waiting ends with ctx.
func (m *MemoryStore) Lock(ctx context.Context) (func(), error) {
	return m.lockMu.lock(ctx)
}

// lockChan is a mutex whose waiting a context can end. Its zero value is
// unlocked.
type lockChan struct {
	once sync.Once
	ch   chan struct{}
}

func (l *lockChan) lock(ctx context.Context) (func(), error) {
	l.once.Do(func() { l.ch = make(chan struct{}, 1) })
	unlock := func() func() {
		var once sync.Once
		return func() { once.Do(func() { <-l.ch }) }
	}
	// A free lock is taken whatever ctx says, as sync.Mutex would.
	select {
	case l.ch <- struct{}{}:
		return unlock(), nil
	default:
	}
	select {
	case l.ch <- struct{}{}:
		return unlock(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
