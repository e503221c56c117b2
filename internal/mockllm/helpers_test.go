package mockllm_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// start serves a new mockllm on a loopback socket for the test's lifetime.
func start(t *testing.T, cfg mockllm.Config) (*mockllm.Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s := mockllm.New(cfg)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs.URL
}

// tWriter sends log output to t.Logf.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// post sends a JSON body to url+path and returns the response with its body
// read.
func post(t *testing.T, ctx context.Context, url, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", body, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response to %s: %v", body, err)
	}
	return resp, b
}

// errorBody is OpenAI's error shape.
type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func parseError(t *testing.T, b []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q is not OpenAI's error shape: %v", b, err)
	}
	if e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("error body %q lacks message or type", b)
	}
	return e
}

func deref(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

// sseEvents splits an SSE body into the payloads of its data: lines,
// failing on anything that is not "data: X\n\n".
func sseEvents(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	for _, ev := range strings.SplitAfter(string(body), "\n\n") {
		if ev == "" {
			continue
		}
		if !strings.HasPrefix(ev, "data: ") || !strings.HasSuffix(ev, "\n\n") || strings.Count(ev, "\n") != 2 {
			t.Fatalf("malformed SSE event %q", ev)
		}
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(ev, "data: "), "\n\n"))
	}
	return out
}

// eventReader reads SSE data payloads one at a time from a live stream.
type eventReader struct{ r *bufio.Reader }

func (e eventReader) next() (string, error) {
	line, err := e.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if blank, err := e.r.ReadString('\n'); err != nil || blank != "\n" {
		return "", io.ErrUnexpectedEOF
	}
	return strings.TrimSuffix(strings.TrimPrefix(line, "data: "), "\n"), nil
}

// chunk is the part of a chat.completion.chunk the tests look at.
type chunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// newFakeClock returns the manual clock the tests drive.
func newFakeClock() *clock.Manual {
	return clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

func newHTTPTest(srv *mockllm.Server) *httptest.Server { return httptest.NewServer(srv.Handler()) }
