package backend

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestPassThroughOpenAIKeepsBytes: an OpenAI chat body goes upstream as the
// client sent it (unknown fields, odd spacing, key order and all) but for
// the model and, on a stream, stream_options.include_usage.
func TestPassThroughOpenAIKeepsBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		stream         bool
	}{
		{"unknown fields kept", `{ "x_vendor" : {"a":[1, 2]},"model":"eu.m",  "messages":[{"role":"user","content":"hi","x":1}],"logit_bias":{"50256":-100}}`,
			`{ "x_vendor" : {"a":[1, 2]},"model":"upstream-1",  "messages":[{"role":"user","content":"hi","x":1}],"logit_bias":{"50256":-100}}`, false},
		{"usage asked for", `{"model":"eu.m","stream":true,"messages":[]}`, `{"stream_options":{"include_usage":true},"model":"upstream-1","stream":true,"messages":[]}`, true},
		{"usage already asked", `{"model":"eu.m","stream":true,"stream_options":{"include_usage":true},"messages":[]}`,
			`{"model":"upstream-1","stream":true,"stream_options":{"include_usage":true},"messages":[]}`, true},
		{"usage turned on", `{"model":"eu.m","stream":true,"stream_options":{"include_usage":false,"x":2}}`,
			`{"model":"upstream-1","stream":true,"stream_options":{"include_usage":true,"x":2}}`, true},
		{"other options kept", `{"model":"eu.m","stream":true,"stream_options":{"y":"z"}}`,
			`{"model":"upstream-1","stream":true,"stream_options":{"include_usage":true,"y":"z"}}`, true},
	}
	for _, tc := range tests {
		if got := string(PassThroughOpenAI([]byte(tc.in), "upstream-1", tc.stream)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// TestPassThroughOpenAIRoundTrip: the upstream receives the client's bytes
// and its answer and every stream event come back byte for byte, with the
// usage read from the final event.
func TestPassThroughOpenAIRoundTrip(t *testing.T) {
	t.Parallel()
	const answer = `{"id":"up-1","object":"chat.completion","model":"upstream-1","choices":[{"index":0,"message":{"role":"assistant","content":"hi","x_annot":[1]}}],"usage":{"prompt_tokens":7,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}},"x_vendor":true}`
	events := []string{
		`{"id":"up-1","model":"upstream-1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"x":1}`,
		`{"id":"up-1","model":"upstream-1","choices":[{"index":0,"delta":{"content":"Hel\"lo"},"logprobs":{"content":[]}}]}`,
		`{"id":"up-1","model":"upstream-1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
		`{"id":"up-1","model":"upstream-1","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}`,
	}
	var got []byte
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		if !bytes.Contains(got, []byte(`"stream":true`)) {
			io.WriteString(w, answer)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range events {
			fmt.Fprintf(w, "data: %s\n\n", e)
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer up.Close()
	o := NewOpenAI(OpenAIConfig{BaseURL: up.URL + "/v1", Model: "upstream-1"})
	defer o.Close()

	body := `{"model":"eu.m","messages":[{"role":"user","content":"hi"}],"x_unknown":{"keep":"me"}}`
	req, err := inference.Peek(inference.DialectOpenAIChat, "", []byte(body), false)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := o.Complete(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != strings.Replace(body, `"eu.m"`, `"upstream-1"`, 1) {
		t.Errorf("upstream received %s", got)
	}
	if string(resp.Body) != answer || resp.Usage != (inference.Usage{InputTokens: 3, OutputTokens: 2, CacheReadInputTokens: 4}) {
		t.Errorf("response body %s usage %+v; want the answer as sent and its usage", resp.Body, resp.Usage)
	}

	sbody := `{"model":"eu.m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	req, _ = inference.Peek(inference.DialectOpenAIChat, "", []byte(sbody), false)
	s, err := o.Stream(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var kinds []inference.EventKind
	for i := 0; ; i++ {
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(ev.Raw) != events[i] {
			t.Errorf("event %d = %s, want %s", i, ev.Raw, events[i])
		}
		if ev.Kind == inference.EventUsage && *ev.Usage != (inference.Usage{InputTokens: 7, OutputTokens: 2}) {
			t.Errorf("usage = %+v", ev.Usage)
		}
		if ev.Kind == inference.EventDelta && ev.TextLen() != len(`Hel\"lo`) {
			t.Errorf("delta text length = %d", ev.TextLen())
		}
		kinds = append(kinds, ev.Kind)
	}
	want := []inference.EventKind{inference.EventStart, inference.EventDelta, inference.EventStop, inference.EventUsage}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("kinds = %v, want %v", kinds, want)
	}
}

// BenchmarkPassThroughStream pins the cost of a streamed token in
// pass-through: reading, classifying and handing on an upstream event
// allocates nothing.
func BenchmarkPassThroughStream(b *testing.B) {
	// A chunk as OpenAI (and mockllm) send them with include_usage: every
	// chunk carries "usage":null.
	event := []byte(`data: {"id":"chatcmpl-up-1","object":"chat.completion.chunk","created":1796629998,"model":"upstream-1","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	src := &repeatReader{event: event}
	s := &sseStream{streamBody: streamBody{ctx: context.Background(), cancel: func() {}, body: io.NopCloser(src), r: bufio.NewReaderSize(src, 8192)}, raw: true, started: true}
	s.timer = newStoppedTimer()
	s.idle = DefaultStreamIdleTimeout
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ev, err := s.Recv()
		if err != nil || ev.Kind != inference.EventDelta || ev.TextLen() != 5 {
			b.Fatalf("event %+v, %v", ev, err)
		}
	}
}

// repeatReader repeats one SSE event forever.
type repeatReader struct {
	event []byte
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.event[r.off:])
		n += c
		r.off = (r.off + c) % len(r.event)
	}
	return n, nil
}

func newStoppedTimer() *time.Timer {
	t := time.AfterFunc(time.Hour, func() {})
	t.Stop()
	return t
}

// BenchmarkPassThroughConverseStream measures a streamed Converse event in
// pass-through: decoding the event-stream frame and classifying it.
func BenchmarkPassThroughConverseStream(b *testing.B) {
	var frame bytes.Buffer
	var m eventstream.Message
	m.Headers.Set(":event-type", eventstream.StringValue("contentBlockDelta"))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Headers.Set(":message-type", eventstream.StringValue("event"))
	m.Payload = []byte(`{"contentBlockIndex":0,"delta":{"text":" word"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}`)
	if err := eventstream.NewEncoder().Encode(&frame, m); err != nil {
		b.Fatal(err)
	}
	src := &repeatReader{event: frame.Bytes()}
	s := &rawEventStream{streamBody: streamBody{ctx: context.Background(), cancel: func() {}, body: io.NopCloser(src), r: bufio.NewReaderSize(src, 8192), timer: newStoppedTimer(), idle: time.Hour}, dialect: inference.DialectConverse}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ev, err := s.Recv()
		if err != nil || ev.Kind != inference.EventDelta || ev.TextLen() != 5 {
			b.Fatalf("event %+v, %v", ev, err)
		}
	}
}

// FuzzPassThroughSSE: whatever an upstream streams, the pass-through reader
// never panics and delivers only events whose bytes came from the stream.
func FuzzPassThroughSSE(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("data: {\"error\":{\"message\":\"x\"}}\n\n"))
	f.Add([]byte("data: {\"choices\":[{\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":\"x\"}}\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := bytes.NewReader(body)
		s := &sseStream{streamBody: streamBody{ctx: context.Background(), cancel: func() {}, body: io.NopCloser(r), r: bufio.NewReaderSize(r, 64), timer: newStoppedTimer(), idle: time.Hour}, raw: true}
		for range 64 {
			ev, err := s.Recv()
			if err != nil {
				return
			}
			if !bytes.Contains(body, ev.Raw) || ev.TextLen() > len(body) {
				t.Fatalf("event %q not from the stream", ev.Raw)
			}
		}
	})
}
