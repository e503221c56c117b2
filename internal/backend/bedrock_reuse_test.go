package backend_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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
// by then put the connection back. A stream that dropped its connection
// made the next request dial and shake hands (TLS, to Bedrock) again.
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
				ctx, cancel := context.WithCancel(t.Context())
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
						sawLast <- struct{}{}
					}
				}
				s.Close()
				cancel()
			}
			if got := conns.Load(); got != 1 {
				t.Errorf("%d sequential streams opened %d connections, want 1", n, got)
			}
		})
	}
}
