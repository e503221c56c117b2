package bedrock_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicbedrock "github.com/anthropics/anthropic-sdk-go/bedrock"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
)

// familyCluster serves, through the simulator's Bedrock face, models of
// several Bedrock families under profiles of their own, in eu-west-1
// (local) and, with the suffix far, only in eu-central-1 (forwarded):
// pnova is Amazon Nova Lite (no reasoning control), pnova2 Nova 2 Lite
// (reasoningConfig), ppremier Nova Premier (no documented reasoning
// control), pmistral Mistral Large (2402, top_k), pmistral2 Mistral Large 2
// (2407, no top_k), pmistralr Mistral Large declared with the reasoning
// capability, so that the translator, not routing, answers a request for
// reasoning, and pgptoss gpt-oss 120B (reasoning_effort).
func familyCluster(t *testing.T) *cluster {
	var models, deps strings.Builder
	for _, far := range []struct{ suffix, region string }{{"", "eu-west-1"}, {"far", "eu-central-1"}} {
		for _, m := range []struct{ id, model, caps string }{
			{"pnova", "amazon.nova-lite-v1:0", ""},
			{"pnova2", "amazon.nova-2-lite-v1:0", ""},
			{"pmistral", "mistral.mistral-large-2402-v1:0", ""},
			{"pmistralr", "mistral.mistral-large-2402-v1:0", ", capabilities: [chat, tools, reasoning]"},
			{"ppremier", "us.amazon.nova-premier-v1:0", ""},
			{"pmistral2", "mistral.mistral-large-2407-v1:0", ""},
			{"pgptoss", "openai.gpt-oss-120b-1:0", ""},
		} {
			fmt.Fprintf(&models, "  - {id: %s%s}\n", m.id, far.suffix)
			fmt.Fprintf(&deps, "  - {model: %s%s, region: %s, backend: {type: mock, api: bedrock, model: %q, ttft: 1ms, tokens_per_second: 5000}%s}\n",
				m.id, far.suffix, far.region, m.model, m.caps)
		}
	}
	return dialectCluster(t, "models:\n"+models.String()+"deployments:\n"+deps.String())
}

// TestFamilyReasoningOpenAIClient: the official OpenAI client's
// reasoning_effort reaches a Bedrock model as its family takes it: Amazon
// Nova 2 as reasoningConfig (with tool_choice required too, which is
// Claude's refusal only), and a model without a reasoning control gets a
// 400 naming reasoning_effort (from routing when its deployments have no
// reasoning capability by default, from the translator when one declares
// it) rather than Claude's thinking, which Bedrock refuses for it;
// reasoning_effort none is served by any Bedrock deployment but gpt-oss's
// (which always reasons, and refuses it by name). Streamed and not, served
// locally and forwarded over the link.
func TestFamilyReasoningOpenAIClient(t *testing.T) {
	c := familyCluster(t)
	oa := c.openaiClient("eu-west-1")
	for _, far := range []string{"", "far"} {
		for _, stream := range []bool{false, true} {
			name := fmt.Sprintf("forwarded=%v/stream=%v", far != "", stream)
			t.Run(name+"/Nova 2 reasoning", func(t *testing.T) {
				out, _ := complete(t, oa, openai.ChatCompletionNewParams{Model: "eu.pnova2" + far, ReasoningEffort: shared.ReasoningEffortLow,
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Prove it.")}}, stream)
				if len(out.Choices) != 1 || out.Choices[0].Message.Content == "" {
					t.Fatalf("answer %+v, want text", out.Choices)
				}
			})
			t.Run(name+"/Nova 2 reasoning with tool_choice required", func(t *testing.T) {
				out, _ := complete(t, oa, openai.ChatCompletionNewParams{Model: "eu.pnova2" + far, ReasoningEffort: shared.ReasoningEffortHigh,
					Tools: []openai.ChatCompletionToolUnionParam{weatherTool}, ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")},
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")}}, stream)
				if len(out.Choices) != 1 || len(out.Choices[0].Message.ToolCalls) != 1 {
					t.Fatalf("answer %+v, want one tool call", out.Choices)
				}
			})
			t.Run(name+"/gpt-oss reasoning", func(t *testing.T) {
				out, _ := complete(t, oa, openai.ChatCompletionNewParams{Model: "eu.pgptoss" + far, ReasoningEffort: shared.ReasoningEffortHigh, MaxTokens: openai.Int(500),
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Prove it.")}}, stream)
				if len(out.Choices) != 1 || out.Choices[0].Message.Content == "" {
					t.Fatalf("answer %+v, want text", out.Choices)
				}
			})
			for _, model := range []string{"eu.pmistralr", "eu.pmistral"} {
				t.Run(name+"/reasoning_effort none to "+model, func(t *testing.T) {
					// reasoning_effort none asks for no reasoning: a Bedrock
					// deployment takes it with or without the reasoning
					// capability (pmistral has none), since its translation
					// sends nothing for it; only an OpenAI-compatible
					// deployment needs the capability (an OpenAI model
					// without reasoning refuses the parameter).
					out, _ := complete(t, oa, openai.ChatCompletionNewParams{Model: model + far, ReasoningEffort: shared.ReasoningEffortNone,
						Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi.")}}, stream)
					if len(out.Choices) != 1 || out.Choices[0].Message.Content == "" {
						t.Fatalf("answer %+v, want text", out.Choices)
					}
				})
			}
			for _, tc := range []struct {
				model  string
				effort shared.ReasoningEffort
				max    int64
				param  string
			}{
				{"eu.pnova", shared.ReasoningEffortLow, 0, "reasoning_effort"},
				{"eu.pmistral", shared.ReasoningEffortLow, 0, "reasoning_effort"},
				{"eu.pmistralr", shared.ReasoningEffortLow, 0, "reasoning_effort"},
				{"eu.ppremier", shared.ReasoningEffortLow, 0, "reasoning_effort"},
				// gpt-oss always reasons: none is refused, not served at medium.
				{"eu.pgptoss", shared.ReasoningEffortNone, 0, "reasoning_effort"},
				// Nova takes high only without a token limit.
				{"eu.pnova2", shared.ReasoningEffortHigh, 500, "max_tokens"},
			} {
				t.Run(name+"/"+tc.model+" refuses reasoning_effort "+string(tc.effort), func(t *testing.T) {
					params := openai.ChatCompletionNewParams{Model: tc.model + far, ReasoningEffort: tc.effort,
						Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Prove it.")}}
					if tc.max > 0 {
						params.MaxTokens = openai.Int(tc.max)
					}
					var err error
					if stream {
						s := oa.Chat.Completions.NewStreaming(t.Context(), params)
						for s.Next() {
						}
						err = s.Err()
					} else {
						_, err = oa.Chat.Completions.New(t.Context(), params)
					}
					var ae *openai.Error
					if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != tc.param || strings.Contains(ae.Message, "extraneous") {
						t.Fatalf("error %v, want a 400 on param %s from Meridian", err, tc.param)
					}
				})
			}
		}
	}
}

// TestFamilyFieldsAnthropicClient: the official Anthropic client (Bedrock
// mode) sends thinking and top_k on InvokeModel to models that are not
// Claude, whose Anthropic bodies are translated to Converse: Nova 2 gets
// reasoningConfig and inferenceConfig.topK, Nova Lite topK, and Mistral,
// which takes neither, a 400 naming the field instead of Claude's members.
func TestFamilyFieldsAnthropicClient(t *testing.T) {
	c := familyCluster(t)
	an := anthropic.NewClient(anthropicbedrock.WithConfig(aws.Config{Region: "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, "")}), anthropicoption.WithBaseURL(c.url("eu-west-1")), anthropicoption.WithMaxRetries(0))
	send := func(params anthropic.MessageNewParams, stream bool) (*anthropic.Message, error) {
		if !stream {
			return an.Messages.New(t.Context(), params)
		}
		s := an.Messages.NewStreaming(t.Context(), params)
		var m anthropic.Message
		for s.Next() {
			if err := m.Accumulate(s.Current()); err != nil {
				return nil, err
			}
		}
		return &m, s.Err()
	}
	msgs := []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Prove it."))}
	for _, far := range []string{"", "far"} {
		for _, stream := range []bool{false, true} {
			name := fmt.Sprintf("forwarded=%v/stream=%v", far != "", stream)
			for _, tc := range []struct {
				name   string
				params anthropic.MessageNewParams
				field  string // "" for an answer
			}{
				{"Nova 2 thinking and top_k", anthropic.MessageNewParams{Model: anthropic.Model("eu.pnova2" + far), MaxTokens: 4000, Messages: msgs,
					Thinking: anthropic.ThinkingConfigParamOfEnabled(2048), TopK: anthropic.Int(5)}, ""},
				{"Nova Lite top_k", anthropic.MessageNewParams{Model: anthropic.Model("eu.pnova" + far), MaxTokens: 64, Messages: msgs, TopK: anthropic.Int(5)}, ""},
				{"Mistral Large top_k", anthropic.MessageNewParams{Model: anthropic.Model("eu.pmistral" + far), MaxTokens: 64, Messages: msgs, TopK: anthropic.Int(5)}, ""},
				{"Mistral Large 2 top_k", anthropic.MessageNewParams{Model: anthropic.Model("eu.pmistral2" + far), MaxTokens: 64, Messages: msgs, TopK: anthropic.Int(5)}, "top_k"},
				// Disabled thinking asks for no reasoning: routing lets it
				// reach a deployment without reasoning.
				{"Mistral thinking disabled", anthropic.MessageNewParams{Model: anthropic.Model("eu.pmistral" + far), MaxTokens: 64, Messages: msgs,
					Thinking: anthropic.ThinkingConfigParamUnion{OfDisabled: &anthropic.ThinkingConfigDisabledParam{}}}, ""},
				// A budget of 16384 or more is Nova's high, which takes no
				// token limit, and Messages always has one.
				{"Nova 2 thinking high", anthropic.MessageNewParams{Model: anthropic.Model("eu.pnova2" + far), MaxTokens: 20000, Messages: msgs,
					Thinking: anthropic.ThinkingConfigParamOfEnabled(16384)}, "thinking.budget_tokens"},
				{"gpt-oss thinking", anthropic.MessageNewParams{Model: anthropic.Model("eu.pgptoss" + far), MaxTokens: 4000, Messages: msgs,
					Thinking: anthropic.ThinkingConfigParamOfEnabled(2048)}, ""},
				{"Mistral thinking", anthropic.MessageNewParams{Model: anthropic.Model("eu.pmistralr" + far), MaxTokens: 4000, Messages: msgs,
					Thinking: anthropic.ThinkingConfigParamOfEnabled(2048)}, "thinking"},
			} {
				t.Run(name+"/"+tc.name, func(t *testing.T) {
					m, err := send(tc.params, stream)
					if tc.field == "" {
						if err != nil || len(m.Content) == 0 {
							t.Fatalf("answer %+v, error %v", m, err)
						}
						return
					}
					var ae *anthropic.Error
					if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.RawJSON(), tc.field+": not supported") {
						t.Fatalf("error %v, want a 400 naming %s", err, tc.field)
					}
				})
			}
		}
	}
}
