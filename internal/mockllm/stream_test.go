package mockllm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// hangGuard bounds waits that only a bug would make long.
const hangGuard = 30 * time.Second

func TestStreamWireFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		body         string
		wantDeltas   int
		wantFinish   string
		includeUsage bool
	}{
		{"natural end", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hello"}]}`, 12, "stop", false},
		{"max_tokens", `{"model":"m","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"hello"}]}`, 5, "length", false},
		{"usage chunk", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello"}]}`, 12, "stop", true},
	}
	_, url := start(t, mockllm.Config{CompletionTokens: 12})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := post(t, t.Context(), url, tc.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("Content-Type = %q, want text/event-stream", ct)
			}
			events := sseEvents(t, body)
			if events[len(events)-1] != "[DONE]" {
				t.Fatalf("last event = %q, want [DONE]", events[len(events)-1])
			}
			var chunks []chunk
			for _, ev := range events[:len(events)-1] {
				var c chunk
				if err := json.Unmarshal([]byte(ev), &c); err != nil {
					t.Fatalf("event %q is not JSON: %v", ev, err)
				}
				if c.Object != "chat.completion.chunk" || c.Model != "m" || c.ID != chunks0ID(chunks, c.ID) {
					t.Errorf("chunk %q: want object chat.completion.chunk, model m and one id across the stream", ev)
				}
				if got := strings.Contains(ev, `"usage":`); got != tc.includeUsage {
					t.Errorf("chunk %q has usage field = %v, want %v", ev, got, tc.includeUsage)
				}
				chunks = append(chunks, c)
			}
			n := len(chunks)
			if tc.includeUsage {
				u := chunks[n-1]
				if len(u.Choices) != 0 || u.Usage == nil {
					t.Fatalf("last chunk = %+v, want no choices and a usage", u)
				}
				if u.Usage.CompletionTokens != tc.wantDeltas || u.Usage.TotalTokens != u.Usage.PromptTokens+tc.wantDeltas || u.Usage.PromptTokens != 4+2 {
					t.Errorf("usage = %+v, want completion %d, prompt 6, total their sum", *u.Usage, tc.wantDeltas)
				}
				n--
			}
			// role chunk, deltas, finish chunk
			if n != tc.wantDeltas+2 {
				t.Fatalf("got %d choice chunks, want %d (role, %d deltas, finish)", n, tc.wantDeltas+2, tc.wantDeltas)
			}
			first := chunks[0].Choices[0]
			if first.Delta.Role != "assistant" || first.Delta.Content == nil || *first.Delta.Content != "" || first.FinishReason != nil {
				t.Errorf("first chunk = %+v, want role assistant, empty content, no finish_reason", first)
			}
			for i, c := range chunks[1 : n-1] {
				ch := c.Choices[0]
				if ch.Delta.Role != "" || ch.Delta.Content == nil || *ch.Delta.Content == "" || ch.FinishReason != nil {
					t.Errorf("delta chunk %d = %+v, want content only", i, ch)
				}
			}
			last := chunks[n-1].Choices[0]
			if last.Delta.Content != nil || last.FinishReason == nil || *last.FinishReason != tc.wantFinish {
				t.Errorf("finish chunk = %+v, want empty delta and finish_reason %q", last, tc.wantFinish)
			}
		})
	}
}

func chunks0ID(chunks []chunk, id string) string {
	if len(chunks) == 0 {
		return id
	}
	return chunks[0].ID
}

// TestStreamPacing: under a manual clock, the role chunk and the first
// content delta are sent at TTFT, delta i at TTFT + i/tokens-per-second,
// the finish chunk and [DONE] with the last delta; a non-streaming answer
// is sent whole when its last token is due. Each piece is stamped with the
// clock's time when the server wrote it, so the schedule is checked
// exactly (neither early nor late) and no wall-clock time passes.
func TestStreamPacing(t *testing.T) {
	t.Parallel()
	const (
		ttft = 60 * time.Millisecond
		tps  = 50 // one delta every 20ms
		n    = 6
		step = 10 * time.Millisecond // divides every deadline
	)
	due := func(i int) time.Duration { return ttft + time.Duration(i)*time.Second/tps }
	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		s := startClocked(t, mockllm.Config{TTFT: ttft, TokensPerSecond: tps, CompletionTokens: n})
		t0 := s.clk.Now()
		events := s.post(t, t.Context(), `{"model":"m","stream":true,"messages":[{"role":"user","content":"pace me"}]}`, step)
		var order []string
		deltas := 0
		for {
			ev, ok := events.next()
			if !ok {
				break
			}
			at := ev.at.Sub(t0)
			if ev.data == "[DONE]" {
				order = append(order, "done")
				if at != due(n-1) {
					t.Errorf("[DONE] sent at %v, want %v (with the last delta)", at, due(n-1))
				}
				continue
			}
			var c chunk
			if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
				t.Fatal(err)
			}
			switch ch := c.Choices[0]; {
			case ch.Delta.Role != "":
				order = append(order, "role")
				if at != ttft {
					t.Errorf("role chunk sent at %v, want TTFT %v", at, ttft)
				}
			case ch.FinishReason != nil:
				order = append(order, "finish")
				if at != due(n-1) {
					t.Errorf("finish chunk sent at %v, want %v (with the last delta)", at, due(n-1))
				}
			default:
				order = append(order, "delta")
				if at != due(deltas) {
					t.Errorf("delta %d sent at %v, want %v", deltas, at, due(deltas))
				}
				deltas++
			}
		}
		want := "role delta delta delta delta delta delta finish done"
		if got := strings.Join(order, " "); got != want {
			t.Errorf("event order = %s, want %s", got, want)
		}
	})
	t.Run("whole answer", func(t *testing.T) {
		t.Parallel()
		s := startClocked(t, mockllm.Config{TTFT: ttft, TokensPerSecond: tps, CompletionTokens: n})
		t0 := s.clk.Now()
		body := s.post(t, t.Context(), `{"model":"m","messages":[{"role":"user","content":"pace me"}]}`, step).rest()
		if at := body.at.Sub(t0); at != due(n-1) {
			t.Errorf("answer sent at %v, want %v (when its last token is due)", at, due(n-1))
		}
		if !strings.Contains(body.data, `"completion_tokens":6`) {
			t.Errorf("answer %s, want 6 completion tokens", body.data)
		}
	})
}

// TestStreamCancel checks that generation stops when the client goes away,
// and that the stream is flushed incrementally: under a manual clock that
// has moved 20ms, the client reads the role chunk and three deltas of a
// completion that would take 1000 s.
func TestStreamCancel(t *testing.T) {
	t.Parallel()
	const total = 100000 // 1000 s at 100 tokens/s: only flushing lets us see deltas
	s := startClocked(t, mockllm.Config{TokensPerSecond: 100, CompletionTokens: total, TPM: 10 * total})
	ctx, cancel := context.WithCancel(t.Context())
	events := s.post(t, ctx, `{"model":"m","stream":true,"messages":[{"role":"user","content":"go on forever"}]}`, 10*time.Millisecond)
	for i := range 4 { // role and three deltas
		if _, ok := events.next(); !ok {
			t.Fatalf("stream ended after %d events", i)
		}
	}
	if got := s.srv.Stats().InFlight; got != 1 {
		t.Errorf("Stats().InFlight while streaming = %d, want 1", got)
	}
	cancel()
	<-s.ended.Done()
	if err := context.Cause(s.ended); !errors.Is(err, errEnded) {
		t.Fatalf("generation did not stop after the client went away: %v", err)
	}
	st := s.srv.Stats()
	if st.Canceled != 1 || st.Served != 0 || st.InFlight != 0 {
		t.Errorf("Stats() = %+v, want 1 canceled, 0 served, 0 in flight", st)
	}
	if st.CompletionTokens != 3 {
		t.Errorf("Stats().CompletionTokens = %d, want the 3 deltas sent before the client left (the clock stopped there)", st.CompletionTokens)
	}
	// The TPM window is charged what was produced, not the whole plan:
	// prompts of 8 and 5 tokens, the canceled stream's deltas, and 1 token.
	resp2, _ := post(t, t.Context(), s.url, `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}]}`)
	want := strconv.FormatInt(10*total-8-st.CompletionTokens-5-1, 10)
	if got := resp2.Header.Get(mockllm.HeaderRemainingTokens); got != want {
		t.Errorf("x-ratelimit-remaining-tokens after a canceled stream = %q, want %s", got, want)
	}
}

func serveHandler(t *testing.T, srv *mockllm.Server) (*mockllm.Server, string) {
	t.Helper()
	hs := newHTTPTest(srv)
	t.Cleanup(hs.Close)
	return srv, hs.URL
}
