package mockllm_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// TestPromptCache: the simulator caches prompt prefixes as a model server
// with prompt caching does. The first request that sends a long enough
// prefix (1024 tokens) writes it and a later one reads it; the OpenAI face
// caches every message boundary on its own and reports reads in 128-token
// blocks, the Bedrock face caches only at cachePoint and cache_control
// markers and reports writes too; entries expire after five minutes (an
// hour with ttl "1h") on the server's clock. The prompt's estimate is four
// tokens a message plus one per four bytes, so the counts below follow
// from the texts' lengths: sys is 1250 tokens (1254 as a message), q is
// 150 (154).
func TestPromptCache(t *testing.T) {
	t.Parallel()
	sys, q := strings.Repeat("abcd", 1250), strings.Repeat("wxyz", 150)
	short := strings.Repeat("abcd", 25)
	str := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	chat := func(model string, msgs ...string) string {
		var m []string
		for i, text := range msgs {
			role := []string{"system", "user", "assistant", "user"}[i]
			m = append(m, `{"role":"`+role+`","content":`+str(text)+`}`)
		}
		return `{"model":"` + model + `","messages":[` + strings.Join(m, ",") + `]}`
	}
	const invoke, converse = "/model/anthropic.claude-sonnet-4-5/invoke", "/model/anthropic.claude-sonnet-4-5/converse"
	// anthropic is a Messages body whose system block has cache_control
	// cc (none if empty) and whose user turn's blocks each have one.
	anthropic := func(system, cc string, user ...string) string {
		s := `{"type":"text","text":` + str(system)
		if cc != "" {
			s += `,"cache_control":` + cc
		}
		b := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"system":[` + s + `}],"messages":[{"role":"user","content":[`
		for i, u := range user {
			if i > 0 {
				b += ","
			}
			b += `{"type":"text","text":` + str(u) + `,"cache_control":{"type":"ephemeral"}}`
		}
		return b + `]}]}`
	}
	type step struct {
		advance time.Duration
		path    string // "" is /v1/chat/completions
		body    string
		want    map[string]int // usage members (cached_tokens for OpenAI)
	}
	openai := func(cached int) map[string]int { return map[string]int{"cached_tokens": cached} }
	anth := func(input, read, write int) map[string]int {
		return map[string]int{"input_tokens": input, "cache_read_input_tokens": read, "cache_creation_input_tokens": write}
	}
	conv := func(input, read, write int) map[string]int {
		return map[string]int{"inputTokens": input, "cacheReadInputTokens": read, "cacheWriteInputTokens": write}
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"openai first call writes, repeat reads", []step{
			{body: chat("m", sys, q), want: openai(0)},
			{body: chat("m", sys, q), want: openai(1408)}, // 1254+154, whole blocks
			// The conversation goes on: its earlier turns are read.
			{body: chat("m", sys, q, "ok", "and?"), want: openai(1408)},
			{body: chat("m", sys, q, "ok", "and?"), want: openai(1408)},
			// Another system prompt shares no prefix.
			{body: chat("m", sys+"!", q), want: openai(0)},
			// Another model has its own cache.
			{body: chat("other", sys, q), want: openai(0)},
		}},
		{"openai rich answer reports it too", []step{
			{body: strings.Replace(chat("m", sys, q), `{"model"`, `{"logprobs":true,"model"`, 1), want: openai(0)},
			{body: strings.Replace(chat("m", sys, q), `{"model"`, `{"logprobs":true,"model"`, 1), want: openai(1408)},
		}},
		{"openai short prompt is never cached", []step{
			{body: chat("m", short, q), want: openai(0)},
			{body: chat("m", short, q), want: openai(0)},
		}},
		{"openai entries expire after five minutes unused", []step{
			{body: chat("m", sys, q), want: openai(0)},
			{advance: 4 * time.Minute, body: chat("m", sys, q), want: openai(1408)},
			{advance: 4 * time.Minute, body: chat("m", sys, q), want: openai(1408)}, // a read refreshes it
			{advance: 5 * time.Minute, body: chat("m", sys, q), want: openai(0)},
			{body: chat("m", sys, q), want: openai(1408)},
		}},
		{"anthropic cache_control writes, then reads", []step{
			{path: invoke, body: anthropic(sys, `{"type":"ephemeral"}`, "hi"), want: anth(0, 0, 1259)},
			{path: invoke, body: anthropic(sys, `{"type":"ephemeral"}`, "hi"), want: anth(0, 1259, 0)},
		}},
		{"anthropic system marker read, longer marker written", []step{
			{path: invoke, body: anthropicSystemOnly(sys), want: anth(5, 0, 1254)},
			{path: invoke, body: anthropicSystemOnly(sys), want: anth(5, 1254, 0)},
			// Messages marked beyond the system prompt: the system is read,
			// the rest up to the last marker written.
			{path: invoke, body: anthropic(sys, `{"type":"ephemeral"}`, q), want: anth(0, 1254, 154)},
			{path: invoke, body: anthropic(sys, `{"type":"ephemeral"}`, q), want: anth(0, 1408, 0)},
		}},
		{"anthropic without a marker or below the minimum caches nothing", []step{
			{path: invoke, body: anthropicNoMarker(sys), want: anth(1259, 0, 0)},
			{path: invoke, body: anthropicNoMarker(sys), want: anth(1259, 0, 0)},
			{path: invoke, body: anthropicSystemOnly(short), want: anth(34, 0, 0)},
			{path: invoke, body: anthropicSystemOnly(short), want: anth(34, 0, 0)},
		}},
		{"anthropic ttl 1h outlives the default", []step{
			// The system prompt is cached for an hour, the user turn for
			// five minutes.
			{path: invoke, body: anthropic(sys, `{"type":"ephemeral","ttl":"1h"}`, "hi"), want: anth(0, 0, 1259)},
			{advance: 30 * time.Minute, path: invoke, body: anthropic(sys, `{"type":"ephemeral","ttl":"1h"}`, "hi"), want: anth(0, 1254, 5)},
			{advance: 61 * time.Minute, path: invoke, body: anthropic(sys, `{"type":"ephemeral","ttl":"1h"}`, "hi"), want: anth(0, 0, 1259)},
		}},
		{"converse cachePoint writes, then reads", []step{
			{path: converse, body: converseBody(sys), want: conv(5, 0, 1258)},
			{path: converse, body: converseBody(sys), want: conv(5, 1258, 0)},
			{path: "/model/anthropic.claude-sonnet-4-5/converse-stream", body: converseBody(sys), want: conv(5, 1258, 0)},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			_, url := start(t, mockllm.Config{Clock: clk})
			for i, st := range tc.steps {
				clk.Advance(st.advance)
				path := st.path
				if path == "" {
					path = "/v1/chat/completions"
				}
				resp, err := http.Post(url+path, "application/json", strings.NewReader(st.body))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("step %d: %d %s", i, resp.StatusCode, b)
				}
				got := usageOf(t, path, b)
				for k, v := range st.want {
					if got[k] != v {
						t.Errorf("step %d: usage %v, want %s %d (all of %v)", i, got, k, v, st.want)
						break
					}
				}
			}
		})
	}
}

func anthropicSystemOnly(system string) string {
	s, _ := json.Marshal(system)
	return `{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"system":[{"type":"text","text":` + string(s) +
		`,"cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}]}`
}

func anthropicNoMarker(system string) string {
	s, _ := json.Marshal(system)
	return `{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"system":` + string(s) + `,"messages":[{"role":"user","content":"hi"}]}`
}

func converseBody(system string) string {
	s, _ := json.Marshal(system)
	return `{"system":[{"text":` + string(s) + `},{"cachePoint":{"type":"default"}}],"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":16}}`
}

// usageOf reads the usage of an answer: OpenAI's cached_tokens, an
// Anthropic or Converse usage object, or a ConverseStream's metadata.
func usageOf(t *testing.T, path string, b []byte) map[string]int {
	t.Helper()
	out := map[string]int{}
	switch {
	case strings.HasSuffix(path, "-stream"):
		for _, ev := range bedrockEvents(t, b) {
			var m struct {
				Metadata *struct{ Usage map[string]int }
			}
			if json.Unmarshal(ev, &m) == nil && m.Metadata != nil {
				out = m.Metadata.Usage
			}
		}
	case strings.HasPrefix(path, "/v1/"):
		var r struct {
			Usage struct {
				PromptTokensDetails struct {
					CachedTokens int `json:"cached_tokens"`
				} `json:"prompt_tokens_details"`
			}
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		out["cached_tokens"] = r.Usage.PromptTokensDetails.CachedTokens
	default:
		var r struct{ Usage map[string]int }
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&r); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		out = r.Usage
	}
	return out
}

// TestPromptCacheConcurrent: requests racing for the same prefix each see
// it either not yet cached or cached whole, never a torn count (run with
// -race).
func TestPromptCacheConcurrent(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{Logger: slog.New(slog.DiscardHandler)})
	sys := strings.Repeat("abcd", 1250)
	body := `{"model":"m","messages":[{"role":"system","content":"` + sys + `"},{"role":"user","content":"hi"}]}`
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int]int{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var r struct {
					Usage struct {
						PromptTokensDetails struct {
							CachedTokens int `json:"cached_tokens"`
						} `json:"prompt_tokens_details"`
					}
				}
				json.Unmarshal(b, &r)
				mu.Lock()
				seen[r.Usage.PromptTokensDetails.CachedTokens]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Looking a prefix up and caching it is one step: exactly one request
	// writes it.
	if len(seen) != 2 || seen[0] != 1 || seen[1152] != 39 {
		t.Fatalf("cached_tokens counts %v, want 0 once (the write) and 1152 for the 39 others", seen)
	}
}
