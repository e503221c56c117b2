package interregion

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// endingLocal is a destination gateway whose streams send one event and
// then end with end: io.EOF (the end frame) or an error (an error frame).
type endingLocal struct{ end error }

func (l endingLocal) ServeForwarded(context.Context, *dispatch.Job) (*dispatch.Outcome, error) {
	return &dispatch.Outcome{Stream: &endingStream{end: l.end}}, nil
}

type endingStream struct {
	end  error
	sent bool
}

func (s *endingStream) Recv() (inference.Event, error) {
	if !s.sent {
		s.sent = true
		return inference.Event{Kind: inference.EventDelta, Text: "ok"}, nil
	}
	return inference.Event{}, s.end
}

func (s *endingStream) Close() error { return nil }

// TestForwardedStreamKeepsItsConnection: a forwarded stream that ended (its
// end frame, or an error frame: the destination's stream is over either
// way) gives its pool connection back, even when the body's end (HTTP/1.1's
// last chunk) arrives after that frame in a write of its own and the
// caller's context ends right after Close, as a source's HTTP handler's
// does when it returns. Closing the stream reads the body to its end in the
// background, detached from the caller's context; the test waits for that
// (released) before the next stream. A stream that dropped its connection
// made the next forward dial, and shake hands (mutual TLS), again. The
// same holds for a stream in NDJSON (a destination from before stream
// frames), whose last line is its end or an error.
func TestForwardedStreamKeepsItsConnection(t *testing.T) {
	t.Parallel()
	ends := []struct {
		name string
		end  error
		// ndjson: the destination answers in NDJSON (it is not told
		// that the source reads stream frames).
		ndjson bool
	}{
		{"end frame", io.EOF, false},
		{"error frame", &inference.Error{Kind: inference.KindUpstream, Message: "upstream error: overloaded"}, false},
		{"NDJSON end line", io.EOF, true},
		{"NDJSON error line", &inference.Error{Kind: inference.KindUpstream, Message: "upstream error: overloaded"}, true},
	}
	for _, tc := range poolLinkKinds {
		for _, e := range ends {
			t.Run(tc.name+"/"+e.name, func(t *testing.T) {
				t.Parallel()
				// sawEnd is sent to once the source has read the stream's
				// last frame; only then does the destination's handler
				// return, which writes the body's end in a write of its
				// own.
				sawEnd := make(chan struct{}, 1)
				l := startPoolLink(t, poolLinkOptions{secure: tc.secure, h2: tc.h2, local: endingLocal{end: e.end},
					wrap: func(h http.Handler) http.Handler {
						return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
							if e.ndjson {
								r.Header.Del("Accept")
							}
							h.ServeHTTP(w, r)
							if r.URL.Path != PathInvoke {
								return
							}
							if got := w.Header().Get("Content-Type"); got != ContentTypeNDJSON && e.ndjson {
								t.Errorf("the destination answered in %q, want NDJSON", got)
							}
							http.NewResponseController(w).Flush()
							select {
							case <-sawEnd:
							case <-r.Context().Done():
							}
						})
					}})
				const n = 3
				for i := range n {
					ctx, cancel := context.WithCancel(t.Context())
					st, err := l.client.Executor(dst).Stream(ctx, forwardJob())
					if err != nil {
						cancel()
						t.Fatalf("stream %d: %v", i, err)
					}
					var end error
					for end == nil {
						_, end = st.Recv()
					}
					released := make(chan struct{})
					st.(*remoteStream).released = func() { close(released) }
					var ie *inference.Error
					if e.end == io.EOF && end != io.EOF || e.end != io.EOF && (!errors.As(end, &ie) || ie.Kind != inference.KindUpstream) {
						t.Fatalf("stream %d ended with %v, want %v", i, end, e.end)
					}
					sawEnd <- struct{}{}
					st.Close()
					cancel()
					select {
					case <-released:
					case <-time.After(time.Minute): // a hang guard only
						t.Fatalf("stream %d: its request was never released", i)
					}
				}
				if got := l.conns.Load(); got != 1 {
					t.Errorf("%d sequential streams opened %d connections, want 1 (each gave its connection back at its end)", n, got)
				}
				if got := l.client.peers[dst].lanes.pool.inFlight.Load(); got != 0 {
					t.Errorf("the streams left %d requests in flight on the pool, want 0", got)
				}
			})
		}
	}
}

// flushingWriter flushes every write: each is a chunk of its own on the
// wire.
type flushingWriter struct{ http.ResponseWriter }

func (w flushingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	http.NewResponseController(w.ResponseWriter).Flush()
	return n, err
}

func (w flushingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// readOnConn watches a source's pool connection: once the bytes read from
// it contain marker, the next read on it (the source reading on after
// what it was sent) is sent to more.
type readOnConn struct {
	net.Conn
	marker []byte
	more   chan<- struct{}
	mu     sync.Mutex
	got    []byte
	seen   bool
}

func (c *readOnConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.seen {
		c.seen, c.got = false, c.got[:0]
		c.more <- struct{}{}
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.got = append(c.got, p[:n]...)
	c.seen = bytes.Contains(c.got, c.marker)
	c.mu.Unlock()
	return n, err
}

// failingLocal is a destination gateway that refuses every job with err.
type failingLocal struct{ err error }

func (l failingLocal) ServeForwarded(context.Context, *dispatch.Job) (*dispatch.Outcome, error) {
	return nil, l.err
}

// TestForwardedJSONAnswerKeepsItsConnection: a non-streaming forward
// answered in JSON (an answer that does not fit the answer form, or an
// error) gives its pool connection back although the JSON decoder stops
// at the value's end: the source reads the body to its end, which may
// arrive after the value (here the destination sends the body's end only
// once the source reads on after the value, or hangs up). A forward that
// closed the body at the value's end dropped the connection, and the next
// forward dialled again.
func TestForwardedJSONAnswerKeepsItsConnection(t *testing.T) {
	t.Parallel()
	canonical := &inference.Response{ID: "msg-1", Model: "demo.chat-small",
		Message:    inference.Message{Role: "assistant", Content: []inference.Block{{Text: "hi"}}},
		StopReason: inference.StopEndTurn, Usage: inference.Usage{InputTokens: 3, OutputTokens: 1}}
	for _, tc := range []struct {
		name  string
		local Local
		// wantErr is the kind of error Complete fails with; 0: none.
		wantErr inference.ErrorKind
	}{
		{"answer in JSON", answerLocal{canonical}, 0},
		{"error", failingLocal{&inference.Error{Kind: inference.KindThrottled, Message: "slow down"}}, inference.KindThrottled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			more := make(chan struct{}, 1)
			l := startPoolLink(t, poolLinkOptions{local: tc.local,
				wrap: func(h http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if r.URL.Path != PathInvoke {
							h.ServeHTTP(w, r)
							return
						}
						h.ServeHTTP(flushingWriter{w}, r)
						select {
						case <-more:
						case <-r.Context().Done():
						}
					})
				}})
			pool := l.client.peers[dst].lanes.pool
			dial := pool.dial
			pool.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				// The JSON value's end, its newline and the chunk's end.
				return &readOnConn{Conn: c, marker: []byte("}\n\r\n"), more: more}, nil
			}
			const n = 3
			for i := range n {
				ctx, cancel := context.WithCancel(t.Context())
				got, err := l.client.Executor(dst).Complete(ctx, forwardJob())
				cancel()
				var ie *inference.Error
				switch {
				case tc.wantErr == 0 && err != nil:
					t.Fatalf("forward %d: %v", i, err)
				case tc.wantErr == 0 && got.Message.Text() != "hi":
					t.Fatalf("forward %d answered %+v, want the canonical answer", i, got)
				case tc.wantErr != 0 && (!errors.As(err, &ie) || ie.Kind != tc.wantErr):
					t.Fatalf("forward %d failed with %v, want a %v error", i, err, tc.wantErr)
				}
			}
			if got := l.conns.Load(); got != 1 {
				t.Errorf("%d sequential forwards opened %d connections, want 1 (each gave its connection back)", n, got)
			}
		})
	}
}

// TestForwardedStreamDrainIsBounded: a destination that holds the body
// open after a stream's last frame holds the source's drain (and its pool
// connection) for streamDrainTimeout on the client's clock at most; the
// connection is then let go (the destination sees the hang-up), and the
// pool has its room back.
func TestForwardedStreamDrainIsBounded(t *testing.T) {
	t.Parallel()
	hungUp := make(chan struct{}, 1)
	l := startPoolLink(t, poolLinkOptions{local: endingLocal{end: io.EOF},
		wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.ServeHTTP(w, r)
				if r.URL.Path != PathInvoke {
					return
				}
				http.NewResponseController(w).Flush()
				<-r.Context().Done()
				hungUp <- struct{}{}
			})
		}})
	ctx, cancel := context.WithCancel(t.Context())
	st, err := l.client.Executor(dst).Stream(ctx, forwardJob())
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	released := make(chan struct{})
	st.(*remoteStream).released = func() { close(released) }
	for {
		if _, err := st.Recv(); err != nil {
			if err != io.EOF {
				t.Fatalf("Recv: %v", err)
			}
			break
		}
	}
	timers := l.clock.Timers()
	st.Close()
	cancel()
	guard, stop := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
	defer stop()
	if err := l.clock.WaitTimers(guard, timers+1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-released:
		t.Fatal("the stream was released before the body's end or the drain's time-out")
	default:
	}
	if got := l.client.peers[dst].lanes.pool.inFlight.Load(); got != 1 {
		t.Errorf("a draining stream holds %d requests in flight on the pool, want 1", got)
	}
	l.clock.Advance(streamDrainTimeout)
	select {
	case <-released:
	case <-guard.Done():
		t.Fatal("the drain outlived its time-out")
	}
	select {
	case <-hungUp:
	case <-guard.Done():
		t.Fatal("the destination never saw the source let the connection go")
	}
	if got := l.client.peers[dst].lanes.pool.inFlight.Load(); got != 0 {
		t.Errorf("after the drain's time-out, %d requests are in flight on the pool, want 0", got)
	}
}

// TestReadToEndIsBounded: a body whose end never comes (a destination that
// holds it open after its JSON answer) holds readToEnd for trailingTimeout
// on the client's clock at most, and is then closed, which lets its
// connection go.
func TestReadToEndIsBounded(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(t0)
	pr, pw := io.Pipe()
	defer pw.Close()
	body := &closeCounter{ReadCloser: pr}
	done := make(chan struct{})
	go func() {
		readToEnd(body, clk)
		close(done)
	}()
	guard, stop := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
	defer stop()
	if err := clk.WaitTimers(guard, 1); err != nil {
		t.Fatal(err)
	}
	pw.Write([]byte("\n")) // what a JSON decoder leaves: read, and waited past
	select {
	case <-done:
		t.Fatal("readToEnd returned before the body's end or its time-out")
	default:
	}
	clk.Advance(trailingTimeout)
	select {
	case <-done:
	case <-guard.Done():
		t.Fatal("readToEnd outlived its time-out")
	}
	if n := body.closes.Load(); n != 1 {
		t.Errorf("the body was closed %d times at the time-out, want once", n)
	}
}

type closeCounter struct {
	io.ReadCloser
	closes atomic.Int32
}

func (c *closeCounter) Close() error {
	c.closes.Add(1)
	return c.ReadCloser.Close()
}

// TestClientCloseEndsItsDrains: Close owns the drains of the forwarded
// streams that ended: it cuts short one still waiting for the body's end
// (the link's connections are going away with the client) and returns
// only once it has released its stream. The destination holds the body
// open after the last frame, and the client's clock never moves, so the
// drain can end by Close alone.
func TestClientCloseEndsItsDrains(t *testing.T) {
	t.Parallel()
	l := startPoolLink(t, poolLinkOptions{local: endingLocal{end: io.EOF},
		wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.ServeHTTP(w, r)
				if r.URL.Path != PathInvoke {
					return
				}
				http.NewResponseController(w).Flush()
				<-r.Context().Done()
			})
		}})
	// Whatever happens, the drain's time-out ends it before the
	// destination's server waits for its handler.
	defer l.clock.Advance(streamDrainTimeout)
	st, err := l.client.Executor(dst).Stream(t.Context(), forwardJob())
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	released := make(chan struct{})
	st.(*remoteStream).released = func() { close(released) }
	for {
		if _, err := st.Recv(); err != nil {
			if err != io.EOF {
				t.Fatalf("Recv: %v", err)
			}
			break
		}
	}
	timers := l.clock.Timers()
	st.Close()
	guard, stop := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
	defer stop()
	if err := l.clock.WaitTimers(guard, timers+1); err != nil { // the drain has begun
		t.Fatal(err)
	}
	l.client.Close()
	select {
	case <-released:
	default:
		t.Fatal("Close returned while a stream's drain still ran")
	}
	if got := l.client.peers[dst].lanes.pool.inFlight.Load(); got != 0 {
		t.Errorf("after Close, %d requests are in flight on the pool, want 0", got)
	}
}
