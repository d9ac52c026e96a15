package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// flight is one refresh in progress; every goroutine of the Client that
// needs a fresh pair meanwhile waits for it instead of starting its own.
type flight struct {
	done   chan struct{}
	tokens Tokens
	err    error
}

func (f *flight) wait(ctx context.Context) (Tokens, error) {
	select {
	case <-f.done:
		return f.tokens, f.err
	case <-ctx.Done():
		return Tokens{}, ctx.Err()
	}
}

func isSignedOut(err error) bool { return errors.Is(err, ErrSignedOut) }

// refresh returns a pair newer than stale, the pair a request found
// expiring or saw refused as expired. Concurrent calls share one flight.
// The flight runs apart from ctx: the goroutines waiting for it, and a
// pair the server may already have issued, must not be lost because the
// caller that happened to start it gave up.
func (c *Client) refresh(ctx context.Context, stale Tokens) (Tokens, error) {
	c.mu.Lock()
	f := c.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.flight = f
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
			defer cancel()
			f.tokens, f.err = c.rotate(fctx, stale)
			c.mu.Lock()
			c.flight = nil
			c.mu.Unlock()
			close(f.done)
		}()
	}
	c.mu.Unlock()
	return f.wait(ctx)
}

// rotate does one refresh under the store's lock. Under the lock it first
// looks at what the store holds now: another flight, Client or process
// may have refreshed already, and then its pair is the answer and nothing
// is spent.
func (c *Client) rotate(ctx context.Context, stale Tokens) (Tokens, error) {
	unlock, err := c.lock(ctx)
	if err != nil {
		return Tokens{}, err
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	cur, err := c.store.Load(ctx)
	if err != nil {
		return Tokens{}, err
	}
	if cur.RefreshToken == "" {
		return Tokens{}, ErrSignedOut
	}
	if cur.AccessToken != stale.AccessToken {
		if expiring, _ := c.expiring(cur); !expiring {
			return cur, nil
		}
	}

	c.mu.Lock()
	spent, issued := c.spent, c.issued
	if wait := c.retryAt.Sub(c.now()); wait > 0 && c.refused != nil && c.refusedFor == cur.RefreshToken {
		err := c.refused
		c.mu.Unlock()
		return Tokens{}, err
	}
	c.mu.Unlock()

	var next Tokens
	if cur.RefreshToken == spent && !issued.IsZero() {
		// The server answered this token already; its answer was not saved.
		next = issued
	} else {
		next, err = c.post(ctx, cur.RefreshToken)
		var e *Error
		switch {
		case err == nil:
		case errors.As(err, &e) && e.Code == CodeUnauthenticated:
			// Reused, revoked, expired or refused: this refresh token
			// will never work again, and it is still the saved one.
			notify, cerr := c.commit(ctx, Tokens{})
			unlock()
			locked = false
			if cerr == nil {
				notify()
			}
			return Tokens{}, signedOut(e)
		case errors.As(err, &e) && e.RetryAfter > 0:
			c.mu.Lock()
			c.retryAt, c.refused, c.refusedFor = c.now().Add(e.RetryAfter), err, cur.RefreshToken
			c.mu.Unlock()
			return Tokens{}, err
		default:
			return Tokens{}, err
		}
	}
	c.mu.Lock()
	c.spent, c.issued, c.retryAt, c.refused = cur.RefreshToken, next, time.Time{}, nil
	c.mu.Unlock()
	notify, err := c.commit(ctx, next)
	unlock()
	locked = false
	if err != nil {
		return Tokens{}, err
	}
	notify()
	return next, nil
}

// post spends a refresh token with POST /auth/refresh.
func (c *Client) post(ctx context.Context, refresh string) (Tokens, error) {
	b, err := json.Marshal(map[string]string{"refreshToken": refresh})
	if err != nil {
		return Tokens{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint("/auth/refresh"), bytes.NewReader(b))
	if err != nil {
		return Tokens{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return Tokens{}, err
	}
	return c.readPair(res, http.StatusOK)
}
