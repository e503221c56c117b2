package backend

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// TestBedrockSendsRequestMetadata: the caller's request metadata reaches
// Bedrock in the form of the operation the adapter calls, whatever the
// request's dialect and path: InvokeModel (passed through, Anthropic's or
// another family's body, streaming or not) in the
// X-Amzn-Bedrock-Request-Metadata header, Converse in requestMetadata (the
// client's own body, an InvokeModel body translated for a model that takes
// Converse, a request built in code through the SDK). The simulated
// Bedrock reports what it received.
func TestBedrockSendsRequestMetadata(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []map[string]string
	srv := mockllm.New(mockllm.Config{CompletionTokens: 4, ReceivedMetadata: func(_ string, md map[string]string) {
		mu.Lock()
		got = append(got, md)
		mu.Unlock()
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go srv.Serve(ctx, ln)
	backendFor := func(model string) *Bedrock {
		b, err := NewBedrock(t.Context(), BedrockConfig{Region: "us-east-1", Model: model, Endpoint: "http://" + ln.Addr().String(),
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	claude, nova, llama := backendFor("anthropic.claude-sonnet-4-5"), backendFor("amazon.nova-pro-v1:0"), backendFor("meta.llama3-8b-instruct-v1:0")
	md := map[string]string{"team": "claims", "ticket": "CLM-42", "note": "a b\tc"}
	const (
		anthropicBody = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`
		llamaBody     = `{"prompt":"hi","max_gen_len":8}`
		converseBody  = `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"requestMetadata":{"team":"claims","ticket":"CLM-42","note":"a b\tc"}}`
	)
	peek := func(t *testing.T, d inference.Dialect, model, body string, stream bool, md map[string]string) *inference.Request {
		t.Helper()
		req, err := inference.Peek(d, model, []byte(body), stream)
		if err != nil {
			t.Fatal(err)
		}
		if md != nil {
			req.Metadata = md // as the front end sets it from the header
		}
		return req
	}
	tests := []struct {
		name string
		b    *Bedrock
		req  func(t *testing.T, stream bool) *inference.Request
		want map[string]string
	}{
		{"Anthropic body on InvokeModel", claude, func(t *testing.T, stream bool) *inference.Request {
			return peek(t, inference.DialectAnthropic, "m", anthropicBody, stream, md)
		}, md},
		{"another family's body on InvokeModel", llama, func(t *testing.T, stream bool) *inference.Request {
			return peek(t, inference.DialectInvoke, "meta.llama3-8b-instruct-v1:0", llamaBody, stream, md)
		}, md},
		{"Anthropic body translated to Converse", nova, func(t *testing.T, stream bool) *inference.Request {
			return peek(t, inference.DialectAnthropic, "m", anthropicBody, stream, md)
		}, md},
		{"Converse body passed through", nova, func(t *testing.T, stream bool) *inference.Request {
			return peek(t, inference.DialectConverse, "m", converseBody, stream, nil)
		}, md},
		{"request built in code", nova, func(t *testing.T, stream bool) *inference.Request {
			return &inference.Request{Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "hi")}, MaxTokens: 8, Stream: stream, Metadata: md}
		}, md},
		{"no metadata", claude, func(t *testing.T, stream bool) *inference.Request {
			return peek(t, inference.DialectAnthropic, "m", anthropicBody, stream, nil)
		}, nil},
	}
	for _, tc := range tests {
		for _, stream := range []bool{false, true} {
			name := tc.name
			if stream {
				name += ", streaming"
			}
			t.Run(name, func(t *testing.T) {
				mu.Lock()
				got = nil
				mu.Unlock()
				req := tc.req(t, stream)
				if stream {
					s, err := tc.b.Stream(t.Context(), req)
					if err != nil {
						t.Fatal(err)
					}
					for {
						if _, err := s.Recv(); err != nil {
							if !errors.Is(err, io.EOF) {
								t.Fatal(err)
							}
							break
						}
					}
					s.Close()
				} else if _, err := tc.b.Complete(t.Context(), req); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(got) != 1 {
					t.Fatalf("Bedrock saw %d requests, want 1", len(got))
				}
				if d := cmp.Diff(tc.want, got[0]); d != "" {
					t.Errorf("metadata Bedrock received (-want +got):\n%s", d)
				}
			})
		}
	}
}

// TestInvokeRequestMetadataHeader: the header's value is the metadata as a
// JSON object with its keys sorted, for the InvokeModel operations only.
func TestInvokeRequestMetadataHeader(t *testing.T) {
	t.Parallel()
	req := &inference.Request{Metadata: map[string]string{"z": "1", "a": "x\ny"}}
	for _, tc := range []struct{ op, want string }{
		{"invoke", `{"a":"x\ny","z":"1"}`}, {"invoke-with-response-stream", `{"a":"x\ny","z":"1"}`}, {"converse", ""}, {"converse-stream", ""},
	} {
		if got, err := invokeRequestMetadata(tc.op, req); err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.op, got, err, tc.want)
		}
	}
	if got, _ := invokeRequestMetadata("invoke", &inference.Request{}); got != "" {
		t.Errorf("no metadata: %q, want none", got)
	}
}
