package backend

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestOpenAIStreamKeepsItsConnection: a stream that ends with [DONE] leaves
// its connection to the upstream in the pool, even when the end of the
// HTTP body (the chunked terminator) arrives after [DONE] in a write of its
// own, and the caller's context ends right after Close: closing the stream
// reads the body to its end (in the background, detached from the caller's
// context; the test waits for that read before the next stream). A stream that
// dropped its connection made the next request dial (and, on TLS, shake
// hands) again.
func TestOpenAIStreamKeepsItsConnection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		raw  bool
	}{{"decoded", false}, {"pass-through", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// sawDone is sent to once the client's transport has read
			// [DONE]; only then does the handler return, which writes the
			// body's terminator in a write of its own.
			sawDone := make(chan struct{}, 1)
			// sawEnd is sent the error that ended the body: io.EOF once
			// it was read to its end (net/http has then put the
			// connection back in its pool).
			sawEnd := make(chan error, 1)
			srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/event-stream")
				for _, c := range []string{
					`{"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`,
					`{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}`,
					`{"id":"c1","model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}`,
				} {
					fmt.Fprintf(w, "data: %s\n\n", c)
				}
				io.WriteString(w, "data: [DONE]\n\n")
				w.(http.Flusher).Flush()
				select {
				case <-sawDone:
				case <-r.Context().Done():
				}
			}))
			tr := &http.Transport{MaxIdleConnsPerHost: 4}
			defer tr.CloseIdleConnections()
			b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", Transport: watchDone{tr, sawDone, sawEnd}})
			const streams = 5
			for i := range streams {
				r := req()
				if tc.raw {
					var err error
					if r, err = inference.Peek(inference.DialectOpenAIChat, "", []byte(`{"model":"x","stream":true,"messages":[{"role":"user","content":"hello"}]}`), false); err != nil {
						t.Fatal(err)
					}
				}
				// The caller's context ends right after Close, as an HTTP
				// handler's does when it returns.
				ctx, cancel := context.WithCancel(t.Context())
				s, err := b.Stream(ctx, r)
				if err != nil {
					cancel()
					t.Fatalf("stream %d: %v", i, err)
				}
				n := 0
				for {
					_, err := s.Recv()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("stream %d: %v", i, err)
					}
					n++
				}
				s.Close()
				cancel()
				if n == 0 {
					t.Fatalf("stream %d: no events", i)
				}
				if err := <-sawEnd; err != io.EOF {
					t.Fatalf("stream %d: its body ended in %v, not at its end: the connection was dropped", i, err)
				}
			}
			if got := conns.Load(); got != 1 {
				t.Errorf("%d streams opened %d connections to the upstream, want 1", streams, got)
			}
		})
	}
}

// watchDone is a transport whose response bodies tell done once a read
// returns [DONE], and end once a read returns io.EOF.
type watchDone struct {
	http.RoundTripper
	done chan<- struct{}
	end  chan<- error
}

func (w watchDone) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.RoundTripper.RoundTrip(r)
	if err == nil {
		resp.Body = &doneBody{ReadCloser: resp.Body, done: w.done, end: w.end}
	}
	return resp, err
}

type doneBody struct {
	io.ReadCloser
	done  chan<- struct{}
	end   chan<- error
	ended bool
}

// Read tells end the error of the first read that fails: io.EOF when the
// body was read to its end.
func (b *doneBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if bytes.Contains(p[:n], []byte("[DONE]")) {
		notify(b.done)
	}
	if err != nil && !b.ended {
		b.ended = true
		select {
		case b.end <- err:
		default:
		}
	}
	return n, err
}

// Close tells end errClosedEarly when no read had failed yet.
func (b *doneBody) Close() error {
	if !b.ended {
		b.ended = true
		select {
		case b.end <- errClosedEarly:
		default:
		}
	}
	return b.ReadCloser.Close()
}

var errClosedEarly = errors.New("body closed before its end")

func notify(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// TestSSEStreamReady: a pass-through stream is Ready when the next data
// line is buffered whole (an event, or [DONE]: its end); a decoded stream
// only with an event pending.
func TestSSEStreamReady(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, buffered string
		raw, pending   bool
		want           bool
	}{
		{"nothing", "", true, false, false},
		{"a whole event", "data: {\"a\":1}\n\n", true, false, true},
		{"a line cut", "data: {\"a\":", true, false, false},
		{"the end marker", "data: [DONE]\n\n", true, false, true},
		{"a comment, then an event", ": keep-alive\n\ndata: {}\n", true, false, true},
		{"an event name alone", "event: x\n", true, false, false},
		{"empty data, then an event", "data:\r\n\r\ndata: {}\r\n", true, false, true},
		{"decoded, a whole event", "data: {\"a\":1}\n\n", false, false, false},
		{"decoded, an event pending", "", false, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &sseStream{streamBody: streamBody{r: bufio.NewReaderSize(strings.NewReader(tc.buffered), 8192)}, raw: tc.raw}
			s.r.Peek(1) // fill the buffer with what "arrived"
			if tc.pending {
				s.pending = append(s.pending, inference.Event{Kind: inference.EventDelta})
			}
			if got := s.Ready(); got != tc.want {
				t.Errorf("Ready() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRawEventStreamReady: a Bedrock stream is Ready with a whole message
// buffered that Recv delivers without reading on (the AWS encoder's bytes).
func TestRawEventStreamReady(t *testing.T) {
	t.Parallel()
	chunk := encodeFrame(t, "chunk", []byte(`{"bytes":"e30="}`))
	other := encodeFrame(t, "somethingNew", []byte(`{}`))
	var untyped bytes.Buffer
	var um eventstream.Message
	um.Headers.Set(":event-type", eventstream.StringValue("somethingNew"))
	um.Payload = []byte(`{}`)
	if err := eventstream.NewEncoder().Encode(&untyped, um); err != nil {
		t.Fatal(err)
	}
	delta := encodeFrame(t, "contentBlockDelta", []byte(`{"delta":{"text":"hi"}}`))
	var exc bytes.Buffer
	var m eventstream.Message
	m.Headers.Set(":exception-type", eventstream.StringValue("throttlingException"))
	m.Headers.Set(":message-type", eventstream.StringValue("exception"))
	m.Payload = []byte(`{"message":"slow down"}`)
	if err := eventstream.NewEncoder().Encode(&exc, m); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		dialect  inference.Dialect
		buffered []byte
		want     bool
	}{
		{"nothing", inference.DialectInvoke, nil, false},
		{"a prelude cut", inference.DialectInvoke, chunk[:8], false},
		{"a message cut", inference.DialectInvoke, chunk[:len(chunk)-1], false},
		{"a whole chunk", inference.DialectInvoke, chunk, true},
		{"an exception", inference.DialectInvoke, exc.Bytes(), true},
		{"an event Recv skips", inference.DialectInvoke, other, false},
		{"an event without a message type, which Recv skips", inference.DialectInvoke, untyped.Bytes(), false},
		{"a Converse event", inference.DialectConverse, delta, true},
		{"a Converse event cut", inference.DialectConverse, delta[:20], false},
		{"a malformed prelude", inference.DialectConverse, []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &rawEventStream{streamBody: streamBody{r: bufio.NewReaderSize(bytes.NewReader(tc.buffered), 8192)}, dialect: tc.dialect}
			s.r.Peek(1)
			if got := s.Ready(); got != tc.want {
				t.Errorf("Ready() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestOpenAIStreamEndsAtDoneWhateverTheBody: an upstream that keeps its
// body open after [DONE] does not delay the stream's end: Recv reports it
// at once, and Close's read of the rest of the body is bounded by the idle
// time-out, after which the connection is let go.
func TestOpenAIStreamEndsAtDoneWhateverTheBody(t *testing.T) {
	t.Parallel()
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the body stays open until the client lets go
		close(gone)
	}))
	defer srv.Close()
	clk := clock.NewManual(time.Unix(1_800_000_000, 0))
	const idle = 15 * time.Second
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", Clock: clk, StreamIdleTimeout: idle})
	s, err := b.Stream(t.Context(), req())
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := s.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	// The drain's time-out is the only timer left.
	if err := clk.WaitTimers(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gone:
		t.Fatal("the connection was let go before the idle time-out")
	default:
	}
	clk.Advance(idle)
	select {
	case <-gone:
	case <-t.Context().Done():
		t.Fatal("the connection was kept after the idle time-out")
	}
}

// TestOpenAIStreamEndsWithItsCaller: the upstream call of a stream, detached
// from the caller's context so that a finished stream keeps its connection,
// still ends as that context does, and with the same meaning: a caller's
// hang-up is a cancellation, a caller's deadline a time-out.
func TestOpenAIStreamEndsWithItsCaller(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // no event until the caller gives up
	}))
	defer srv.Close()
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", FirstByteTimeout: time.Hour, StreamIdleTimeout: time.Hour})
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want inference.ErrorKind
	}{
		{"hang-up", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx, cancel
		}, inference.KindUnavailable},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(t.Context(), time.Unix(0, 0))
		}, inference.KindTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			_, err := b.Stream(ctx, req())
			var ie *inference.Error
			if !errors.As(err, &ie) || ie.Kind != tc.want {
				t.Fatalf("Stream = %v, want an error of kind %v", err, tc.want)
			}
		})
	}
}

// TestOpenAIAnswerKeepsItsConnection: an answer decoded into the canonical
// response (a request without a body of its own) is read to the body's end,
// which arrives in a write of its own after the JSON value, so that the
// connection goes back to the pool.
func TestOpenAIAnswerKeepsItsConnection(t *testing.T) {
	t.Parallel()
	ended := make(chan error, 1)
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c1","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`)
		w.(http.Flusher).Flush()
		io.WriteString(w, "\n") // what json.Decoder leaves unread
	}))
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", Transport: watchDone{tr, make(chan struct{}, 1), ended}})
	const answers = 3
	for i := range answers {
		resp, err := b.Complete(t.Context(), req())
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if got := resp.Message.Text(); got != "Hi" {
			t.Fatalf("answer %d: %q, want Hi", i, got)
		}
		if err := <-ended; err != io.EOF {
			t.Fatalf("answer %d: its body ended in %v, not at its end: the connection was dropped", i, err)
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("%d answers opened %d connections to the upstream, want 1", answers, got)
	}
}

// TestOpenAIStreamDrainIsBounded: an upstream that holds the body open
// after [DONE] holds the stream's drain for maxDrainWait on the backend's
// clock at most, however long the idle time-out, and then loses its
// connection.
func TestOpenAIStreamDrainIsBounded(t *testing.T) {
	t.Parallel()
	hungUp := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}`+"\n\n")
		io.WriteString(w, "data: [DONE]\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(hungUp)
	}))
	defer srv.Close()
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", Clock: clk, FirstByteTimeout: time.Hour, StreamIdleTimeout: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	s, err := b.Stream(ctx, req())
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := s.Recv(); err != nil {
			if err != io.EOF {
				t.Fatalf("Recv: %v", err)
			}
			break
		}
	}
	timers := clk.Timers()
	s.Close()
	cancel()
	guard, stop := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
	defer stop()
	if err := clk.WaitTimers(guard, timers+1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hungUp:
		t.Fatal("the connection was let go of before the body's end or the drain's time-out")
	default:
	}
	clk.Advance(maxDrainWait)
	select {
	case <-hungUp:
	case <-guard.Done():
		t.Fatal("the drain outlived maxDrainWait")
	}
}

// countingServer starts a loopback server for h that counts the
// connections made to it.
func countingServer(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	conns := new(atomic.Int64)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}

// TestOpenAIStreamErrorKeepsItsConnection: a stream that ends in an error
// event (an error chunk, as vLLM and OpenAI send for a failure after the
// response headers) leaves its connection in the pool: what follows the
// error event ([DONE], or nothing) is read to the body's end after Close,
// as after [DONE]. The body's end arrives in a write of its own, once the
// caller has seen the error, and the caller's context ends right after
// Close. The error comes first (Stream fails; the caller may fail over)
// or after an event (Recv fails).
func TestOpenAIStreamErrorKeepsItsConnection(t *testing.T) {
	t.Parallel()
	const errChunk = `{"error":{"message":"overloaded","type":"server_error"}}`
	delta := `{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]}`
	for _, tc := range []struct {
		name string
		raw  bool
		// before is sent ahead of the error event, after is sent after
		// it (both SSE data lines).
		before, after []string
	}{
		{"decoded, first event", false, nil, nil},
		{"decoded, after an event, then [DONE]", false, []string{delta}, []string{"[DONE]"}},
		{"pass-through, first event, then [DONE]", true, nil, []string{"[DONE]"}},
		{"pass-through, after an event", true, []string{delta}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sawErr := make(chan struct{}, 1)
			sawEnd := make(chan error, 1)
			srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/event-stream")
				for _, d := range tc.before {
					fmt.Fprintf(w, "data: %s\n\n", d)
				}
				fmt.Fprintf(w, "data: %s\n\n", errChunk)
				for _, d := range tc.after {
					fmt.Fprintf(w, "data: %s\n\n", d)
				}
				w.(http.Flusher).Flush()
				select {
				case <-sawErr:
				case <-r.Context().Done():
				}
			}))
			tr := &http.Transport{MaxIdleConnsPerHost: 4}
			defer tr.CloseIdleConnections()
			b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", Transport: watchDone{tr, make(chan struct{}, 1), sawEnd}})
			defer b.Close()
			const streams = 3
			for i := range streams {
				r := req()
				if tc.raw {
					var err error
					if r, err = inference.Peek(inference.DialectOpenAIChat, "", []byte(`{"model":"x","stream":true,"messages":[{"role":"user","content":"hello"}]}`), false); err != nil {
						t.Fatal(err)
					}
				}
				ctx, cancel := context.WithCancel(t.Context())
				s, err := b.Stream(ctx, r)
				for err == nil {
					_, err = s.Recv()
				}
				var ie *inference.Error
				if !errors.As(err, &ie) || ie.Kind != inference.KindUpstream || !strings.Contains(ie.Message, "overloaded") {
					t.Fatalf("stream %d ended with %v, want the upstream's error", i, err)
				}
				sawErr <- struct{}{}
				if s != nil {
					s.Close()
				}
				cancel()
				if err := <-sawEnd; err != io.EOF {
					t.Fatalf("stream %d: its body ended in %v, not at its end: the connection was dropped", i, err)
				}
			}
			if got := conns.Load(); got != 1 {
				t.Errorf("%d streams that ended in an error opened %d connections to the upstream, want 1", streams, got)
			}
		})
	}
}
