package backend_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/node/nodetest"
	"github.com/meridian-gateway/meridian/internal/topology"
)

const (
	upAKID   = "AKIDUPSTREAM"
	upSecret = "upstream-secret"
)

// startUpstream starts a real Meridian node for region eu-central-1 whose
// Bedrock front end plays Amazon Bedrock for the adapter under test.
func startUpstream(t *testing.T) *node.Node {
	t.Helper()
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	y := fmt.Sprintf(`account: "111122223333"
audit: {disabled: true}
server: {data_dir: %q}
link: {insecure_dev_link: true}
geographies: {eu: {name: EU}}
regions:
  - {id: eu-central-1, geography: eu, location: {lat: 50, lon: 8}, listen: %q, link: %q}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-central-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
principals:
  - {id: meridian-a, access_keys: [{id: %s, secret_env: UP_SECRET}]}
`, t.TempDir(), cl.Addr(), ll.Addr(), upAKID)
	cfg, err := topology.Parse([]byte(y), "upstream.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := nodetest.Start(t, node.Options{Config: cfg, Region: "eu-central-1", ClientListener: cl, LinkListener: ll, Dev: true,
		Getenv: func(k string) string {
			if k == "UP_SECRET" {
				return upSecret
			}
			return ""
		}, Logger: slog.New(slog.DiscardHandler)})
	return n
}

func newBedrockTo(t *testing.T, up *node.Node, model, secret string) *backend.Bedrock {
	t.Helper()
	b, err := backend.NewBedrock(t.Context(), backend.BedrockConfig{Region: "eu-central-1", Model: model, Endpoint: "http://" + up.ClientAddr(),
		Credentials: credentials.NewStaticCredentialsProvider(upAKID, secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func chatRequest() *inference.Request {
	return &inference.Request{Model: "ignored", MaxTokens: 8, Messages: []inference.Message{
		inference.TextMessage(inference.RoleSystem, "be brief"), inference.TextMessage(inference.RoleUser, "Where does my data go?")}}
}

// TestBedrockAgainstMeridian runs the adapter against another Meridian
// node's Bedrock front end: the real protocol on both sides.
func TestBedrockAgainstMeridian(t *testing.T) {
	t.Setenv("AWS_BEARER_TOKEN_BEDROCK", "")
	up := startUpstream(t)
	ctx := t.Context()
	b := newBedrockTo(t, up, "eu.demo.chat-small", upSecret)

	t.Run("complete", func(t *testing.T) {
		resp, err := b.Complete(ctx, chatRequest())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Message.Text() == "" || resp.Usage.OutputTokens == 0 || resp.StopReason == "" || resp.Message.Role != inference.RoleAssistant {
			t.Errorf("Complete = %+v", resp)
		}
	})

	t.Run("stream", func(t *testing.T) {
		req := chatRequest()
		req.Stream = true
		s, err := b.Stream(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var kinds []string
		var text strings.Builder
		for {
			ev, err := s.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(kinds) == 0 || kinds[len(kinds)-1] != ev.Kind.String() {
				kinds = append(kinds, ev.Kind.String())
			}
			text.WriteString(ev.Text)
		}
		if got := strings.Join(kinds, ","); got != "start,delta,stop,usage" || text.Len() == 0 {
			t.Errorf("stream events = %s, text %q; want start,delta,stop,usage", got, text.String())
		}
	})

	tests := []struct {
		name     string
		model    string
		secret   string
		setup    func()
		wantKind inference.ErrorKind
		wantRA   time.Duration
	}{
		{name: "unknown model", model: "eu.no-such-model", secret: upSecret, wantKind: inference.KindUpstream},
		{name: "wrong credentials", model: "eu.demo.chat-small", secret: "wrong", wantKind: inference.KindUpstream},
		{name: "throttled", model: "eu.demo.chat-small", secret: upSecret, wantKind: inference.KindThrottled, wantRA: 3 * time.Second,
			setup: func() { up.Backends()["demo.chat-small"].(*backend.Mock).Server().SetThrottled(3 * time.Second) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			b := newBedrockTo(t, up, tc.model, tc.secret)
			for _, stream := range []bool{false, true} {
				req := chatRequest()
				req.Stream = stream
				var err error
				if stream {
					var s inference.Stream
					if s, err = b.Stream(ctx, req); s != nil {
						s.Close()
					}
				} else {
					_, err = b.Complete(ctx, req)
				}
				var e *inference.Error
				// The first call meets the upstream's 429 and its exact
				// Retry-After. The second finds the deployment cooling down
				// (or its circuit open): what is left of that cooldown,
				// rounded up to whole seconds, depends on the wall clock, so
				// only a positive Retry-After is asserted for it.
				okRA := errors.As(err, &e) && (e.RetryAfter == tc.wantRA || stream && tc.wantRA > 0 && e.RetryAfter > 0)
				if e == nil || e.Kind != tc.wantKind || !okRA {
					t.Errorf("stream=%v: error = %v, want kind %s retry-after %s", stream, err, tc.wantKind, tc.wantRA)
				}
			}
		})
	}
}

// bodyTransport answers every request with an event-stream body.
type bodyTransport struct{ body []byte }

func (bt *bodyTransport) Do(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}},
		Body: io.NopCloser(bytes.NewReader(bt.body)), Request: r}, nil
}

func frame(eventType, payload string) []byte {
	var m eventstream.Message
	m.Headers.Set(":message-type", eventstream.StringValue("event"))
	m.Headers.Set(":event-type", eventstream.StringValue(eventType))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Payload = []byte(payload)
	var buf bytes.Buffer
	eventstream.NewEncoder().Encode(&buf, m)
	return buf.Bytes()
}

// FuzzBedrockStream feeds arbitrary ConverseStream bodies through the SDK's
// event-stream decoder and the adapter's translation to canonical events:
// the stream must end (EOF or an *inference.Error) without panicking.
func FuzzBedrockStream(f *testing.F) {
	good := bytes.Join([][]byte{
		frame("messageStart", `{"role":"assistant"}`),
		frame("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hel"}}`),
		frame("contentBlockStop", `{"contentBlockIndex":0}`),
		frame("messageStop", `{"stopReason":"end_turn"}`),
		frame("metadata", `{"usage":{"inputTokens":5,"outputTokens":2,"totalTokens":7},"metrics":{"latencyMs":50}}`),
	}, nil)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(frame("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{"}}}`))
	f.Add(frame("unknownEvent", `{}`))
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	tr := &bodyTransport{}
	b, err := backend.NewBedrock(context.Background(), backend.BedrockConfig{Region: "eu-central-1", Model: "m", Endpoint: "http://fuzz.invalid",
		Credentials: credentials.NewStaticCredentialsProvider("A", "S", ""), HTTPClient: tr})
	if err != nil {
		f.Fatal(err)
	}
	// The fuzz function runs sequentially within a worker process.
	f.Fuzz(func(t *testing.T, body []byte) {
		tr.body = body
		streamAll(t, b, len(body))
	})
}

// streamAll reads a stream to its end, checking the adapter's contract.
func streamAll(t *testing.T, b *backend.Bedrock, size int) {
	{
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := b.Stream(ctx, &inference.Request{Stream: true, Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "x")}})
		if err != nil {
			var e *inference.Error
			if !errors.As(err, &e) {
				t.Fatalf("Stream error %T is not an *inference.Error", err)
			}
			return
		}
		defer s.Close()
		for i := 0; ; i++ {
			if i > size+10 {
				t.Fatalf("more events than bytes")
			}
			ev, err := s.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var e *inference.Error
				if !errors.As(err, &e) {
					t.Fatalf("Recv error %T is not an *inference.Error", err)
				}
				return
			}
			if ev.Kind < inference.EventStart || ev.Kind > inference.EventUsage {
				t.Fatalf("event kind %d out of range", ev.Kind)
			}
		}
	}
}
