package mockllm

import (
	"testing"
	"time"
)

// TestPromptCacheBounded: the cache holds at most cacheEntries prefixes
// and evicts the oldest first; a lookup after expiry misses.
func TestPromptCacheBounded(t *testing.T) {
	t.Parallel()
	var c promptCache
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for k := range uint64(cacheEntries + 10) {
		c.use(now, []cachePrefix{{key: k, tokens: 2048, ttl: cacheTTL}})
	}
	if len(c.expires) != cacheEntries || len(c.order) != cacheEntries {
		t.Fatalf("%d entries (%d in order), want %d", len(c.expires), len(c.order), cacheEntries)
	}
	if read, _ := c.use(now, []cachePrefix{{key: 0, tokens: 2048, ttl: cacheTTL}}); read != 0 {
		t.Error("the oldest prefix was not evicted")
	}
	if read, write := c.use(now, []cachePrefix{{key: cacheEntries + 9, tokens: 2048, ttl: cacheTTL}}); read != 2048 || write != 0 {
		t.Errorf("the newest prefix: read %d, write %d; want 2048, 0", read, write)
	}
	if read, write := c.use(now.Add(cacheTTL), []cachePrefix{{key: cacheEntries + 9, tokens: 2048, ttl: cacheTTL}}); read != 0 || write != 2048 {
		t.Errorf("after the TTL: read %d, write %d; want 0, 2048", read, write)
	}
}
