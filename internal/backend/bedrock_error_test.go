package backend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// exceptionFrame encodes an event-stream exception message, as Bedrock
// sends one for a failure after the response headers.
func exceptionFrame(t testing.TB, typ, message string) []byte {
	t.Helper()
	var m eventstream.Message
	m.Headers.Set(":exception-type", eventstream.StringValue(typ))
	m.Headers.Set(":message-type", eventstream.StringValue("exception"))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Payload = []byte(`{"message":"` + message + `"}`)
	var b bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// newTestBedrock returns a Bedrock backend for endpoint whose requests go
// through rt.
func newTestBedrock(t *testing.T, endpoint string, rt http.RoundTripper, clk clock.Clock) *Bedrock {
	t.Helper()
	b, err := NewBedrock(t.Context(), BedrockConfig{Region: "eu-central-1", Model: "demo.chat-small", Endpoint: endpoint,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), HTTPClient: &http.Client{Transport: rt}, Clock: clk,
		FirstByteTimeout: time.Hour, StreamIdleTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// converseStreamRequest is a ConverseStream request passed through.
func converseStreamRequest() *inference.Request {
	return &inference.Request{Stream: true, Dialect: inference.DialectConverse,
		Body: []byte(`{"messages":[{"role":"user","content":[{"text":"x"}]}]}`)}
}

// TestBedrockStreamExceptionKeepsItsConnection: a Bedrock stream passed
// through that ends in an exception message (throttling after the response
// headers, say) leaves its connection in the pool: the body's end that
// follows the exception is read after Close, in the background and
// detached from the caller's context, as an OpenAI stream's after [DONE].
// The body's end arrives in a write of its own once the caller has seen
// the error, and the caller's context ends right after Close. The
// exception comes first (Stream fails; the caller may fail over) or after
// an event (Recv fails).
func TestBedrockStreamExceptionKeepsItsConnection(t *testing.T) {
	t.Parallel()
	exc := exceptionFrame(t, "throttlingException", "slow down")
	start := encodeFrame(t, "messageStart", []byte(`{"role":"assistant"}`))
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"first event", exc},
		{"after an event", append(append([]byte{}, start...), exc...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sawErr := make(chan struct{}, 1)
			sawEnd := make(chan error, 1)
			srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
				w.Write(tc.body)
				w.(http.Flusher).Flush()
				select {
				case <-sawErr:
				case <-r.Context().Done():
				}
			}))
			tr := &http.Transport{MaxIdleConnsPerHost: 4}
			defer tr.CloseIdleConnections()
			b := newTestBedrock(t, srv.URL, watchDone{tr, make(chan struct{}, 1), sawEnd}, nil)
			const streams = 3
			for i := range streams {
				ctx, cancel := context.WithCancel(t.Context())
				s, err := b.Stream(ctx, converseStreamRequest())
				for err == nil {
					_, err = s.Recv()
				}
				var ie *inference.Error
				if !errors.As(err, &ie) || ie.Kind != inference.KindThrottled {
					t.Fatalf("stream %d ended with %v, want Bedrock's throttling", i, err)
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
				t.Errorf("%d streams that ended in an exception opened %d connections to Bedrock, want 1", streams, got)
			}
		})
	}
}

// TestBedrockLongErrorAnswerKeepsItsConnection: a Bedrock error answer to a
// pass-through call longer than 4 KiB is read to its end (as
// TestLongErrorAnswerKeepsItsConnection's), and its connection is kept.
func TestBedrockLongErrorAnswerKeepsItsConnection(t *testing.T) {
	t.Parallel()
	body := `{"message":"The model is busy` + strings.Repeat(".", 10<<10) + `"}`
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Amzn-Errortype", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, body)
	}))
	b := newTestBedrock(t, srv.URL, &http.Transport{}, nil)
	const n = 3
	for i := range n {
		for _, stream := range []bool{false, true} {
			r := converseStreamRequest()
			r.Stream = stream
			var err error
			if stream {
				_, err = b.Stream(t.Context(), r)
			} else {
				_, err = b.Complete(t.Context(), r)
			}
			var e *inference.Error
			if !errors.As(err, &e) || e.Kind != inference.KindThrottled {
				t.Fatalf("request %d (stream %v): %.300v, want Bedrock's throttling", i, stream, err)
			}
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("%d requests answered with %d-byte errors opened %d connections to Bedrock, want 1", 2*n, len(body), got)
	}
}
