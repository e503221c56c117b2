package mockllm

import (
	"sync"
	"time"
)

// This file simulates a model server's prompt cache, as the gateway sees
// one: a prompt prefix is cached by the request that first sends it (a
// cache write) and read by the requests that send it again before it
// expires (a cache read). Nothing is cached below cacheMinTokens, the
// minimum OpenAI and Claude have.
//
//   - The OpenAI face caches on its own, as OpenAI does: every message
//     boundary of a prompt of at least cacheMinTokens is a prefix, counted
//     in whole blocks of openAICacheBlock tokens from cacheMinTokens on;
//     prompt_tokens_details.cached_tokens reports the longest prefix read.
//     OpenAI reports no writes.
//   - The Bedrock face caches only at the request's cache markers
//     (Converse cachePoint blocks, Anthropic cache_control on a block),
//     as Bedrock and Anthropic do: the prefix ends with the marked block.
//     The longest marked prefix already cached is read, and the prompt up
//     to the last marker beyond it is written: cacheReadInputTokens and
//     cacheWriteInputTokens (Anthropic: cache_read_input_tokens and
//     cache_creation_input_tokens), with inputTokens the rest.
//
// Entries expire cacheTTL after their last use (a marker's ttl "1h" keeps
// it an hour) on the server's clock, so tests drive expiry with an
// injected clock. Prefixes are keyed by the model and their text, never
// by time or arrival order: the same requests in the same order give the
// same counts.

// cacheMinTokens is the shortest prefix that is cached.
const cacheMinTokens = 1024

// openAICacheBlock is the granularity of OpenAI's cached_tokens.
const openAICacheBlock = 128

// cacheTTL is how long an unused prefix stays cached.
const cacheTTL = 5 * time.Minute

// cacheEntries bounds the cache; the oldest entry is evicted first.
const cacheEntries = 4096

// cachePrefix is one cacheable prefix of a request: the hash of its text
// and its length in (estimated) tokens.
type cachePrefix struct {
	key    uint64
	tokens int
	ttl    time.Duration
}

// cacheMarker is a cache marker's place in a chatRequest: the prefix ends
// with part part of message msg.
type cacheMarker struct {
	msg, part int
	ttl       time.Duration
}

// promptCache is the set of cached prefixes.
type promptCache struct {
	mu      sync.Mutex
	expires map[uint64]time.Time
	order   []uint64 // insertion order, for eviction
}

// use looks the prefixes up at now and caches them all (refreshing the
// ones already cached). It returns the longest prefix that was cached and
// how many tokens beyond it the longest prefix adds (zero when the longest
// was cached already).
func (c *promptCache) use(now time.Time, prefixes []cachePrefix) (read, written int) {
	if len(prefixes) == 0 {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expires == nil {
		c.expires = make(map[uint64]time.Time)
	}
	longest := 0
	for _, p := range prefixes {
		longest = max(longest, p.tokens)
		if exp, ok := c.expires[p.key]; ok && now.Before(exp) {
			read = max(read, p.tokens)
		}
	}
	for _, p := range prefixes {
		exp, ok := c.expires[p.key]
		if !ok {
			if len(c.order) >= cacheEntries {
				delete(c.expires, c.order[0])
				c.order = c.order[1:]
			}
			c.order = append(c.order, p.key)
		}
		if until := now.Add(p.ttl); !ok || until.After(exp) {
			c.expires[p.key] = until
		}
	}
	return read, longest - read
}

// messageTokens is the estimated token count of message m's parts
// [0, parts) plus its four tokens of framing, as promptTokens counts it.
func messageTokens(m *chatMessage, parts int) int {
	n := 4
	for _, p := range m.Content.parts[:parts] {
		n += (len(p) + 3) / 4
	}
	return n
}

// hashMessage adds message m's role and parts [0, parts) to h.
func hashMessage(h hasher, m *chatMessage, parts int) hasher {
	h = h.string(m.Role)
	for _, p := range m.Content.parts[:parts] {
		h = h.string(p)
	}
	return h.string("") // the end of a message
}

// openAIPrefixes returns the cacheable prefixes of an OpenAI request: one
// per message boundary at or past cacheMinTokens, rounded down to whole
// blocks. A prompt shorter than cacheMinTokens has none, and costs no
// hashing.
func openAIPrefixes(req *chatRequest, prompt int) []cachePrefix {
	if prompt < cacheMinTokens {
		return nil
	}
	var out []cachePrefix
	h := newHasher(0).string(req.Model)
	tokens := 0
	for i := range req.Messages {
		m := &req.Messages[i]
		h = hashMessage(h, m, len(m.Content.parts))
		tokens += messageTokens(m, len(m.Content.parts))
		if tokens >= cacheMinTokens {
			out = append(out, cachePrefix{key: uint64(h), tokens: tokens / openAICacheBlock * openAICacheBlock, ttl: cacheTTL})
		}
	}
	return out
}

// markedPrefixes returns the prefixes that end at the request's cache
// markers and are at least cacheMinTokens long.
func markedPrefixes(req *chatRequest, markers []cacheMarker) []cachePrefix {
	var out []cachePrefix
	for _, mk := range markers {
		if mk.msg >= len(req.Messages) || mk.part >= len(req.Messages[mk.msg].Content.parts) {
			continue
		}
		h := newHasher(0).string(req.Model)
		tokens := 0
		for i := 0; i < mk.msg; i++ {
			m := &req.Messages[i]
			h = hashMessage(h, m, len(m.Content.parts))
			tokens += messageTokens(m, len(m.Content.parts))
		}
		m := &req.Messages[mk.msg]
		h = hashMessage(h, m, mk.part+1)
		tokens += messageTokens(m, mk.part+1)
		if tokens >= cacheMinTokens {
			out = append(out, cachePrefix{key: uint64(h), tokens: tokens, ttl: mk.ttl})
		}
	}
	return out
}

// markerTTL reads a cache marker's ttl ("5m" or "1h"); anything else is
// the default.
func markerTTL(ttl string) time.Duration {
	if ttl == "1h" {
		return time.Hour
	}
	return cacheTTL
}
