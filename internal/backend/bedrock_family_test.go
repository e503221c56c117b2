package backend

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestBedrockAnthropicBodyByFamily: an Anthropic body goes to InvokeModel
// unchanged only for a model the shared classifier calls Claude (an
// anthropic provider token, or none: an application inference profile's
// ARN); any other provider's model, one whose id merely contains "claude"
// included, gets it translated to Converse.
func TestBedrockAnthropicBodyByFamily(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ model, op string }{
		{"anthropic.claude-3-haiku-20240307-v1:0", "invoke"},
		{"eu.anthropic.claude-sonnet-4-20250514-v1:0", "invoke"},
		{"arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3", "invoke"},
		{"acme.claude-lookalike-v1:0", "converse"},
		{"mistral.mistral-large-2402-v1:0", "converse"},
		{"zai.glm-4.7", "converse"},
	} {
		b, err := NewBedrock(t.Context(), BedrockConfig{Region: "eu-west-1", Model: tc.model, Endpoint: "http://127.0.0.1:1",
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
		if err != nil {
			t.Fatal(err)
		}
		req, err := inference.PeekInvoke(tc.model, []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`), false)
		if err != nil {
			t.Fatal(err)
		}
		op, _, _, err := b.plan(req, false)
		if err != nil || op != tc.op {
			t.Errorf("%s: op %q (%v), want %q", tc.model, op, err, tc.op)
		}
		b.Close()
	}
}
