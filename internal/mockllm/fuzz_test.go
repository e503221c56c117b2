package mockllm

import (
	"strings"
	"testing"
)

// FuzzChatRequest feeds arbitrary bodies to the request decoder and, for
// those it accepts, checks the completion plan's invariants: it never
// panics, respects max_tokens, never contains a stop sequence, and the usage
// it will report matches its deltas.
func FuzzChatRequest(f *testing.F) {
	for _, seed := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}`,
		`{"model":"m","max_tokens":3,"stop":["ar"," the"],"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url"}]}]}`,
		`{"model":"m","max_completion_tokens":1,"seed":-4,"stop":"e","messages":[{"role":"assistant","content":null},{"role":"tool","content":"x"}]}`,
		`{"model":"\u0000\"<>","messages":[{"role":"developer","content":"\ud800"}]}`,
		`{"model":"m","messages":[{"role":"user","content":7}]}`,
		`{"model":`, `null`, `[]`, `""`,
	} {
		f.Add([]byte(seed), int64(0), 0)
	}
	f.Fuzz(func(t *testing.T, body []byte, seed int64, length int) {
		var req chatRequest
		if e := decodeChatRequest(body, &req); e != nil {
			if e.status != 400 || e.message == "" {
				t.Fatalf("decodeChatRequest(%q) = %d %q, want a 400 with a message", body, e.status, e.message)
			}
			return
		}
		length = min(max(length, 0), 1000)
		c := planCompletion(seed, length, &req, nil)
		if max := req.maxTokens(); max > 0 && len(c.tokens) > max {
			t.Fatalf("planCompletion(%q) made %d tokens, want <= max_tokens %d", body, len(c.tokens), max)
		}
		if length > 0 && len(c.tokens) > length {
			t.Fatalf("planCompletion(%q, length %d) made %d tokens", body, length, len(c.tokens))
		}
		text := strings.Join(c.tokens, "")
		for _, s := range req.Stop {
			if s != "" && strings.Contains(text, s) {
				t.Fatalf("completion %q contains stop sequence %q", text, s)
			}
		}
		for _, tok := range c.tokens {
			if tok == "" {
				t.Fatalf("completion %q has an empty delta", c.tokens)
			}
		}
		if p := promptTokens(&req); p < 4*len(req.Messages) {
			t.Fatalf("promptTokens = %d for %d messages, want >= 4 each", p, len(req.Messages))
		}
		again := planCompletion(seed, length, &req, nil)
		if strings.Join(again.tokens, "") != text || again.finish != c.finish {
			t.Fatalf("planCompletion is not deterministic for %q", body)
		}
	})
}
