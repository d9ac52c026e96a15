package token

// CachedTokens is how many verified tokens c remembers, for tests.
func CachedTokens(c *Codec) int {
	if ks := c.access.Load(); ks.cache != nil {
		return ks.cache.len()
	}
	return 0
}
