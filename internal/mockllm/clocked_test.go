package mockllm_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// A paced server under a manual clock moves only when the test advances
// the clock, so a test can say exactly when each event was sent without
// waiting on the wall clock: clockedServer counts the body bytes the
// handler has written, and clockedStream reads them each time the handler
// blocks on its next timer, stamping them with the clock's time.

// clockedServer is a mockllm under a manual clock, served on loopback,
// that counts the body bytes its handler has written and knows when a
// chat completion request has ended.
type clockedServer struct {
	srv     *mockllm.Server
	clk     *clock.Manual
	url     string
	written atomic.Int64
	// ended is cancelled (with errEnded) when a chat completion request
	// ends, or with a deadline error when the hang guard passes.
	ended context.Context
}

var errEnded = errors.New("the request ended")

// startClocked serves cfg under a new manual clock (cfg.Clock is
// replaced) for the test's lifetime.
func startClocked(t *testing.T, cfg mockllm.Config) *clockedServer {
	t.Helper()
	s := &clockedServer{clk: newFakeClock()}
	cfg.Clock = s.clk
	s.srv = mockllm.New(cfg)
	guard, cancelGuard := context.WithTimeout(t.Context(), hangGuard)
	t.Cleanup(cancelGuard)
	ended, end := context.WithCancelCause(guard)
	t.Cleanup(func() { end(nil) })
	s.ended = ended
	mockllm.SetTestHookDone(s.srv, func() { end(errEnded) })
	h := s.srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(countingWriter{w, &s.written}, r)
	}))
	t.Cleanup(hs.Close)
	s.url = hs.URL
	return s
}

// countingWriter counts the bytes written through it before the handler
// flushes them: once the handler blocks on a timer, everything it wrote
// is counted and on its way to the client.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

func (w countingWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

func (w countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// stamped is a piece of a response body with the clock's time when the
// server wrote it.
type stamped struct {
	at   time.Time
	data string // an SSE event's payload, or a whole JSON body
}

// clockedStream reads one response of a clockedServer. Only one request
// may be in flight on the server (its timers are the clock's only ones).
type clockedStream struct {
	t      *testing.T
	s      *clockedServer
	step   time.Duration // how far the clock moves while the server waits
	answer chan answer
	resp   *http.Response
	read   int64 // body bytes read
	buf    []byte
	eof    bool
}

type answer struct {
	resp *http.Response
	err  error
}

// post sends a chat completion on its own goroutine (a non-streaming
// answer's headers come only when it is due) and returns its reader,
// which moves the clock by step whenever the server waits; step should
// divide every deadline of the schedule under test, so that each event is
// stamped with its deadline exactly. Cancelling ctx cancels the request.
func (s *clockedServer) post(t *testing.T, ctx context.Context, body string, step time.Duration) *clockedStream {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	c := &clockedStream{t: t, s: s, step: step, answer: make(chan answer, 1)}
	go func() {
		resp, err := http.DefaultClient.Do(req)
		c.answer <- answer{resp, err}
	}()
	t.Cleanup(func() {
		if resp := c.response(); resp != nil {
			resp.Body.Close()
		}
	})
	return c
}

// response waits for the response's headers; nil if the request failed.
func (c *clockedStream) response() *http.Response {
	if c.resp == nil {
		a, ok := <-c.answer
		if !ok {
			return nil
		}
		close(c.answer)
		if a.err != nil {
			c.t.Errorf("POST: %v", a.err)
			return nil
		}
		c.resp = a.resp
	}
	return c.resp
}

// next returns the next SSE event with the time it was sent, advancing the
// clock while the server waits on it; false at the end of the body.
func (c *clockedStream) next() (stamped, bool) {
	c.t.Helper()
	for {
		if i := bytes.Index(c.buf, []byte("\n\n")); i >= 0 {
			ev := string(c.buf[:i+2])
			c.buf = c.buf[i+2:]
			if !strings.HasPrefix(ev, "data: ") || strings.Count(ev, "\n") != 2 {
				c.t.Fatalf("malformed SSE event %q", ev)
			}
			return stamped{c.s.clk.Now(), strings.TrimSuffix(strings.TrimPrefix(ev, "data: "), "\n\n")}, true
		}
		if c.eof {
			if len(c.buf) > 0 {
				c.t.Fatalf("stream ends inside an event: %q", c.buf)
			}
			return stamped{}, false
		}
		if !c.fill() {
			c.s.clk.Advance(c.step)
		}
	}
}

// rest returns the rest of the body with the time it was complete
// (a non-streaming answer is written at once, when it is due).
func (c *clockedStream) rest() stamped {
	c.t.Helper()
	for !c.eof {
		if !c.fill() {
			c.s.clk.Advance(c.step)
		}
	}
	b := string(c.buf)
	c.buf = nil
	return stamped{c.s.clk.Now(), b}
}

// fill waits until the server blocks on its next timer or its request
// ends, then reads everything it has written; it reports whether it read
// anything.
func (c *clockedStream) fill() bool {
	c.t.Helper()
	err := c.s.clk.WaitTimers(c.s.ended, 1)
	if err != nil && !errors.Is(context.Cause(c.s.ended), errEnded) {
		c.t.Fatalf("the server neither waited nor ended: %v", err)
	}
	if err != nil { // ended: the whole body is written
		resp := c.response()
		if resp == nil {
			c.t.FailNow()
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			c.t.Fatalf("read the end of the body: %v", err)
		}
		c.buf = append(c.buf, b...)
		c.read += int64(len(b))
		c.eof = true
		return len(b) > 0
	}
	n := c.s.written.Load() - c.read
	if n == 0 {
		return false
	}
	// Bytes were flushed, so were the headers before them.
	resp := c.response()
	if resp == nil {
		c.t.FailNow()
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(resp.Body, b); err != nil {
		c.t.Fatalf("read %d flushed bytes: %v", n, err)
	}
	c.buf = append(c.buf, b...)
	c.read += n
	return true
}

// jumpClock is a manual clock that jumps to each deadline as soon as it is
// armed: a paced server runs through its whole schedule (every timer armed,
// every deadline computed) without waiting on the wall clock. For one
// request at a time.
type jumpClock struct{ *clock.Manual }

func (c jumpClock) NewTimer(d time.Duration) (mockllm.Timer, <-chan time.Time) {
	t, ch := c.Manual.NewTimer(d)
	c.Advance(d)
	return t, ch
}
