package bedrock_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsbedrock "github.com/aws/aws-sdk-go-v2/service/bedrock"
	cptypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/auth/bearer"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/profile"
)

var euRegions = []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}, {"us-east-1", "us"}}

// rawHeader returns a response header from an SDK result's metadata.
func rawHeader(md middleware.Metadata, name string) string {
	if r, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok {
		return r.Header.Get(name)
	}
	return ""
}

func userMessage(text string) []rttypes.Message {
	return []rttypes.Message{{Role: rttypes.ConversationRoleUser, Content: []rttypes.ContentBlock{&rttypes.ContentBlockMemberText{Value: text}}}}
}

func TestRuntimeWithOfficialClient(t *testing.T) { overTransports(t, testRuntimeWithOfficialClient) }

func testRuntimeWithOfficialClient(t *testing.T) {
	c := startCluster(t, euRegions, "")
	rt := c.runtimeClient("eu-west-1")
	ctx := t.Context()
	euARN := profile.ProfileARN("aws", "eu-west-1", "111122223333", "eu.demo.chat-small")

	for _, model := range []string{"eu.demo.chat-small", euARN, "demo.chat-small"} {
		t.Run("Converse "+model, func(t *testing.T) {
			out, err := rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: userMessage("Where does my data go?"),
				System:          []rttypes.SystemContentBlock{&rttypes.SystemContentBlockMemberText{Value: "be brief"}},
				InferenceConfig: &rttypes.InferenceConfiguration{MaxTokens: aws.Int32(8), Temperature: aws.Float32(0.5)}})
			if err != nil {
				t.Fatalf("Converse(%s): %v", model, err)
			}
			msg, ok := out.Output.(*rttypes.ConverseOutputMemberMessage)
			if !ok || len(msg.Value.Content) == 0 {
				t.Fatalf("Converse(%s) output = %#v, want a message", model, out.Output)
			}
			if txt, _ := msg.Value.Content[0].(*rttypes.ContentBlockMemberText); txt == nil || txt.Value == "" {
				t.Errorf("Converse(%s) first block = %#v, want text", model, msg.Value.Content[0])
			}
			if out.Usage == nil || aws.ToInt32(out.Usage.OutputTokens) == 0 || aws.ToInt32(out.Usage.TotalTokens) != aws.ToInt32(out.Usage.InputTokens)+aws.ToInt32(out.Usage.OutputTokens) {
				t.Errorf("Converse(%s) usage = %+v", model, out.Usage)
			}
			if out.StopReason == "" || out.Metrics == nil {
				t.Errorf("Converse(%s) stopReason %q metrics %+v", model, out.StopReason, out.Metrics)
			}
			region := rawHeader(out.ResultMetadata, gateway.HeaderInferenceRegion)
			if region != "eu-west-1" && region != "eu-central-1" {
				t.Errorf("Converse(%s) %s = %q, want an EU region", model, gateway.HeaderInferenceRegion, region)
			}
			if model == "demo.chat-small" && region != "eu-west-1" {
				t.Errorf("model id served in %s, want the source region", region)
			}
			rid, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
			if rid == "" || rid != rawHeader(out.ResultMetadata, gateway.HeaderRequestID) {
				t.Errorf("SDK request id %q, x-meridian-request-id %q: want equal and set", rid, rawHeader(out.ResultMetadata, gateway.HeaderRequestID))
			}
		})
	}

	t.Run("ConverseStream reads every event", func(t *testing.T) {
		out, err := rt.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("eu.demo.chat-small"), Messages: userMessage("stream please"),
			InferenceConfig: &rttypes.InferenceConfiguration{MaxTokens: aws.Int32(10)}})
		if err != nil {
			t.Fatal(err)
		}
		if r := rawHeader(out.ResultMetadata, gateway.HeaderInferenceRegion); !strings.HasPrefix(r, "eu-") {
			t.Errorf("ConverseStream %s = %q", gateway.HeaderInferenceRegion, r)
		}
		s := out.GetStream()
		defer s.Close()
		var kinds []string
		var text strings.Builder
		var meta *rttypes.ConverseStreamMetadataEvent
		for ev := range s.Events() {
			switch v := ev.(type) {
			case *rttypes.ConverseStreamOutputMemberMessageStart:
				kinds = append(kinds, "messageStart")
			case *rttypes.ConverseStreamOutputMemberContentBlockDelta:
				if len(kinds) == 0 || kinds[len(kinds)-1] != "contentBlockDelta" {
					kinds = append(kinds, "contentBlockDelta")
				}
				text.WriteString(v.Value.Delta.(*rttypes.ContentBlockDeltaMemberText).Value)
			case *rttypes.ConverseStreamOutputMemberContentBlockStop:
				kinds = append(kinds, "contentBlockStop")
			case *rttypes.ConverseStreamOutputMemberMessageStop:
				kinds = append(kinds, "messageStop:"+string(v.Value.StopReason))
			case *rttypes.ConverseStreamOutputMemberMetadata:
				kinds = append(kinds, "metadata")
				meta = &v.Value
			default:
				t.Errorf("unexpected event %T", ev)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatalf("stream error: %v", err)
		}
		got := strings.Join(kinds, ",")
		if !strings.HasPrefix(got, "messageStart,contentBlockDelta,contentBlockStop,messageStop:") || !strings.HasSuffix(got, ",metadata") {
			t.Errorf("events = %s, want messageStart, deltas, contentBlockStop, messageStop, metadata", got)
		}
		if text.Len() == 0 || meta == nil || meta.Usage == nil || aws.ToInt32(meta.Usage.OutputTokens) == 0 || meta.Metrics == nil {
			t.Errorf("text %q metadata %+v", text.String(), meta)
		}
	})

	t.Run("InvokeModel Anthropic body", func(t *testing.T) {
		body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"system":"be brief","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":"hello"},{"role":"user","content":"again"}]}`
		out, err := rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("eu.demo.chat-small"), Body: []byte(body),
			ContentType: aws.String("application/json"), Accept: aws.String("application/json")})
		if err != nil {
			t.Fatal(err)
		}
		var msg struct {
			Type       string `json:"type"`
			Role       string `json:"role"`
			StopReason string `json:"stop_reason"`
			Content    []struct{ Type, Text string }
			Usage      struct {
				InputTokens  int `json:"input_tokens"`
				OutputTokens int `json:"output_tokens"`
			}
		}
		if err := json.Unmarshal(out.Body, &msg); err != nil {
			t.Fatalf("InvokeModel body %s: %v", out.Body, err)
		}
		if aws.ToString(out.ContentType) != "application/json" || msg.Type != "message" || msg.Role != "assistant" || len(msg.Content) != 1 ||
			msg.Content[0].Type != "text" || msg.Content[0].Text == "" || msg.StopReason == "" || msg.Usage.OutputTokens == 0 {
			t.Errorf("InvokeModel = content type %q body %s", aws.ToString(out.ContentType), out.Body)
		}
	})

	t.Run("InvokeModelWithResponseStream", func(t *testing.T) {
		body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`
		out, err := rt.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String("eu.demo.chat-small"),
			Body: []byte(body), ContentType: aws.String("application/json")})
		if err != nil {
			t.Fatal(err)
		}
		s := out.GetStream()
		defer s.Close()
		var types []string
		var text strings.Builder
		outputTokens := 0
		for ev := range s.Events() {
			chunk, ok := ev.(*rttypes.ResponseStreamMemberChunk)
			if !ok {
				t.Fatalf("event %T, want chunk", ev)
			}
			var e struct {
				Type  string `json:"type"`
				Delta struct {
					Text       string `json:"text"`
					StopReason string `json:"stop_reason"`
				} `json:"delta"`
				Usage struct {
					OutputTokens int `json:"output_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(chunk.Value.Bytes, &e); err != nil {
				t.Fatalf("chunk %q: %v", chunk.Value.Bytes, err)
			}
			if len(types) == 0 || types[len(types)-1] != e.Type {
				types = append(types, e.Type)
			}
			switch e.Type {
			case "content_block_delta":
				text.WriteString(e.Delta.Text)
			case "message_delta":
				outputTokens = e.Usage.OutputTokens
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		want := "message_start,content_block_start,content_block_delta,content_block_stop,message_delta,message_stop"
		if got := strings.Join(types, ","); got != want || text.Len() == 0 || outputTokens == 0 {
			t.Errorf("chunks = %s (text %q, output tokens %d), want %s", got, text.String(), outputTokens, want)
		}
	})

	t.Run("endpoint from AWS_ENDPOINT_URL_BEDROCK_RUNTIME", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", c.url("eu-west-1"))
		t.Setenv("AWS_MAX_ATTEMPTS", "1")
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("eu-west-1"),
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testAKID, testSecret, "")))
		if err != nil {
			t.Fatal(err)
		}
		out, err := bedrockruntime.NewFromConfig(cfg).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.chat-small"), Messages: userMessage("hi")})
		if err != nil || rawHeader(out.ResultMetadata, gateway.HeaderInferenceRegion) == "" {
			t.Fatalf("Converse with the endpoint from the environment: %v", err)
		}
	})

	t.Run("API key as bearer token", func(t *testing.T) {
		// The SDK sends bearer tokens only over HTTPS: put a TLS proxy in
		// front of the node, as a deployment would.
		target, _ := url.Parse(c.url("eu-west-1"))
		proxy := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
		defer proxy.Close()
		bt := bedrockruntime.New(bedrockruntime.Options{Region: "eu-west-1", BaseEndpoint: aws.String(proxy.URL), RetryMaxAttempts: 1,
			HTTPClient: proxy.Client(), AuthSchemePreference: []string{"httpBearerAuth"},
			BearerAuthTokenProvider: bearer.TokenProviderFunc(func(context.Context) (bearer.Token, error) { return bearer.Token{Value: c.key}, nil })})
		if _, err := bt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.chat-small"), Messages: userMessage("hi")}); err != nil {
			t.Fatalf("Converse with a bearer API key: %v", err)
		}
		bad := bedrockruntime.New(bedrockruntime.Options{Region: "eu-west-1", BaseEndpoint: aws.String(proxy.URL), RetryMaxAttempts: 1,
			HTTPClient: proxy.Client(), AuthSchemePreference: []string{"httpBearerAuth"},
			BearerAuthTokenProvider: bearer.TokenProviderFunc(func(context.Context) (bearer.Token, error) { return bearer.Token{Value: "mk-wrong"}, nil })})
		_, err := bad.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.chat-small"), Messages: userMessage("hi")})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "UnrecognizedClientException" {
			t.Fatalf("Converse with a wrong bearer key = %v, want UnrecognizedClientException", err)
		}
	})
}

func TestRuntimeTypedErrors(t *testing.T) { overTransports(t, testRuntimeTypedErrors) }

func testRuntimeTypedErrors(t *testing.T) {
	c := startCluster(t, euRegions, withPolicies)
	ctx := t.Context()
	rt := c.runtimeClient("eu-west-1")
	denied := c.clientAs("eu-west-1", deniedAKID, deniedSecret)
	badSig := bedrockruntime.New(bedrockruntime.Options{Region: "eu-west-1", BaseEndpoint: aws.String(c.url("eu-west-1")), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, "not-the-secret", ""), HTTPClient: c.httpClient()})
	mock := c.nodes["eu-west-1"].Backends()["demo.throttled"].(*backend.Mock)
	mock.Server().SetThrottled(7 * time.Second)

	tests := []struct {
		name   string
		client *bedrockruntime.Client
		model  string
		msgs   []rttypes.Message
		check  func(error) bool
		want   string
	}{
		{"throttled", rt, "demo.throttled", userMessage("hi"), func(err error) bool { var e *rttypes.ThrottlingException; return errors.As(err, &e) }, "ThrottlingException"},
		{"bad signature", badSig, "eu.demo.chat-small", userMessage("hi"), func(err error) bool { var e *rttypes.AccessDeniedException; return errors.As(err, &e) }, "AccessDeniedException"},
		{"denied by policy", denied, "eu.demo.chat-small", userMessage("hi"), func(err error) bool { var e *rttypes.AccessDeniedException; return errors.As(err, &e) }, "AccessDeniedException"},
		{"empty messages", rt, "eu.demo.chat-small", nil, func(err error) bool { var e *rttypes.ValidationException; return errors.As(err, &e) }, "ValidationException"},
		{"profile outside its geography", rt, "us.demo.chat-small", userMessage("hi"), func(err error) bool { var e *rttypes.ValidationException; return errors.As(err, &e) }, "ValidationException"},
		{"unknown model", rt, "nope.model-x", userMessage("hi"), func(err error) bool { var e *rttypes.ResourceNotFoundException; return errors.As(err, &e) }, "ResourceNotFoundException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(tc.model), Messages: tc.msgs})
			if err == nil || !tc.check(err) {
				t.Fatalf("Converse(%s) error = %v (%T), want *types.%s", tc.model, err, err, tc.want)
			}
			var re *smithyhttp.ResponseError
			if errors.As(err, &re) && re.Response.Header.Get("X-Amzn-Requestid") == "" {
				t.Errorf("error response has no X-Amzn-RequestId")
			}
			if tc.name == "throttled" && re != nil && re.Response.Header.Get("Retry-After") != "7" {
				t.Errorf("throttled Retry-After = %q, want 7", re.Response.Header.Get("Retry-After"))
			}
		})
	}

	t.Run("control plane follows the policies", func(t *testing.T) {
		deniedCP := awsbedrock.New(awsbedrock.Options{Region: "eu-west-1", BaseEndpoint: aws.String(c.url("eu-west-1")), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(deniedAKID, deniedSecret, ""), HTTPClient: c.httpClient()})
		if _, err := deniedCP.ListInferenceProfiles(ctx, &awsbedrock.ListInferenceProfilesInput{}); err != nil {
			t.Errorf("List with bedrock:ListInferenceProfiles allowed: %v", err)
		}
		_, err := deniedCP.CreateInferenceProfile(ctx, &awsbedrock.CreateInferenceProfileInput{InferenceProfileName: aws.String("nope"),
			ModelSource: &cptypes.InferenceProfileModelSourceMemberCopyFrom{Value: "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small"}})
		var ade *cptypes.AccessDeniedException
		if !errors.As(err, &ade) || !strings.Contains(ade.ErrorMessage(), "bedrock:CreateInferenceProfile") {
			t.Errorf("Create without bedrock:CreateInferenceProfile = %v, want *types.AccessDeniedException naming the action", err)
		}
		if _, err := deniedCP.GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String("eu.demo.chat-small")}); !errors.As(err, &ade) {
			t.Errorf("Get without bedrock:GetInferenceProfile = %v, want *types.AccessDeniedException", err)
		}
	})

	t.Run("stream throttled before the first byte", func(t *testing.T) {
		_, err := rt.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("demo.throttled"), Messages: userMessage("hi")})
		var e *rttypes.ThrottlingException
		if !errors.As(err, &e) {
			t.Fatalf("ConverseStream error = %v, want *types.ThrottlingException", err)
		}
	})

	t.Run("every destination down", func(t *testing.T) {
		// Last: it takes the EU deployments down for the rest of the test.
		defer func() {
			for _, r := range []string{"eu-west-1", "eu-central-1"} {
				c.nodes[r].Backends()["demo.chat-small"].(*backend.Mock).Server().SetDown(false)
			}
		}()
		for _, r := range []string{"eu-west-1", "eu-central-1"} {
			c.nodes[r].Backends()["demo.chat-small"].(*backend.Mock).Server().SetDown(true)
		}
		_, err := rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.chat-small"), Messages: userMessage("hi")})
		var e *rttypes.ServiceUnavailableException
		if !errors.As(err, &e) {
			t.Fatalf("Converse with every EU deployment down = %v, want *types.ServiceUnavailableException", err)
		}
	})

	t.Run("invoke with an unsupported body", func(t *testing.T) {
		_, err := rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("eu.demo.chat-small"), Body: []byte(`{"inputText":"titan"}`), ContentType: aws.String("application/json")})
		var e *rttypes.ValidationException
		if !errors.As(err, &e) || !strings.Contains(e.ErrorMessage(), "anthropic_version") {
			t.Fatalf("InvokeModel(titan body) error = %v, want ValidationException naming anthropic_version", err)
		}
	})
}

// TestModelTimeoutException: a model that does not answer within its
// deployment's first_byte_timeout, with nowhere else to go, is the SDK's
// *types.ModelTimeoutException (408), not a generic 503.
//
// The time-out runs on the node's clock, a manual one here (started at the
// wall clock's time: the SDK signs with it, and the node checks the
// signature's date on its own clock), which also paces the mock model: the
// test waits until the adapter has armed its first-byte timer, then moves
// the clock past it, short of the model's time to first token.
func TestModelTimeoutException(t *testing.T) { overTransports(t, testModelTimeoutException) }

func testModelTimeoutException(t *testing.T) {
	clk := clock.NewManual(time.Now())
	c := startClusterWith(t, []regionSpec{{"eu-west-1", "eu"}}, "", "", withClock(clk))
	mock := c.nodes["eu-west-1"].Backends()["demo.throttled"].(*backend.Mock)
	mock.Server().SetPacing(5*throttledFirstByte, 5000)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
	defer cancel()
	armed := clk.Armed(throttledFirstByte)
	errc := make(chan error, 1)
	go func() {
		_, err := c.runtimeClient("eu-west-1").Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("demo.throttled"), Messages: userMessage("hi")})
		errc <- err
	}()
	if err := clk.WaitArmed(ctx, throttledFirstByte, armed+1); err != nil {
		t.Fatalf("the adapter never armed its first-byte timer: %v", err)
	}
	clk.Advance(throttledFirstByte)
	err := <-errc
	var e *rttypes.ModelTimeoutException
	if !errors.As(err, &e) {
		t.Fatalf("Converse with a model past its first_byte_timeout = %v (%T), want *types.ModelTimeoutException", err, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the time-out came only with the hang guard: %v", err)
	}
}

// TestInStreamErrorIsAnException: after the first event an upstream failure
// arrives as an exception frame that the SDK returns from Err() (invariant 3).
func TestInStreamErrorIsAnException(t *testing.T) { overTransports(t, testInStreamErrorIsAnException) }

func testInStreamErrorIsAnException(t *testing.T) {
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}}, "")
	// One model per call: a failed deployment cools down.
	for _, m := range []string{"demo.chat-small", "demo.throttled"} {
		c.nodes["eu-west-1"].Backends()[m].(*backend.Mock).Server().SetAbortAfterTokens(2)
	}
	out, err := c.runtimeClient("eu-west-1").ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String("demo.chat-small"),
		Messages: userMessage("hi"), InferenceConfig: &rttypes.InferenceConfiguration{MaxTokens: aws.Int32(20)}})
	if err != nil {
		t.Fatal(err)
	}
	s := out.GetStream()
	defer s.Close()
	n := 0
	for range s.Events() {
		n++
	}
	err = s.Err()
	var mse *rttypes.ModelStreamErrorException
	var ise *rttypes.InternalServerException
	if n == 0 || !(errors.As(err, &mse) || errors.As(err, &ise)) {
		t.Fatalf("after %d events Err() = %v (%T), want a modeled stream exception", n, err, err)
	}
	fmt.Fprintf(testWriter{t}, "in-stream error after %d events: %v", n, err)

	inv, err := c.runtimeClient("eu-west-1").InvokeModelWithResponseStream(t.Context(), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String("demo.throttled"), ContentType: aws.String("application/json"),
		Body: []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	is := inv.GetStream()
	defer is.Close()
	n = 0
	for range is.Events() {
		n++
	}
	if err := is.Err(); n == 0 || !errors.As(err, &mse) {
		t.Fatalf("InvokeModelWithResponseStream: after %d chunks Err() = %v (%T), want *types.ModelStreamErrorException", n, err, err)
	}
}
