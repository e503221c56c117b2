package backend

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// tierCapture is a simulated Bedrock that records each request's path,
// service-tier header and body before answering it.
type tierCapture struct {
	mu   sync.Mutex
	seen []tierSeen
}

type tierSeen struct {
	path, tier string
	hasTier    bool
	body       []byte
}

func (c *tierCapture) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, has := r.Header[http.CanonicalHeaderKey(headerServiceTier)]
		c.mu.Lock()
		c.seen = append(c.seen, tierSeen{path: r.URL.Path, tier: r.Header.Get(headerServiceTier), hasTier: has, body: body})
		c.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func (c *tierCapture) take() []tierSeen {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.seen
	c.seen = nil
	return s
}

// TestBedrockSendsServiceTier: the tier a request was admitted in
// (priority or flex) reaches Bedrock as X-Amzn-Bedrock-Service-Tier on
// every operation, streamed and not: InvokeModel (an Anthropic body for
// Claude, another family's body), Converse (the caller's body passed
// through byte for byte, an Anthropic body translated for a model that
// takes Converse) and a request built in code, which the SDK sends with
// serviceTier in its body. The default tier, or none, sends no header, and
// a body is never changed for the tier.
func TestBedrockSendsServiceTier(t *testing.T) {
	t.Parallel()
	var rec tierCapture
	both := []string{"priority", "flex"}
	// The simulated Bedrock offers priority and flex for the models whose
	// deployments declare them, and refuses them (ValidationException) for
	// the others, as Bedrock does for a model without those tiers.
	srv := httptest.NewServer(rec.wrap(mockllm.New(mockllm.Config{CompletionTokens: 4, ServiceTiers: map[string][]string{
		"anthropic.claude-sonnet-4-5": both, "amazon.nova-pro-v1:0": both, "meta.llama3-8b-instruct-v1:0": both}}).Handler()))
	t.Cleanup(srv.Close)
	backendFor := func(model string, declared []string) *Bedrock {
		b, err := NewBedrock(t.Context(), BedrockConfig{Region: "us-east-1", Model: model, Endpoint: srv.URL,
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), ServiceTiers: declared})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	claude, nova, llama := backendFor("anthropic.claude-sonnet-4-5", both), backendFor("amazon.nova-pro-v1:0", both), backendFor("meta.llama3-8b-instruct-v1:0", both)
	// Deployments that declare no tier: their models offer none.
	haiku, lite := backendFor("anthropic.claude-haiku-4-5", nil), backendFor("amazon.nova-lite-v1:0", []string{"flex"})
	const (
		anthropicBody = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`
		llamaBody     = `{"prompt":"hi","max_gen_len":8}`
		converseBody  = `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`
		converseFlex  = `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"serviceTier":{"type":"flex"}}`
	)
	peek := func(t *testing.T, d inference.Dialect, model, body string, stream bool, tier inference.ServiceTier) *inference.Request {
		t.Helper()
		req, err := inference.Peek(d, model, []byte(body), stream)
		if err != nil {
			t.Fatal(err)
		}
		req.ServiceTier = tier // as the gateway sets it from the caller's header or body
		return req
	}
	tests := []struct {
		name     string
		b        *Bedrock
		req      func(t *testing.T, stream bool) *inference.Request
		op       string // the operation's path suffix, non-streaming
		wantTier string // "" for no header
		body     string // the body Bedrock must receive as is; "" when translated
		bodyTier string // for a translated or SDK body: its serviceTier member, "" for none
	}{
		{"Anthropic body on InvokeModel, priority", claude, func(t *testing.T, s bool) *inference.Request {
			return peek(t, inference.DialectAnthropic, "m", anthropicBody, s, inference.TierPriority)
		}, "invoke", "priority", anthropicBody, ""},
		{"another family's body on InvokeModel, flex", llama, func(t *testing.T, s bool) *inference.Request {
			return peek(t, inference.DialectInvoke, "meta.llama3-8b-instruct-v1:0", llamaBody, s, inference.TierFlex)
		}, "invoke", "flex", llamaBody, ""},
		{"InvokeModel, default sends none", llama, func(t *testing.T, s bool) *inference.Request {
			return peek(t, inference.DialectInvoke, "meta.llama3-8b-instruct-v1:0", llamaBody, s, inference.TierDefault)
		}, "invoke", "", llamaBody, ""},
		{"InvokeModel, no tier", claude, func(t *testing.T, s bool) *inference.Request {
			return peek(t, inference.DialectAnthropic, "m", anthropicBody, s, "")
		}, "invoke", "", anthropicBody, ""},
		{"Converse body passed through, priority by header", nova, func(t *testing.T, s bool) *inference.Request {
			return peek(t, inference.DialectConverse, "m", converseBody, s, inference.TierPriority)
		}, "converse", "priority", converseBody, ""},
		{"Converse body naming the same tier", nova, func(t *testing.T, s bool) *inference.Request {
			return peek(t, inference.DialectConverse, "m", converseFlex, s, inference.TierFlex)
		}, "converse", "flex", converseFlex, ""},
		{"Anthropic body translated to Converse, flex", nova, func(t *testing.T, s bool) *inference.Request {
			return peek(t, inference.DialectAnthropic, "m", anthropicBody, s, inference.TierFlex)
		}, "converse", "flex", "", ""},
		{"request built in code, priority", nova, func(t *testing.T, s bool) *inference.Request {
			return &inference.Request{Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "hi")}, MaxTokens: 8, Stream: s,
				ServiceTier: inference.TierPriority}
		}, "converse", "", "", "priority"},
		{"undeclared tier is not sent: InvokeModel, priority", haiku, func(t *testing.T, s bool) *inference.Request {
			return peek(t, inference.DialectAnthropic, "m", anthropicBody, s, inference.TierPriority)
		}, "invoke", "", anthropicBody, ""},
		{"undeclared tier is not sent: Converse passed through, priority", lite, func(t *testing.T, s bool) *inference.Request {
			return peek(t, inference.DialectConverse, "m", converseBody, s, inference.TierPriority)
		}, "converse", "", converseBody, ""},
		{"undeclared tier is not sent: built in code, flex", haiku, func(t *testing.T, s bool) *inference.Request {
			return &inference.Request{Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "hi")}, MaxTokens: 8, Stream: s,
				ServiceTier: inference.TierFlex}
		}, "converse", "", "", ""},
		{"request built in code, default", nova, func(t *testing.T, s bool) *inference.Request {
			return &inference.Request{Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "hi")}, MaxTokens: 8, Stream: s,
				ServiceTier: inference.TierDefault}
		}, "converse", "", "", ""},
	}
	for _, tc := range tests {
		for _, stream := range []bool{false, true} {
			name := tc.name
			if stream {
				name += ", streaming"
			}
			t.Run(name, func(t *testing.T) {
				rec.take()
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
				} else {
					resp, err := tc.b.Complete(t.Context(), req)
					if err != nil {
						t.Fatal(err)
					}
					// The simulated Bedrock reports the tier it was asked
					// for, as Bedrock reports the one it served.
					want := tc.wantTier
					if want == "" {
						want = tc.bodyTier
					}
					if resp.ServiceTier != want {
						t.Errorf("Response.ServiceTier %q, want %q (what Bedrock reported)", resp.ServiceTier, want)
					}
				}
				seen := rec.take()
				if len(seen) != 1 {
					t.Fatalf("Bedrock saw %d requests, want 1", len(seen))
				}
				got := seen[0]
				op := tc.op
				if stream {
					op = map[string]string{"invoke": "invoke-with-response-stream", "converse": "converse-stream"}[op]
				}
				if !strings.HasSuffix(got.path, "/"+op) {
					t.Errorf("path %s, want operation %s", got.path, op)
				}
				if got.tier != tc.wantTier || got.hasTier != (tc.wantTier != "") {
					t.Errorf("%s header %q (present %v), want %q", headerServiceTier, got.tier, got.hasTier, tc.wantTier)
				}
				if tc.body != "" && string(got.body) != tc.body {
					t.Errorf("body changed:\n got %s\nwant %s", got.body, tc.body)
				}
				if tc.body == "" {
					bt := ""
					if f := inference.Field(inference.Field(got.body, "serviceTier"), "type"); f != nil {
						bt = strings.Trim(string(f), `"`)
					}
					if bt != tc.bodyTier {
						t.Errorf("body serviceTier.type %q, want %q (body %s)", bt, tc.bodyTier, got.body)
					}
				}
			})
		}
	}
}

// TestServedTier: the tier Bedrock reports is read from InvokeModel's
// response header or a Converse answer's serviceTier.type, and only when
// it is one of Bedrock's tier names.
func TestServedTier(t *testing.T) {
	t.Parallel()
	hdr := func(v string) http.Header { return http.Header{headerServiceTier: {v}} }
	for _, tc := range []struct {
		name, op string
		h        http.Header
		body     string
		want     string
	}{
		{"invoke header", "invoke", hdr("flex"), `{}`, "flex"},
		{"invoke reserved", "invoke", hdr("reserved"), `{}`, "reserved"},
		{"invoke body is not the report", "invoke", nil, `{"serviceTier":{"type":"flex"}}`, ""},
		{"invoke junk", "invoke", hdr("gold\r\nx"), `{}`, ""},
		{"converse body", "converse", nil, `{"output":{},"serviceTier":{"type":"priority"}}`, "priority"},
		{"converse header is not the report", "converse", hdr("flex"), `{"output":{}}`, ""},
		{"converse junk", "converse", nil, `{"serviceTier":{"type":5}}`, ""},
	} {
		if got := servedTier(tc.op, tc.h, []byte(tc.body)); got != tc.want {
			t.Errorf("%s: servedTier = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestUpstreamTier: only priority and flex are asked of the upstream, and
// only when the deployment declares them (topology service_tiers); the
// default tier is what it serves when asked for none.
func TestUpstreamTier(t *testing.T) {
	t.Parallel()
	both := []string{"priority", "flex"}
	for _, tc := range []struct {
		tier     inference.ServiceTier
		declared []string
		want     string
	}{
		{"", both, ""}, {inference.TierDefault, both, ""}, {inference.TierPriority, both, "priority"}, {inference.TierFlex, both, "flex"},
		{inference.TierPriority, nil, ""}, {inference.TierFlex, nil, ""}, {inference.TierPriority, []string{"flex"}, ""}, {inference.TierFlex, []string{"flex"}, "flex"},
	} {
		if got := upstreamTier(&inference.Request{ServiceTier: tc.tier}, tc.declared); got != tc.want {
			t.Errorf("upstreamTier(%q, %v) = %q, want %q", tc.tier, tc.declared, got, tc.want)
		}
		ct := converseTier(&inference.Request{ServiceTier: tc.tier}, tc.declared)
		if (ct == nil) != (tc.want == "") || (ct != nil && string(ct.Type) != tc.want) {
			t.Errorf("converseTier(%q, %v) = %v, want %q", tc.tier, tc.declared, ct, tc.want)
		}
	}
	for _, op := range []string{"invoke", "invoke-with-response-stream", "converse", "converse-stream"} {
		h, err := passThroughHeaders(op, &inference.Request{ServiceTier: inference.TierFlex}, both)
		if err != nil || h.tier != "flex" {
			t.Errorf("%s: headers %+v, %v; want tier flex", op, h, err)
		}
		h, err = passThroughHeaders(op, &inference.Request{ServiceTier: inference.TierFlex}, nil)
		if err != nil || h.tier != "" {
			t.Errorf("%s, undeclared: headers %+v, %v; want no tier", op, h, err)
		}
	}
}

// TestBedrockEmbeddingsSendServiceTier: an embeddings request's tier goes
// with each InvokeModel call of the embedding model, as on every other
// operation, when the deployment declares it; Titan's embeddings offer no
// tier, so an undeclared flex request is served in the default tier (the
// simulated Bedrock would refuse the header).
func TestBedrockEmbeddingsSendServiceTier(t *testing.T) {
	t.Parallel()
	var rec tierCapture
	// The simulated Bedrock's own table: Titan offers no tier, so a flex
	// header would be refused (ValidationException).
	srv := httptest.NewServer(rec.wrap(mockllm.New(mockllm.Config{}).Handler()))
	t.Cleanup(srv.Close)
	newTitan := func(model string, declared []string) *Bedrock {
		b, err := NewBedrock(t.Context(), BedrockConfig{Region: "us-east-1", Model: model, Endpoint: srv.URL,
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), ServiceTiers: declared})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	undeclared := newTitan("amazon.titan-embed-text-v2:0", nil)
	for _, tc := range []struct {
		b    *Bedrock
		tier inference.ServiceTier
		want string
	}{{undeclared, inference.TierFlex, ""}, {undeclared, inference.TierDefault, ""}} {
		b := tc.b
		rec.take()
		req := &inference.Request{Dialect: inference.DialectOpenAIEmbeddings, Model: "m", Body: []byte(`{"model":"m","input":["a","b"]}`), ServiceTier: tc.tier}
		if _, err := b.Complete(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		seen := rec.take()
		if len(seen) != 2 {
			t.Fatalf("Bedrock saw %d requests, want one per input (Titan takes one text a call)", len(seen))
		}
		for _, s := range seen {
			if s.tier != tc.want || s.hasTier != (tc.want != "") {
				t.Errorf("tier %s: %s header %q, want %q", tc.tier, headerServiceTier, s.tier, tc.want)
			}
		}
	}
}
