package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// fbTimeout is the first-byte time-out of these tests: what matters is
// that it passes on the backend's clock, exactly then, not how long it is.
const fbTimeout = 2 * time.Second

// heldUpstream answers OpenAI chat completions and Bedrock's Converse and
// ConverseStream, each only once release is closed; gone receives once
// for every request whose client gave up first. With h2 it serves HTTP/2
// over TLS (as OpenAI's and Bedrock's endpoints do); proto is the major
// version of the last request's protocol.
func heldUpstream(t *testing.T, h2 bool) (srv *httptest.Server, release chan struct{}, gone chan struct{}, proto *atomic.Int32) {
	t.Helper()
	release, gone, proto = make(chan struct{}), make(chan struct{}, 4), new(atomic.Int32)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(int32(r.ProtoMajor))
		io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
			gone <- struct{}{}
			return
		}
		switch p := r.URL.Path; {
		case p == "/v1/chat/completions" && strings.Contains(r.Header.Get("Accept"), "event-stream"):
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, `data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
		case p == "/v1/chat/completions":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"c1","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`)
		case strings.HasSuffix(p, "/converse-stream"):
			w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
			for _, f := range [][2]string{
				{"messageStart", `{"role":"assistant"}`},
				{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hi"}}`},
				{"messageStop", `{"stopReason":"end_turn"}`},
			} {
				w.Write(sdkFrame(t, f[0], f[1]))
			}
		case strings.HasSuffix(p, "/converse"):
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"output":{"message":{"role":"assistant","content":[{"text":"Hi"}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4},"metrics":{"latencyMs":1}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, release, gone, proto
}

// sdkFrame is an event-stream event as Bedrock sends one, with the
// content type the SDK's decoder expects.
func sdkFrame(t testing.TB, eventType, payload string) []byte {
	return encodeFrame(t, eventType, []byte(payload), eventstreamContentType)
}

var eventstreamContentType = eventstream.Header{Name: ":content-type", Value: eventstream.StringValue("application/json")}

// fbPaths are the backends' request paths, each bounded by the first-byte
// time-out on its clock.
// A nil rt is the backend's own transport.
var fbPaths = []struct {
	name string
	new  func(t *testing.T, url string, rt http.RoundTripper, clk clock.Clock) Backend
	req  func(stream bool) *inference.Request
}{
	{"OpenAI", func(t *testing.T, url string, rt http.RoundTripper, clk clock.Clock) Backend {
		return NewOpenAI(OpenAIConfig{BaseURL: url + "/v1", Model: "m", FirstByteTimeout: fbTimeout, StreamIdleTimeout: time.Hour, Transport: rt, Clock: clk})
	}, func(stream bool) *inference.Request {
		r := req()
		r.Stream = stream
		return r
	}},
	{"Bedrock SDK", newFBBedrock, func(stream bool) *inference.Request {
		r := req()
		r.Stream = stream
		return r
	}},
	{"Bedrock pass-through", newFBBedrock, func(stream bool) *inference.Request {
		return &inference.Request{Stream: stream, Dialect: inference.DialectConverse, Body: []byte(`{"messages":[{"role":"user","content":[{"text":"x"}]}]}`)}
	}},
}

func newFBBedrock(t *testing.T, url string, rt http.RoundTripper, clk clock.Clock) Backend {
	var hc *http.Client // nil: the SDK's buildable client, with the deployment's options
	if rt != nil {
		hc = &http.Client{Transport: rt}
	}
	cfg := BedrockConfig{Region: "eu-central-1", Model: "demo.chat-small", Endpoint: url,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), FirstByteTimeout: fbTimeout, StreamIdleTimeout: time.Hour, Clock: clk}
	if hc != nil {
		cfg.HTTPClient = hc
	}
	b, err := NewBedrock(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// call runs a request of b, streamed or not, reading a stream to its end;
// it reports how many timers were pending on clk when Complete or Stream
// returned.
func call(ctx context.Context, b Backend, r *inference.Request, clk *clock.Manual) (timers int, err error) {
	if !r.Stream {
		_, err = b.Complete(ctx, r)
		return clk.Timers(), err
	}
	s, err := b.Stream(ctx, r)
	timers = clk.Timers()
	if err != nil {
		return timers, err
	}
	defer s.Close()
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return timers, nil
			}
			return timers, err
		}
	}
}

// TestFirstByteTimeoutRunsOnTheClock: every backend request path (OpenAI,
// Bedrock through the SDK, Bedrock passed through; answers and streams;
// HTTP/1.1 and HTTP/2) waits for its response's headers for
// first_byte_timeout on the backend's clock, armed once the request is
// written: not a tick less (the timer is still pending), and when the
// clock reaches it the request is cancelled (the upstream sees it go) and
// fails with a retryable time-out, the error net/http gave for its own
// ResponseHeaderTimeout. Headers that arrive in time stop the timer: none
// is left once the call returns.
//
// Before, the wait was net/http's ResponseHeaderTimeout, on the wall
// clock: the manual clock moved nothing, and every case waited for its
// hang guard.
func TestFirstByteTimeoutRunsOnTheClock(t *testing.T) {
	t.Parallel()
	for _, p := range fbPaths {
		for _, h2 := range []bool{false, true} {
			for _, stream := range []bool{false, true} {
				for _, answer := range []bool{false, true} {
					name := fmt.Sprintf("%s/h2=%t/stream=%t/answered=%t", p.name, h2, stream, answer)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						testFirstByteTimeout(t, p.new, p.req(stream), h2, answer)
					})
				}
			}
		}
	}
}

// testFirstByteTimeout runs one case of TestFirstByteTimeoutRunsOnTheClock:
// ireq on the backend newBackend returns, the upstream answering before
// the time-out (answer) or never.
func testFirstByteTimeout(t *testing.T, newBackend func(*testing.T, string, http.RoundTripper, clock.Clock) Backend, ireq *inference.Request, h2, answer bool) {
	srv, release, gone, proto := heldUpstream(t, h2)
	var rt http.RoundTripper
	if h2 {
		rt = srv.Client().Transport
	}
	clk := clock.NewManual(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	b := newBackend(t, srv.URL, rt, clk)
	defer b.Close()
	guard, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
	defer cancel()
	type result struct {
		timers int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		n, err := call(guard, b, ireq, clk)
		done <- result{n, err}
	}()
	if err := clk.WaitTimers(guard, 1); err != nil { // the request is written
		t.Fatal(err)
	}
	clk.Advance(fbTimeout - time.Nanosecond)
	if n := clk.Timers(); n != 1 {
		t.Fatalf("%v after the request was written: %d timers pending, want the first-byte timer", fbTimeout-time.Nanosecond, n)
	}
	select {
	case r := <-done:
		t.Fatalf("the call returned before its first-byte time-out: %v", r.err)
	default:
	}
	if answer {
		close(release)
		r := <-done
		if r.err != nil {
			t.Fatalf("answered in time: %v", r.err)
		}
		if r.timers != 0 {
			t.Errorf("answered in time: %d timers left pending, want none", r.timers)
		}
		if want := map[bool]int32{false: 1, true: 2}[h2]; proto.Load() != want {
			t.Errorf("the request came over HTTP/%d, want HTTP/%d", proto.Load(), want)
		}
		return
	}
	clk.Advance(time.Nanosecond)
	r := <-done
	var ie *inference.Error
	var fe *firstByteTimeout
	var ne net.Error
	switch {
	case guard.Err() != nil:
		t.Fatalf("the call waited for the hang guard: %v", r.err)
	case !errors.As(r.err, &ie) || ie.Kind != inference.KindTimeout || !ie.Kind.Retryable():
		t.Fatalf("error = %v, want a retryable KindTimeout", r.err)
	case !errors.As(r.err, &fe) || !errors.As(r.err, &ne) || !ne.Timeout():
		t.Errorf("error = %v, want net/http's shape of a header time-out (a net.Error whose Timeout is true)", r.err)
	}
	if r.timers != 0 {
		t.Errorf("timed out: %d timers left pending, want none", r.timers)
	}
	select {
	case <-gone:
	case <-guard.Done():
		t.Fatal("the upstream's request was not cancelled")
	}
}

// TestMockFirstByteTimeout: the embedded simulator is reached through the
// same adapters; one that takes longer than first_byte_timeout to answer
// (its pacing on the same manual clock) times out when the clock passes
// the time-out, not when it passes the simulator's time to first token.
func TestMockFirstByteTimeout(t *testing.T) {
	t.Parallel()
	for _, api := range []string{"openai", "bedrock"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewManual(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
			m, err := NewMock(MockConfig{Model: "demo.chat-small", TTFT: time.Hour, TokensPerSecond: 5000, API: api, FirstByteTimeout: fbTimeout, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			guard, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := m.Complete(guard, req())
				done <- err
			}()
			// The adapter's first-byte timer, among the simulator's.
			if err := clk.WaitArmed(guard, fbTimeout, 1); err != nil {
				t.Fatal(err)
			}
			clk.Advance(fbTimeout)
			err = <-done
			var ie *inference.Error
			if guard.Err() != nil || !errors.As(err, &ie) || ie.Kind != inference.KindTimeout {
				t.Fatalf("Complete past first_byte_timeout = %v, want KindTimeout", err)
			}
		})
	}
}

// doFunc is a doer made of a function.
type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// closeBody is a response body that records its Close.
type closeBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *closeBody) Close() error { b.closed.Store(true); return nil }

// TestDoWithin covers doWithin's orderings that a real upstream cannot
// be made to produce on cue, with a doer that reports its request written
// (httptrace) when the case says.
func TestDoWithin(t *testing.T) {
	t.Parallel()
	const d = fbTimeout
	wrote := func(r *http.Request) {
		httptrace.ContextClientTrace(r.Context()).WroteRequest(httptrace.WroteRequestInfo{})
	}
	connecting := func(r *http.Request) { httptrace.ContextClientTrace(r.Context()).GetConn("upstream:443") }
	tests := []struct {
		name string
		// do plays the transport; it returns its response (nil: fail with
		// the request context's error).
		do          func(r *http.Request, clk *clock.Manual) *http.Response
		wantTimeout bool
		// wantClosed: the response's body was closed by doWithin.
		wantClosed bool
	}{
		{name: "headers in time", do: func(r *http.Request, clk *clock.Manual) *http.Response {
			wrote(r)
			clk.Advance(d - time.Nanosecond)
			return okResponse(r)
		}},
		{name: "no headers in time", wantTimeout: true, do: func(r *http.Request, clk *clock.Manual) *http.Response {
			wrote(r)
			clk.Advance(d)
			<-r.Context().Done()
			return nil
		}},
		{name: "headers as the timer fires", wantTimeout: true, wantClosed: true, do: func(r *http.Request, clk *clock.Manual) *http.Response {
			wrote(r)
			clk.Advance(d)
			return okResponse(r)
		}},
		{name: "not written: no timer", do: func(r *http.Request, clk *clock.Manual) *http.Response {
			clk.Advance(2 * d)
			return okResponse(r)
		}},
		{name: "written again on another connection: the wait starts again", do: func(r *http.Request, clk *clock.Manual) *http.Response {
			connecting(r)
			wrote(r)
			clk.Advance(d - time.Nanosecond)
			connecting(r) // a reused connection dropped the request
			if n := clk.Timers(); n != 0 {
				panic(fmt.Sprintf("%d timers pending while a connection is got, want none", n))
			}
			clk.Advance(d)
			wrote(r)
			clk.Advance(d - time.Nanosecond)
			return okResponse(r)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewManual(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
			var sent *http.Request
			var body *closeBody
			c := doFunc(func(r *http.Request) (*http.Response, error) {
				sent = r
				resp := tc.do(r, clk)
				if resp == nil {
					return nil, &netError{r.Context().Err()}
				}
				body = resp.Body.(*closeBody)
				return resp, nil
			})
			hr, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://user:secret@upstream/v1/chat/completions", nil)
			resp, err := doWithin(c, hr, clk, d)
			var fe *firstByteTimeout
			if got := errors.As(err, &fe); got != tc.wantTimeout {
				t.Fatalf("doWithin = %v, want a first-byte time-out: %t", err, tc.wantTimeout)
			}
			if n := clk.Timers(); n != 0 {
				t.Errorf("%d timers pending after doWithin returned, want none", n)
			}
			if body != nil && body.closed.Load() != tc.wantClosed {
				t.Errorf("response body closed: %t, want %t", body.closed.Load(), tc.wantClosed)
			}
			if err != nil {
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q shows the URL's password", err)
				}
				if sent.Context().Err() == nil {
					t.Error("the request's context is not released after a failure")
				}
				return
			}
			// A write reported after the headers (net/http's writer may
			// report it late) arms nothing.
			wrote(sent)
			if n := clk.Timers(); n != 0 {
				t.Errorf("%d timers pending after a late write report, want none", n)
			}
			if sent.Context().Err() != nil {
				t.Fatal("the request's context ended before its body was closed")
			}
			resp.Body.Close()
			if sent.Context().Err() == nil {
				t.Error("the request's context is not released by the body's Close")
			}
		})
	}
}

func okResponse(r *http.Request) *http.Response {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: &closeBody{Reader: strings.NewReader("{}")}, Request: r}
}

// netError is a transport's error for a cancelled request.
type netError struct{ err error }

func (e *netError) Error() string { return "transport: " + e.err.Error() }
func (e *netError) Unwrap() error { return e.err }
