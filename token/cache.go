package token

import (
	"sync"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// DefaultMaxCachedTokens bounds the verified-access-token cache. An entry
// holds the token string (about 500 bytes for ES256) and its claims, some
// 700 bytes with the map's overhead, so the default costs at most about
// 11 MiB. When a shard is full its expired entries go first, then an
// arbitrary quarter of it.
const DefaultMaxCachedTokens = 16384

const cacheShards = 16

// verifiedCache maps the exact string of an access token whose signature
// and claims were verified to its claims, so a client that sends the same
// token for its whole lifetime pays for the signature once. Expiry is still
// checked on every hit, and the revocation view is the caller's, after
// VerifyAccess, on every request.
type verifiedCache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]auth.AccessClaims
}

func newVerifiedCache(limit int) *verifiedCache {
	if limit <= 0 {
		limit = DefaultMaxCachedTokens
	}
	c := &verifiedCache{perShard: max(1, limit/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]auth.AccessClaims)
	}
	return c
}

// shard picks by the token's last byte, part of its signature: spread
// evenly and free to compute.
func (c *verifiedCache) shard(raw string) *cacheShard {
	return &c.shards[raw[len(raw)-1]%cacheShards]
}

func (c *verifiedCache) get(raw string) (auth.AccessClaims, bool) {
	s := c.shard(raw)
	s.mu.RLock()
	claims, ok := s.m[raw]
	s.mu.RUnlock()
	return claims, ok
}

func (c *verifiedCache) put(raw string, claims auth.AccessClaims, now time.Time) {
	s := c.shard(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.perShard {
		for k, v := range s.m {
			if !now.Before(v.ExpiresAt) {
				delete(s.m, k)
			}
		}
		// Map iteration order is unspecified, which makes this an
		// arbitrary quarter.
		for k := range s.m {
			if len(s.m) < c.perShard*3/4 {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[raw] = claims
}

// len is the number of cached tokens, for tests.
func (c *verifiedCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
