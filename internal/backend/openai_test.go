package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/inference"
)

func req() *inference.Request {
	return &inference.Request{Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "hello")}, MaxTokens: 5}
}

func TestOpenAIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		wantKind  inference.ErrorKind
		wantRetry time.Duration
		retryable bool
	}{
		{"throttled with retry-after", 429, map[string]string{"Retry-After": "5"}, inference.KindThrottled, 5 * time.Second, true},
		{"throttled with retry-after-ms", 429, map[string]string{"Retry-After-Ms": "1500"}, inference.KindThrottled, 1500 * time.Millisecond, true},
		{"server error", 500, nil, inference.KindUpstream, 0, true},
		{"unavailable", 503, map[string]string{"Retry-After": "2"}, inference.KindUnavailable, 2 * time.Second, true},
		{"gateway timeout", 504, nil, inference.KindTimeout, 0, true},
		{"bad request", 400, nil, inference.KindInvalidRequest, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, `{"error":{"message":"nope","type":"x"}}`)
			}))
			defer srv.Close()
			b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m"})
			defer b.Close()
			for _, stream := range []bool{false, true} {
				var err error
				if stream {
					_, err = b.Stream(t.Context(), req())
				} else {
					_, err = b.Complete(t.Context(), req())
				}
				var e *inference.Error
				if !errors.As(err, &e) {
					t.Fatalf("stream=%v: error = %v, want *inference.Error", stream, err)
				}
				if e.Kind != tc.wantKind || e.RetryAfter != tc.wantRetry || e.UpstreamStatus != tc.status {
					t.Errorf("stream=%v: got kind %v retry %v status %d, want %v %v %d", stream, e.Kind, e.RetryAfter, e.UpstreamStatus, tc.wantKind, tc.wantRetry, tc.status)
				}
				if e.Kind.Retryable() != tc.retryable {
					t.Errorf("Retryable = %v, want %v", e.Kind.Retryable(), tc.retryable)
				}
			}
		})
	}
}

func TestOpenAIConnectError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	b := NewOpenAI(OpenAIConfig{BaseURL: url + "/v1", Model: "m"})
	_, err := b.Complete(t.Context(), req())
	var e *inference.Error
	if !errors.As(err, &e) || e.Kind != inference.KindUnavailable {
		t.Fatalf("Complete against closed port = %v, want KindUnavailable", err)
	}
}

func TestOpenAIStreamFirstByteTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	// The wait for the first event runs on the adapter's clock: advanced
	// once the wait is armed, never on the wall clock.
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", FirstByteTimeout: time.Minute, Clock: clk})
	defer b.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := b.Stream(t.Context(), req())
		errc <- err
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // hang guard only
	defer cancel()
	// The headers arrived (the first-byte timer came and went) and the
	// wait for the first event, bounded by the idle time-out, is armed.
	if err := clk.WaitArmed(ctx, DefaultStreamIdleTimeout, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	err := <-errc
	var e *inference.Error
	if !errors.As(err, &e) || e.Kind != inference.KindTimeout {
		t.Fatalf("Stream from silent upstream = %v, want KindTimeout", err)
	}
}

func TestOpenAIStream(t *testing.T) {
	t.Parallel()
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range []string{
			`{"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`,
			`{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hel"}}]}`,
			`{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"length"}]}`,
			`{"id":"c1","model":"m","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}`,
		} {
			fmt.Fprintf(w, "data: %s\n\n", c)
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer srv.Close()
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "upstream-m"})
	s, err := b.Stream(context.Background(), req())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var kinds []string
	var text strings.Builder
	var usage *inference.Usage
	var stop inference.StopReason
	for {
		ev, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, ev.Kind.String())
		text.WriteString(ev.Text)
		if ev.Usage != nil {
			usage = ev.Usage
		}
		if ev.Kind == inference.EventStop {
			stop = ev.StopReason
		}
	}
	if got := strings.Join(kinds, ","); got != "start,delta,delta,stop,usage" {
		t.Errorf("events = %s", got)
	}
	if text.String() != "Hello" || stop != inference.StopMaxTokens || usage == nil || usage.InputTokens != 7 || usage.OutputTokens != 2 {
		t.Errorf("text %q stop %v usage %+v", text.String(), stop, usage)
	}
	if !strings.Contains(gotBody, `"model":"upstream-m"`) || !strings.Contains(gotBody, `"include_usage":true`) {
		t.Errorf("upstream body = %s", gotBody)
	}
}

func TestOpenAIStreamLongLines(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 20000) // one delta far over the read buffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", big)
		fmt.Fprintf(w, "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer srv.Close()
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m"})
	s, err := b.Stream(t.Context(), req())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var text strings.Builder
	for {
		ev, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("stream with a 20 KB line: %v", err)
		}
		text.WriteString(ev.Text)
	}
	if text.String() != big {
		t.Errorf("got %d bytes of text, want %d", text.Len(), len(big))
	}
}
