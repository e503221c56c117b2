package inference

import (
	"strings"
	"testing"
)

// TestPeekFeatures: each dialect's peek finds the features a request uses
// and names the field that uses them, and estimates inline media by count,
// not by the bytes of its encoding.
func TestPeekFeatures(t *testing.T) {
	t.Parallel()
	image := strings.Repeat("A", 200_000)
	tests := []struct {
		name    string
		d       Dialect
		body    string
		want    Features
		field   map[Feature]string
		maxToks int
	}{
		{"openai plain", DialectOpenAIChat, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, 0, nil, 10},
		{"openai all", DialectOpenAIChat, `{"model":"m","n":2,"logprobs":true,"reasoning_effort":"low","response_format":{"type":"json_schema"},"tools":[{}],` +
			`"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,` + image + `"}},{"type":"file"}]},{"role":"tool","content":"x"}]}`,
			Features(FeatureN | FeatureLogprobs | FeatureReasoning | FeatureJSONSchema | FeatureTools | FeatureVision | FeatureDocuments),
			map[Feature]string{FeatureVision: "messages[0].content[0]", FeatureTools: "tools"}, 1200},
		{"converse all", DialectConverse, `{"messages":[{"role":"user","content":[{"text":"a"},{"image":{"format":"png","source":{"bytes":"` + image + `"}}},{"document":{}},{"cachePoint":{}}]}],` +
			`"toolConfig":{"tools":[{}]},"outputConfig":{"textFormat":{}},"additionalModelRequestFields":{"thinking":{"type":"enabled"}}}`,
			Features(FeatureVision | FeatureDocuments | FeaturePromptCaching | FeatureTools | FeatureJSONSchema | FeatureReasoning),
			map[Feature]string{FeatureVision: "messages[0].content[1].image", FeatureTools: "toolConfig"}, 1200},
		{"anthropic all", DialectAnthropic, `{"anthropic_version":"2023-06-01","max_tokens":5,"thinking":{"type":"enabled"},"tools":[{}],` +
			`"messages":[{"role":"user","content":[{"type":"image","source":{"data":"` + image + `"}},{"type":"text","text":"x","cache_control":{"type":"ephemeral"}}]}]}`,
			Features(FeatureReasoning | FeatureTools | FeatureVision | FeaturePromptCaching),
			map[Feature]string{FeaturePromptCaching: "messages[0].content[1].cache_control"}, 1200},
		// reasoning_effort none is refused by OpenAI models without
		// reasoning ("Unsupported parameter"): it needs a feature of its
		// own, which only an OpenAI-compatible deployment without the
		// capability lacks (a Bedrock translation sends nothing for it).
		{"openai reasoning_effort none", DialectOpenAIChat, `{"model":"m","reasoning_effort":"none","messages":[{"role":"user","content":"hi"}]}`,
			Features(FeatureReasoningNone), map[Feature]string{FeatureReasoningNone: "reasoning_effort"}, 10},
		{"openai reasoning_effort none escaped", DialectOpenAIChat, `{"model":"m","reasoning_effort":"\u006eone","messages":[{"role":"user","content":"hi"}]}`,
			Features(FeatureReasoningNone), map[Feature]string{FeatureReasoningNone: "reasoning_effort"}, 10},
		// gpt-oss's reasoning member, as Claude's thinking and Nova's
		// reasoningConfig, is reasoning.
		{"converse gpt-oss reasoning_effort", DialectConverse, `{"messages":[{"role":"user","content":[{"text":"a"}]}],"additionalModelRequestFields":{"reasoning_effort":"high"}}`,
			Features(FeatureReasoning), map[Feature]string{FeatureReasoning: "additionalModelRequestFields"}, 10},
		// Thinking disabled asks for no reasoning; any other type (or a
		// malformed one) does.
		{"anthropic thinking disabled", DialectAnthropic, `{"anthropic_version":"2023-06-01","max_tokens":5,"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"x"}]}`,
			0, nil, 10},
		{"anthropic thinking adaptive", DialectAnthropic, `{"anthropic_version":"2023-06-01","max_tokens":5,"thinking":{"type":"adaptive"},"messages":[{"role":"user","content":"x"}]}`,
			Features(FeatureReasoning), nil, 10},
		// Structured output and effort route as Chat's response_format
		// and reasoning_effort do: to a deployment that can honour them.
		{"anthropic output_config", DialectAnthropic, `{"anthropic_version":"2023-06-01","max_tokens":5,"output_config":{"format":{"type":"json_schema","schema":{}},"effort":"low"},"messages":[{"role":"user","content":"x"}]}`,
			Features(FeatureJSONSchema | FeatureReasoning), map[Feature]string{FeatureJSONSchema: "output_config.format", FeatureReasoning: "output_config.effort"}, 10},
		{"anthropic output_format beta", DialectAnthropic, `{"anthropic_version":"2023-06-01","max_tokens":5,"output_format":{"type":"json_schema","schema":{}},"messages":[{"role":"user","content":"x"}]}`,
			Features(FeatureJSONSchema), map[Feature]string{FeatureJSONSchema: "output_format"}, 10},
		{"anthropic output_config not an object", DialectAnthropic, `{"anthropic_version":"2023-06-01","max_tokens":5,"output_config":"x","messages":[{"role":"user","content":"x"}]}`,
			0, nil, 10},
		{"anthropic thinking untyped", DialectAnthropic, `{"anthropic_version":"2023-06-01","max_tokens":5,"thinking":{"budget_tokens":1024},"messages":[{"role":"user","content":"x"}]}`,
			Features(FeatureReasoning), nil, 10},
	}
	for _, tc := range tests {
		req, err := Peek(tc.d, "m", []byte(tc.body), false)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if req.Features != tc.want {
			t.Errorf("%s: features %s, want %s", tc.name, req.Features, tc.want)
		}
		for f, field := range tc.field {
			if got := req.FeatureField(f); got != field {
				t.Errorf("%s: %s used by %q, want %q", tc.name, f, got, field)
			}
		}
		if n := req.EstimatedInputTokens(); n < 1 || n > tc.maxToks {
			t.Errorf("%s: estimate %d tokens, want 1..%d", tc.name, n, tc.maxToks)
		}
	}
}
