package backend_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestBedrockStreamKeepsItsConnection: a Bedrock stream, through the SDK
// (ConverseStream) or passed through, leaves its connection to Bedrock in
// the pool, even when the body's end (HTTP/1.1's last chunk) arrives after
// the last event in a write of its own and the caller's context ends right
// after Close, as an HTTP handler's does when it returns: both report the
// stream's end only once a read returned the body's end, and net/http has
// by then put the connection back (it does so before that read returns,
// so the test checks it as Recv reports the end, without waiting). A
// stream that dropped its connection made the next request dial and shake
// hands (TLS, to Bedrock) again.
//
// The server ends a body only once the client has read its last event and
// net/http has reported the request written (httptrace): net/http pools a
// connection only if that write is over, and the test must not depend on
// how soon the writer gets to run.
func TestBedrockStreamKeepsItsConnection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		req  *inference.Request
	}{
		{"ConverseStream through the SDK", &inference.Request{Stream: true, Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "x")}}},
		{"ConverseStream passed through", &inference.Request{Stream: true, Dialect: inference.DialectConverse,
			Body: []byte(`{"messages":[{"role":"user","content":[{"text":"x"}]}]}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// sawLast is sent to once the client has read the last event;
			// only then does the handler return, which writes the body's
			// end in a write of its own.
			sawLast := make(chan struct{}, 1)
			var conns atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
				for _, f := range [][]byte{
					frame("messageStart", `{"role":"assistant"}`),
					frame("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hel"}}`),
					frame("contentBlockStop", `{"contentBlockIndex":0}`),
					frame("messageStop", `{"stopReason":"end_turn"}`),
					frame("metadata", `{"usage":{"inputTokens":5,"outputTokens":2,"totalTokens":7},"metrics":{"latencyMs":50}}`),
				} {
					w.Write(f)
				}
				http.NewResponseController(w).Flush()
				select {
				case <-sawLast:
				case <-r.Context().Done():
				}
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			b, err := backend.NewBedrock(t.Context(), backend.BedrockConfig{Region: "eu-central-1", Model: "demo.chat-small", Endpoint: srv.URL,
				Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			const n = 3
			for i := range n {
				var c connTrace
				ctx, cancel := context.WithCancel(c.with(t.Context()))
				s, err := b.Stream(ctx, tc.req)
				if err != nil {
					cancel()
					t.Fatalf("stream %d: %v", i, err)
				}
				for {
					ev, err := s.Recv()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("stream %d: %v", i, err)
					}
					if ev.Kind == inference.EventUsage {
						select {
						case err := <-c.wrote:
							if err != nil {
								t.Fatalf("stream %d: writing the request failed: %v", i, err)
							}
						case <-t.Context().Done(): // hang guard only
							t.Fatalf("stream %d: the request was never reported written", i)
						}
						sawLast <- struct{}{}
					}
				}
				// Read before Close and cancel: what they do must not
				// matter any more.
				put, putErr, reused := c.state()
				s.Close()
				cancel()
				switch {
				case !put:
					t.Fatalf("stream %d reported its end before its connection was back in the pool (the body's end was not read)", i)
				case putErr != nil:
					t.Fatalf("stream %d: net/http did not pool its connection: %v", i, putErr)
				case i > 0 && !reused:
					t.Fatalf("stream %d dialled a new connection instead of taking the pooled one", i)
				}
			}
			if got := conns.Load(); got != 1 {
				t.Errorf("%d sequential streams opened %d connections, want 1", n, got)
			}
		})
	}
}

// connTrace records, through httptrace, what net/http did with a
// request's connection.
type connTrace struct {
	wrote  chan error // the request's write ended (nil: written)
	mu     sync.Mutex
	put    bool  // the connection went back to the pool, or failed to
	putErr error // why it did not
	reused bool  // the request took a pooled connection
}

// with returns ctx carrying c's hooks (the SDK and the pass-through both
// hand ctx to net/http).
func (c *connTrace) with(ctx context.Context) context.Context {
	c.wrote = make(chan error, 1)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(g httptrace.GotConnInfo) {
			c.mu.Lock()
			c.reused = g.Reused
			c.mu.Unlock()
		},
		WroteRequest: func(w httptrace.WroteRequestInfo) {
			select {
			case c.wrote <- w.Err:
			default: // a retry's: the first tells
			}
		},
		PutIdleConn: func(err error) {
			c.mu.Lock()
			c.put, c.putErr = true, err
			c.mu.Unlock()
		},
	})
}

func (c *connTrace) state() (put bool, putErr error, reused bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.put, c.putErr, c.reused
}

// TestBedrockSDKRequestBodyEndsCleanly: net/http sends a request body of
// known length, then reads it on to its end to check that nothing is left;
// over HTTP/1.1 the body is on the wire before that read, so the answer
// may arrive, and the SDK close the body (it does once Do returns), before
// it. That read must then see the body's end: the SDK's
// body reported io.EOF as an error there (its WriteTo does once closed),
// and net/http closed the connection, during the stream that was using it
// or before the next request could take it from the pool. The client here
// reads the body as net/http does, the rest only after the call returned.
func TestBedrockSDKRequestBodyEndsCleanly(t *testing.T) {
	t.Parallel()
	stream := bytes.Join([][]byte{
		frame("messageStart", `{"role":"assistant"}`),
		frame("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hel"}}`),
		frame("messageStop", `{"stopReason":"end_turn"}`),
	}, nil)
	for _, tc := range []struct {
		name string
		call func(context.Context, *backend.Bedrock) error
	}{
		{"ConverseStream", func(ctx context.Context, b *backend.Bedrock) error {
			s, err := b.Stream(ctx, &inference.Request{Stream: true, Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "x")}})
			if err != nil {
				return err
			}
			defer s.Close()
			for {
				if _, err := s.Recv(); errors.Is(err, io.EOF) {
					return nil
				} else if err != nil {
					return err
				}
			}
		}},
		{"Converse", func(ctx context.Context, b *backend.Bedrock) error {
			_, err := b.Complete(ctx, &inference.Request{Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "x")}})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &lateBodyReader{stream: stream}
			b, err := backend.NewBedrock(t.Context(), backend.BedrockConfig{Region: "eu-central-1", Model: "demo.chat-small", Endpoint: "http://bedrock.invalid",
				Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), HTTPClient: c})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.call(t.Context(), b); err != nil {
				t.Fatal(err)
			}
			if c.body == nil {
				t.Fatal("the request had no body")
			}
			// What net/http's writer reads after the Content-Length.
			if n, err := io.Copy(io.Discard, c.body); n != 0 || err != nil {
				t.Errorf("the request body, read on after its length once the call returned, gave %d bytes and %v; want 0 and its end (nil)", n, err)
			}
		})
	}
}

// lateBodyReader is an HTTP client that reads a request body's
// Content-Length, answers, and leaves the rest of the read (body) to the
// test, as net/http's writer may do after the answer arrived.
type lateBodyReader struct {
	stream []byte
	body   io.Reader
}

func (c *lateBodyReader) Do(r *http.Request) (*http.Response, error) {
	if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, r.ContentLength)); err != nil {
		return nil, err
	}
	c.body = r.Body
	if strings.HasSuffix(r.URL.Path, "/converse-stream") {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}},
			Body: io.NopCloser(bytes.NewReader(c.stream)), Request: r}, nil
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(strings.NewReader(`{"output":{"message":{"role":"assistant","content":[{"text":"Hel"}]}},"stopReason":"end_turn","usage":{"inputTokens":5,"outputTokens":2,"totalTokens":7},"metrics":{"latencyMs":50}}`)),
		Request: r}, nil
}
