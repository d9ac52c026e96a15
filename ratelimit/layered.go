package ratelimit

import (
	"time"

	"github.com/tokengate/tokengate/auth"
)

// Layered puts a cheap in-process budget in front of one shared by every
// instance (the failed-login budget in PostgreSQL): what this instance
// already refused never costs a database round trip, and what it allowed
// is then asked of the shared budget. Both must have the same rate, so
// that the local one, which counts only this instance's attempts, never
// refuses what the shared one would allow.
type Layered struct {
	Local, Shared auth.Limiter
}

var _ auth.Limiter = Layered{}

// Check implements auth.Limiter: the local budget first, then the shared.
func (l Layered) Check(key string) (time.Duration, bool) {
	if retry, ok := l.Local.Check(key); !ok {
		return retry, false
	}
	return l.Shared.Check(key)
}

// Spend implements auth.Limiter: spends locally, then on the shared
// budget unless the local one already refused.
func (l Layered) Spend(key string) (time.Duration, bool) {
	if retry, ok := l.Local.Spend(key); !ok {
		return retry, false
	}
	return l.Shared.Spend(key)
}
