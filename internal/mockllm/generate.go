package mockllm

import "strings"

// words is the vocabulary of simulated completions. Every entry is plain
// ASCII so that completions never need JSON escaping.
var words = [...]string{
	"the", "model", "region", "request", "answer", "token", "stream", "latency",
	"gateway", "profile", "capacity", "window", "quiet", "river", "mountain", "signal",
	"bright", "steady", "careful", "simple", "north", "south", "east", "west",
	"light", "paper", "garden", "market", "engine", "bridge", "harbor", "forest",
	"and", "of", "to", "in", "with", "for", "on", "from",
	"is", "was", "will", "can", "may", "should", "would", "must",
	"a", "an", "this", "that", "every", "some", "each", "many",
	"runs", "moves", "waits", "counts", "holds", "sends", "reads", "builds",
	"slowly", "quickly", "often", "rarely", "again", "together", "early", "later",
	"cloud", "server", "message", "number", "summer", "winter", "morning", "evening",
}

// Token forms, built once so that generating text allocates nothing:
// the first token of a completion ("The"), a token inside a sentence
// (" model"), the first token of a later sentence (" Model") and the last
// token of a sentence (" model.").
var (
	formFirst    [len(words)]string
	formMiddle   [len(words)]string
	formSentence [len(words)]string
	formEnd      [len(words)]string
)

func init() {
	for i, w := range words {
		c := strings.ToUpper(w[:1]) + w[1:]
		formFirst[i] = c
		formMiddle[i] = " " + w
		formSentence[i] = " " + c
		formEnd[i] = " " + w + "."
	}
}

// rng is splitmix64: tiny, fast, allocation-free and good enough to pick
// words. Its sequence depends only on its seed.
type rng struct{ state uint64 }

func (r *rng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n); n must be positive.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// float64 returns a number in [0, 1).
func (r *rng) float64() float64 { return float64(r.next()>>11) / (1 << 53) }

// hasher is FNV-1a over 64 bits, inlined to avoid hash.Hash's allocation.
type hasher uint64

func newHasher(seed int64) hasher {
	h := hasher(14695981039346656037)
	return h.uint64(uint64(seed))
}

func (h hasher) string(s string) hasher {
	for i := 0; i < len(s); i++ {
		h ^= hasher(s[i])
		h *= 1099511628211
	}
	// A separator, so that ("ab", "c") and ("a", "bc") hash differently.
	h ^= 0xff
	h *= 1099511628211
	return h
}

func (h hasher) uint64(v uint64) hasher {
	for i := 0; i < 8; i++ {
		h ^= hasher(byte(v >> (8 * i)))
		h *= 1099511628211
	}
	return h
}

// finishReason is OpenAI's finish_reason of a choice.
type finishReason string

const (
	finishStop   finishReason = "stop"   // natural end or a stop sequence
	finishLength finishReason = "length" // max_tokens reached
)

// completion is the planned answer to one request: its content deltas (one
// token each) and why it ends.
type completion struct {
	tokens []string
	finish finishReason
	// stopSeq is the stop sequence that ended the completion, "" when none
	// did (Bedrock's answers name it).
	stopSeq string
}

// planCompletion decides the full answer to req before anything is sent, so
// that a stop sequence is never half-streamed and usage always equals what is
// written. length is the configured completion length (0: drawn).
// The result's tokens are appended to buf.
func planCompletion(seed int64, length int, req *chatRequest, buf []string) completion {
	h := newHasher(seed).string(req.Model)
	for i := range req.Messages {
		m := &req.Messages[i]
		h = h.string(m.Role)
		for _, p := range m.Content.parts {
			h = h.string(p)
		}
	}
	if req.Seed != nil {
		h = h.uint64(uint64(*req.Seed) ^ 0x5eed)
	}
	r := rng{state: uint64(h)}

	n := length
	if n == 0 {
		n = 16 + r.intn(49)
	}
	c := completion{finish: finishStop}
	if max := req.maxTokens(); max > 0 && max < n {
		n, c.finish = max, finishLength
	}

	tokens := buf[:0]
	sentenceLeft := 6 + r.intn(9)
	for i := 0; i < n; i++ {
		w := r.intn(len(words))
		sentenceLeft--
		switch {
		case i == 0:
			tokens = append(tokens, formFirst[w])
		case sentenceLeft == 0 || (i == n-1 && c.finish == finishStop):
			tokens = append(tokens, formEnd[w])
			sentenceLeft = 6 + r.intn(9)
		case tokens[i-1][len(tokens[i-1])-1] == '.':
			tokens = append(tokens, formSentence[w])
		default:
			tokens = append(tokens, formMiddle[w])
		}
	}
	c.tokens = tokens
	if len(req.Stop) > 0 {
		c.cutAtStop(req.Stop)
	}
	return c
}

// cutAtStop ends the completion before the earliest occurrence of any stop
// sequence, as OpenAI does: the stop sequence itself is not returned.
func (c *completion) cutAtStop(stops []string) {
	var b strings.Builder
	for _, t := range c.tokens {
		b.WriteString(t)
	}
	text := b.String()
	cut, seq := -1, ""
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 && (cut < 0 || i < cut) {
			cut, seq = i, s
		}
	}
	if cut < 0 {
		return
	}
	c.stopSeq = seq
	pos := 0
	for i, t := range c.tokens {
		if pos+len(t) > cut {
			if cut > pos {
				c.tokens[i] = t[:cut-pos]
				i++
			}
			c.tokens = c.tokens[:i]
			break
		}
		pos += len(t)
	}
	c.finish = finishStop
}

// promptTokens estimates the prompt's size as the gateway does (see
// inference.Request.EstimatedInputTokens): four tokens per message plus one
// per four bytes of each text part, rounded up.
func promptTokens(req *chatRequest) int {
	n := 0
	for i := range req.Messages {
		n += 4
		for _, p := range req.Messages[i].Content.parts {
			n += (len(p) + 3) / 4
		}
	}
	return n
}
