package quota

import (
	"fmt"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// Bounds of the token arithmetic. Every number a request, a backend or the
// configuration brings in is clamped or refused here, before it reaches a
// store, so that no reservation, commit or counter is ever negative or
// wrapped, and so that the Redis store's Lua (whose numbers are doubles,
// exact only up to 2^53) computes exactly what the memory store computes.
const (
	// MaxRequestTokens is the most tokens one request reserves or commits
	// (2^40, about 1.1 trillion). A larger prompt plus max_tokens is
	// reserved as this many, which no token limit admits; larger usage
	// reported by a backend is counted as this many.
	MaxRequestTokens = 1 << 40
	// maxCount bounds every counter and every limit handed to a store
	// (2^52): a counter plus one request's tokens stays below 2^53. A
	// configured limit above it is unlimited in practice and enforced as
	// maxCount.
	maxCount = 1 << 52
	// maxDuration bounds the leases, cooldowns and state lifetimes handed
	// to a store (30 days).
	maxDuration = 30 * 24 * time.Hour
)

// addTokens returns a+b, saturating at MaxRequestTokens; a and b are
// non-negative.
func addTokens(a, b int64) int64 {
	return min(a, MaxRequestTokens) + min(b, MaxRequestTokens-min(a, MaxRequestTokens))
}

// clampTokens returns n within 0..MaxRequestTokens.
func clampTokens[T int | int64](n T) int64 {
	return min(max(int64(n), 0), MaxRequestTokens)
}

// addCount returns c+d within 0..maxCount: how every store moves a
// counter. With bounded inputs it never saturates in practice; it exists so
// that no sequence of commits can wrap a counter or drive it negative.
func addCount(c, d int64) int64 {
	return min(max(c+d, 0), maxCount)
}

// usageTokens returns the tokens a backend reported, as they count against
// token limits: input plus cache writes plus output × burndown (cache
// reads do not count), each negative field counted as zero, the sum
// saturating at MaxRequestTokens (Usage.Total would wrap).
func usageTokens(u inference.Usage, burndown int) int64 {
	in := addTokens(clampTokens(u.InputTokens), clampTokens(u.CacheWriteInputTokens))
	return addTokens(in, burnTokens(clampTokens(u.OutputTokens), burndown))
}

// clampDuration returns d within 0..maxDuration.
func clampDuration(d time.Duration) time.Duration { return min(max(d, 0), maxDuration) }

// validate checks a claim as a store receives it: stores call it so that a
// claim that did not come through the limiter cannot corrupt counters
// either. Its error matches [ErrStoreRefused].
func (c Claim) validate() error {
	if c.ID == "" {
		return fmt.Errorf("%w: claim has no id", ErrStoreRefused)
	}
	if c.Tokens < 0 || c.Tokens > MaxRequestTokens {
		return fmt.Errorf("%w: claim %s reserves %d tokens, outside 0..%d", ErrStoreRefused, c.ID, c.Tokens, int64(MaxRequestTokens))
	}
	for _, r := range c.Rules {
		if r.Kind < RequestsPerMinute || r.Kind > TokensPerMonth {
			return fmt.Errorf("%w: claim %s: rule %q has kind %d", ErrStoreRefused, c.ID, r.Key, r.Kind)
		}
		if r.Limit < 1 || r.Limit > maxCount {
			return fmt.Errorf("%w: claim %s: rule %q %s has limit %d, outside 1..%d", ErrStoreRefused, c.ID, r.Key, r.Kind, r.Limit, int64(maxCount))
		}
		if r.Kind == Concurrency && (c.Lease <= 0 || c.Lease > maxDuration) {
			return fmt.Errorf("%w: claim %s: lease %s outside (0, %s]", ErrStoreRefused, c.ID, c.Lease, maxDuration)
		}
	}
	return nil
}
