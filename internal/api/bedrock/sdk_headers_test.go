package bedrock_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TestBedrockRequestHeaders: with the official Bedrock Runtime client, an
// X-Amzn-Bedrock-* request header the operation does not define (an
// InvokeModel header on Converse, a header Bedrock's API does not have)
// and, on InvokeModel, an anthropic-* header Meridian does not take
// (anthropic-sdk-go's anthropic-user-profile-id; anthropic-beta, which
// InvokeModel takes in the body) are refused with a ValidationException
// naming the header, never dropped; the headers the operation defines
// are served.
func TestBedrockRequestHeaders(t *testing.T) {
	c := dialectCluster(t, `models:
  - {id: pnova}
  - {id: pclaude}
deployments:
  - {model: pnova, region: eu-west-1, backend: {type: mock, api: bedrock, model: "amazon.nova-lite-v1:0", ttft: 1ms, tokens_per_second: 5000}}
  - {model: pclaude, region: eu-west-1, backend: {type: mock, api: bedrock, ttft: 1ms, tokens_per_second: 5000}}
`)
	rt := c.runtimeClient("eu-west-1")
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`)
	with := func(name, value string) func(*bedrockruntime.Options) {
		return func(o *bedrockruntime.Options) {
			o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error { return smithyhttp.SetHeaderValue(name, value)(s) })
		}
	}
	converseIn := func(model string) *bedrockruntime.ConverseInput {
		return &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: []types.Message{{Role: types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}}}
	}
	invoke := func(model string, opts ...func(*bedrockruntime.Options)) error {
		_, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")}, opts...)
		return err
	}
	invokeStream := func(in *bedrockruntime.InvokeModelWithResponseStreamInput) error {
		out, err := rt.InvokeModelWithResponseStream(t.Context(), in)
		if err != nil {
			return err
		}
		es := out.GetStream()
		defer es.Close()
		for range es.Events() {
		}
		return es.Err()
	}
	tests := []struct {
		name   string
		call   func() error
		header string // "" when served
	}{
		{"InvokeModel unknown X-Amzn-Bedrock header", func() error { return invoke("eu.pnova", with("X-Amzn-Bedrock-Future-Thing", "1")) }, "X-Amzn-Bedrock-Future-Thing"},
		{"InvokeModel Claude unknown X-Amzn-Bedrock header", func() error { return invoke("eu.pclaude", with("X-Amzn-Bedrock-Future-Thing", "1")) }, "X-Amzn-Bedrock-Future-Thing"},
		{"InvokeModel anthropic-user-profile-id", func() error { return invoke("eu.pclaude", with("anthropic-user-profile-id", "uprof_1")) }, "anthropic-user-profile-id"},
		{"InvokeModel anthropic-workspace-id", func() error { return invoke("eu.pnova", with("anthropic-workspace-id", "wrkspc_1")) }, "anthropic-workspace-id"},
		{"InvokeModel anthropic-beta header", func() error { return invoke("eu.pclaude", with("anthropic-beta", "context-1m-2025-08-07")) }, "anthropic_beta"},
		// Anthropic's TypeScript Bedrock client copies the header's betas
		// into the body and keeps the header: nothing is dropped.
		{"InvokeModel anthropic-beta header and body", func() error {
			_, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String("eu.pclaude"), ContentType: aws.String("application/json"),
				Body: []byte(`{"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["context-1m-2025-08-07","structured-outputs-2025-12-15"],"max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`)},
				with("anthropic-beta", "context-1m-2025-08-07, structured-outputs-2025-12-15"))
			return err
		}, ""},
		{"InvokeModel anthropic-beta header beyond the body's", func() error {
			_, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String("eu.pclaude"), ContentType: aws.String("application/json"),
				Body: []byte(`{"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["context-1m-2025-08-07"],"max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`)},
				with("anthropic-beta", "context-1m-2025-08-07,interleaved-thinking-2025-05-14"))
			return err
		}, "interleaved-thinking-2025-05-14"},
		// The JavaScript SDK's projectIdentifier: "default" asks for nothing.
		{"InvokeModel default project", func() error { return invoke("eu.pnova", with("X-Amzn-Bedrock-ProjectIdentifier", "default")) }, ""},
		{"InvokeModel other project", func() error { return invoke("eu.pnova", with("X-Amzn-Bedrock-ProjectIdentifier", "proj-1")) }, "X-Amzn-Bedrock-ProjectIdentifier"},
		{"InvokeModel anthropic-version header", func() error { return invoke("eu.pclaude", with("anthropic-version", "2023-06-01")) }, ""},
		{"InvokeModel request metadata", func() error {
			_, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String("eu.pnova"), Body: body, ContentType: aws.String("application/json"),
				RequestMetadata: aws.String(`{"team":"claims"}`)})
			return err
		}, ""},
		{"Converse request metadata header", func() error {
			_, err := rt.Converse(t.Context(), converseIn("eu.pnova"), with("X-Amzn-Bedrock-Request-Metadata", `{"team":"claims"}`))
			return err
		}, "X-Amzn-Bedrock-Request-Metadata"},
		{"ConverseStream guardrail header", func() error {
			_, err := rt.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String("eu.pclaude"), Messages: converseIn("").Messages},
				with("X-Amzn-Bedrock-GuardrailIdentifier", "g1"))
			return err
		}, "X-Amzn-Bedrock-GuardrailIdentifier"},
		{"Converse unknown header", func() error {
			_, err := rt.Converse(t.Context(), converseIn("eu.pclaude"), with("X-Amzn-Bedrock-Future-Thing", "1"))
			return err
		}, "X-Amzn-Bedrock-Future-Thing"},
		{"InvokeModelWithResponseStream accept JSON", func() error {
			return invokeStream(&bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String("eu.pnova"), Body: body, ContentType: aws.String("application/json"), Accept: aws.String("application/json")})
		}, ""},
		{"InvokeModelWithResponseStream accept other", func() error {
			return invokeStream(&bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String("eu.pnova"), Body: body, ContentType: aws.String("application/json"), Accept: aws.String("text/plain")})
		}, "X-Amzn-Bedrock-Accept"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.header == "" {
				if err != nil {
					t.Fatalf("served with an error: %v", err)
				}
				return
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" || !strings.Contains(ae.ErrorMessage(), tc.header) {
				t.Fatalf("error %v, want a ValidationException naming %s", err, tc.header)
			}
		})
	}
}
