package backend

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestStreamReadBufferSizes pins the read buffer every open upstream stream
// holds on top of the transport's own (4 KiB): 1 KiB, which a stream's
// events fit; a longer line or frame is assembled in a buffer of its own.
// At 4 KiB (8 KiB for Bedrock) a thousand open streams held 4 MiB (8 MiB)
// more.
func TestStreamReadBufferSizes(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m"})
	defer b.Close()
	s, err := b.Stream(t.Context(), req())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.(*sseStream).r.Size(); got != 1<<10 {
		t.Errorf("an OpenAI stream's read buffer is %d bytes, want 1024", got)
	}
	if got := newRawEventStreamReader(strings.NewReader("")).Size(); got != 1<<10 {
		t.Errorf("a Bedrock stream's read buffer is %d bytes, want 1024", got)
	}
	var buf []byte
	if _, err := readFrame(bytes.NewReader(encodeFrame(t, "chunk", []byte(`{"bytes":"e30="}`))), &buf); err != nil {
		t.Fatal(err)
	}
	if cap(buf) != 1<<10 {
		t.Errorf("a Bedrock stream's frame buffer is %d bytes after a small message, want 1024", cap(buf))
	}
}

// loopReader returns b over and over: a stream that never ends.
type loopReader struct {
	b   []byte
	off int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}

// TestSSEStreamAllocs: a pass-through event costs no allocation, whether
// its line fits the read buffer or is longer and assembled (in a buffer
// reused from one long line to the next).
func TestSSEStreamAllocs(t *testing.T) {
	for _, size := range []int{200, 3000} {
		line := fmt.Sprintf("data: {\"choices\":[{\"delta\":{\"content\":%q}}]}\n\n", strings.Repeat("x", size))
		src := &loopReader{b: []byte(line)}
		s := &sseStream{streamBody: streamBody{ctx: context.Background(), cancel: func() {}, body: io.NopCloser(src), r: bufio.NewReaderSize(src, sseReadBuffer), idle: time.Hour}, raw: true, started: true}
		s.timer = clock.Wall.AfterFuncTimer(time.Hour, func() {})
		s.timer.Stop()
		noAllocsPerEvent(t, fmt.Sprintf("line of %d bytes", len(line)), size, s)
	}
}

// TestRawEventStreamAllocs: a Bedrock event costs no allocation, whether
// its message fits the read buffer or not.
func TestRawEventStreamAllocs(t *testing.T) {
	for _, size := range []int{200, 3000} {
		msg := encodeFrame(t, "contentBlockDelta", []byte(fmt.Sprintf(`{"delta":{"text":%q}}`, strings.Repeat("x", size))))
		s := &rawEventStream{streamBody: streamBody{ctx: context.Background(), cancel: func() {}, r: newRawEventStreamReader(&loopReader{b: msg}), idle: time.Hour}, dialect: inference.DialectConverse}
		s.timer = clock.Wall.AfterFuncTimer(time.Hour, func() {})
		s.timer.Stop()
		noAllocsPerEvent(t, fmt.Sprintf("message of %d bytes", len(msg)), size, s)
	}
}

// noAllocsPerEvent fails t unless each Recv from s (what: the input it
// repeats) returns an event of more than size bytes without allocating.
func noAllocsPerEvent(t *testing.T, what string, size int, s inference.Stream) {
	t.Helper()
	var err error
	n := testing.AllocsPerRun(100, func() {
		var ev inference.Event
		if ev, err = s.Recv(); err == nil && len(ev.Raw) < size {
			err = fmt.Errorf("event of %d bytes, want more than %d", len(ev.Raw), size)
		}
	})
	if err != nil {
		t.Fatalf("%s: Recv() = %v", what, err)
	}
	if n > 0 {
		t.Errorf("%s: %v allocations per event, want 0", what, n)
	}
}

// TestOpenAIStreamTransportBuffers: streams go over a transport of their
// own whose connections hold 1 KiB read and write buffers (net/http's
// default is 4 KiB each): a stream's connection holds them for the whole
// stream, and needs the write buffer only for its request. Non-streaming
// requests keep net/http's defaults, so that a request of a few KiB still
// leaves in one write and an answer is read in large reads.
func TestOpenAIStreamTransportBuffers(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	}))
	defer srv.Close()
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m"})
	defer b.Close()
	if got := b.streamTransport; got == nil || got.ReadBufferSize != 1<<10 || got.WriteBufferSize != 1<<10 {
		t.Fatalf("stream transport %+v, want read and write buffers of 1024 bytes", got)
	}
	if got := b.transport; got.ReadBufferSize != 0 || got.WriteBufferSize != 0 {
		t.Errorf("non-streaming transport buffers %d and %d, want net/http's defaults (0)", got.ReadBufferSize, got.WriteBufferSize)
	}
	// Each transport counts its dials: a stream must dial through the
	// stream transport, a non-streaming request through the other.
	var streamDials, answerDials atomic.Int64
	countDials := func(tr *http.Transport, n *atomic.Int64) {
		dial := tr.DialContext
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			n.Add(1)
			return dial(ctx, network, addr)
		}
	}
	countDials(b.streamTransport, &streamDials)
	countDials(b.transport, &answerDials)
	s, err := b.Stream(t.Context(), req())
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := s.Recv(); err != nil {
			break
		}
	}
	s.Close()
	if got := [2]int64{streamDials.Load(), answerDials.Load()}; got != [2]int64{1, 0} {
		t.Errorf("after a stream: %d dials by the stream transport, %d by the other; want 1 and 0", got[0], got[1])
	}
	if _, err := b.Complete(t.Context(), req()); err != nil {
		t.Fatal(err)
	}
	if got := answerDials.Load(); got != 1 {
		t.Errorf("after a non-streaming request: %d dials by its transport, want 1", got)
	}
}
