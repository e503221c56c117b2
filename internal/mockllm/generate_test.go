package mockllm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// completionOf returns the content, finish reason and completion tokens of a
// non-streaming request.
func completionOf(t *testing.T, url, body string) (string, string, int) {
	t.Helper()
	resp, b := post(t, t.Context(), url, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: status %d; body %s", body, resp.StatusCode, b)
	}
	var c struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage usage `json:"usage"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Choices[0].Message.Content, c.Choices[0].FinishReason, c.Usage.CompletionTokens
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	_, a := start(t, mockllm.Config{Seed: 1})
	_, b := start(t, mockllm.Config{Seed: 1})
	_, c := start(t, mockllm.Config{Seed: 2})
	req := func(prompt string, extra string) string {
		return fmt.Sprintf(`{"model":"m",%s"messages":[{"role":"user","content":%q}]}`, extra, prompt)
	}
	base, _, _ := completionOf(t, a, req("What is a region?", ""))
	tests := []struct {
		name     string
		url      string
		body     string
		wantSame bool
	}{
		{"same server, same request", a, req("What is a region?", ""), true},
		{"same seed, other server", b, req("What is a region?", ""), true},
		{"same seed, streamed options ignored", b, req("What is a region?", `"temperature":1.5,`), true},
		{"other seed", c, req("What is a region?", ""), false},
		{"other prompt", a, req("What is a zone?", ""), false},
		{"request seed", a, req("What is a region?", `"seed":99,`), false},
	}
	for _, tc := range tests {
		got, _, _ := completionOf(t, tc.url, tc.body)
		if (got == base) != tc.wantSame {
			t.Errorf("%s: content %q vs %q: same = %v, want %v", tc.name, got, base, got == base, tc.wantSame)
		}
	}
}

func TestMaxTokensAndStop(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{CompletionTokens: 20})
	const prompt = `"messages":[{"role":"user","content":"count words"}]}`
	full, finish, n := completionOf(t, url, `{"model":"m",`+prompt)
	words := strings.Fields(full)
	if finish != "stop" || n != 20 || len(words) != 20 || !strings.HasSuffix(full, ".") {
		t.Fatalf("full completion %q: finish %s, %d tokens, %d words; want stop, 20, 20, ending with a period", full, finish, n, len(words))
	}
	stopAt := " " + words[5]
	cut := strings.Index(full, stopAt)
	tests := []struct {
		name       string
		params     string
		want       string
		wantFinish string
		wantTokens int
	}{
		{"max_tokens", `"max_tokens":4,`, strings.Join(words[:4], " "), "length", 4},
		{"max_completion_tokens wins", `"max_tokens":4,"max_completion_tokens":6,`, strings.Join(words[:6], " "), "length", 6},
		{"max_tokens above length", `"max_tokens":400,`, full, "stop", 20},
		{"stop sequence", fmt.Sprintf(`"stop":[%q],`, stopAt), full[:cut], "stop", len(strings.Fields(full[:cut]))},
		{"stop mid-token", fmt.Sprintf(`"stop":[%q, "qqq"],`, full[3:6]), full[:3], "stop", 1},
		{"stop never seen", `"stop":"qqq",`, full, "stop", 20},
	}
	for _, tc := range tests {
		got, finish, n := completionOf(t, url, `{"model":"m",`+tc.params+prompt)
		if got != tc.want || finish != tc.wantFinish || n != tc.wantTokens {
			t.Errorf("%s: got %q, %s, %d tokens; want %q, %s, %d", tc.name, got, finish, n, tc.want, tc.wantFinish, tc.wantTokens)
		}
	}
}

// timerlessClock fails the test if the server ever waits: with TTFT 0 and
// tokens per second 0 it must not. Were it to, its timer fires at once.
type timerlessClock struct {
	t *testing.T
	jumpClock
}

func (c timerlessClock) NewTimer(d time.Duration) (mockllm.Timer, <-chan time.Time) {
	c.t.Errorf("unpaced server made a timer of %v", d)
	return c.jumpClock.NewTimer(d)
}

func TestUnpacedNeverWaits(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{Clock: timerlessClock{t, jumpClock{newFakeClock()}}})
	for _, body := range []string{
		hello,
		`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
	} {
		if resp, b := post(t, t.Context(), url, body); resp.StatusCode != http.StatusOK {
			t.Errorf("POST %s: status %d; body %s", body, resp.StatusCode, b)
		}
	}
}

// TestServeDrainsThenStops: cancelling Serve's context stops the listener;
// with a drain timeout an in-flight stream then runs to its end, with a
// negative one it is cut at once. The stream is paced on a manual clock
// that moves only once Serve has closed its listener, so the drain is
// what lets it finish; the drain timeout is a hang guard.
func TestServeDrainsThenStops(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		drain    time.Duration
		wantDone bool // the in-flight stream completes with [DONE]
	}{
		{"drain", hangGuard, true},
		{"abort", -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			srv := mockllm.New(mockllm.Config{TokensPerSecond: 100, CompletionTokens: 20, DrainTimeout: tc.drain, Clock: clk})
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := &closeSignalListener{Listener: inner, closed: make(chan struct{})}
			ctx, cancel := context.WithCancel(t.Context())
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ctx, ln) }()

			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+ln.Addr().String()+"/v1/chat/completions",
				strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			guard, stop := context.WithTimeout(t.Context(), hangGuard)
			defer stop()
			// The stream waits for its second delta, 10ms away.
			if err := clk.WaitTimers(guard, 1); err != nil {
				t.Fatal(err)
			}
			cancel()
			select {
			case <-ln.closed:
			case <-guard.Done():
				t.Fatal("Serve did not close its listener after its context was cancelled")
			}
			clk.Advance(time.Minute) // every token is due
			select {
			case err := <-served:
				if err != nil {
					t.Errorf("Serve() = %v, want nil after cancel", err)
				}
			case <-guard.Done():
				t.Fatal("Serve did not return after its context was cancelled")
			}
			body, readErr := io.ReadAll(resp.Body)
			gotDone := strings.HasSuffix(string(body), "data: [DONE]\n\n")
			if gotDone != tc.wantDone {
				t.Errorf("stream ended with [DONE] = %v (read error %v), want %v", gotDone, readErr, tc.wantDone)
			}
			if st := srv.Stats(); st.InFlight != 0 {
				t.Errorf("Stats().InFlight after Serve returned = %d, want 0", st.InFlight)
			}
			if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
				t.Errorf("listener still accepts after Serve returned")
			}
		})
	}
}

// closeSignalListener closes closed when it is first closed.
type closeSignalListener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *closeSignalListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func TestListenAndServeBadAddress(t *testing.T) {
	t.Parallel()
	err := mockllm.New(mockllm.Config{}).ListenAndServe(t.Context(), "256.0.0.1:-1")
	var opErr *net.OpError
	if err == nil || (!errors.As(err, &opErr) && !strings.Contains(err.Error(), "listen")) {
		t.Errorf("ListenAndServe(bad address) = %v, want a listen error", err)
	}
}
