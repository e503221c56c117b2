package translate_test

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestBedrockFamily pins the family each kind of Bedrock model id names:
// foundation model ids, inference profile ids and ARNs.
func TestBedrockFamily(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		model string
		want  translate.ConverseFamily
	}{
		{"anthropic.claude-3-7-sonnet-20250219-v1:0", translate.FamilyClaude},
		{"eu.anthropic.claude-sonnet-4-20250514-v1:0", translate.FamilyClaude},
		{"arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc", translate.FamilyClaude},
		{"demo.chat", translate.FamilyOther}, // an unknown provider: no Claude fields
		{"zai.glm-4.7", translate.FamilyOther},
		{"moonshotai.kimi-k2.5", translate.FamilyOther},
		{"", translate.FamilyClaude},
		{"amazon.nova-lite-v1:0", translate.FamilyNova},
		{"eu.amazon.nova-pro-v1:0", translate.FamilyNova},
		{"us.amazon.nova-premier-v1:0", translate.FamilyNova},
		{"openai.gpt-oss-120b-1:0", translate.FamilyGPTOSS},
		{"amazon.nova-micro-v1:0", translate.FamilyNova},
		{"amazon.nova-2-lite-v1:0", translate.FamilyNovaReasoning},
		{"global.amazon.nova-2-lite-v1:0", translate.FamilyNovaReasoning},
		{"arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-2-lite-v1:0", translate.FamilyNovaReasoning},
		{"mistral.mistral-large-2402-v1:0", translate.FamilyMistralTopK},
		{"mistral.mistral-large-2407-v1:0", translate.FamilyOther},
		{"eu.meta.llama3-2-1b-instruct-v1:0", translate.FamilyOther},
		{"amazon.titan-text-express-v1", translate.FamilyOther},
		{"arn:aws:bedrock:us-east-1::foundation-model/mistral.mistral-large-2402-v1:0", translate.FamilyMistralTopK},
		{"us.deepseek.r1-v1:0", translate.FamilyOther},
		{"cohere.command-r-plus-v1:0", translate.FamilyOther},
	} {
		if got := translate.BedrockFamily(tc.model); got != tc.want {
			t.Errorf("BedrockFamily(%q) = %v, want %v", tc.model, got, tc.want)
		}
	}
	for f, want := range map[translate.ConverseFamily]bool{translate.FamilyClaude: true, translate.FamilyNova: false, translate.FamilyNovaReasoning: true, translate.FamilyGPTOSS: true, translate.FamilyOther: false} {
		if f.Reasons() != want {
			t.Errorf("%v.Reasons() = %v, want %v", f, f.Reasons(), want)
		}
	}
}
