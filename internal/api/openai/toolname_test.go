package openai

import (
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/meridian-gateway/meridian/internal/backend/backendtest"
)

// TestToolLoopThroughTranslation: with the official openai-go client, a
// tool loop as LangChain's ChatOpenAI sends it (the tool message carries
// the function's name) is served by a Converse deployment (Nova) and a
// Claude deployment on Bedrock (Anthropic Messages), the tool result
// reaching the model; a name that is not the call's is a 400 naming
// messages[2].name. Toward Claude with reasoning_effort, the same loop,
// whose tool-calling turn has no signed reasoning to send back, is a 400
// naming reasoning_effort and saying what works, before any call.
func TestToolLoopThroughTranslation(t *testing.T) {
	t.Parallel()
	for _, model := range []string{"amazon.nova-pro-v1:0", "anthropic.claude-sonnet-4-5"} {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			url, got := backendtest.Model(t)
			srv := newServerWith(t, backendtest.Bedrock(t, model, url))
			client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey(testKey), option.WithMaxRetries(0))
			params := func(toolName string, effort shared.ReasoningEffort) openai.ChatCompletionNewParams {
				call := openai.ChatCompletionAssistantMessageParam{ToolCalls: []openai.ChatCompletionMessageToolCallUnionParam{{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{ID: "tooluse_1",
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}}}
				result := openai.ToolMessage("21C", "tooluse_1")
				result.OfTool.SetExtraFields(map[string]any{"name": toolName})
				return openai.ChatCompletionNewParams{Model: "eu.m", MaxCompletionTokens: openai.Int(2000), ReasoningEffort: effort,
					Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_weather",
						Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}})},
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?"), {OfAssistant: &call}, result}}
			}
			if _, err := client.Chat.Completions.New(t.Context(), params("get_weather", "")); err != nil {
				t.Fatalf("tool loop with the tool message's name: %v", err)
			}
			if body := string(<-got); !strings.Contains(body, "21C") || !strings.Contains(body, "tooluse_1") {
				t.Errorf("the model received %s, want the tool result", body)
			}
			refused := func(p openai.ChatCompletionNewParams, param, msg string) {
				t.Helper()
				_, err := client.Chat.Completions.New(t.Context(), p)
				var ae *openai.Error
				if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != param || !strings.Contains(ae.Message, msg) {
					t.Fatalf("error %v (param %q: %s), want a 400 naming %s and saying %q", err, ae.Param, ae.Message, param, msg)
				}
			}
			refused(params("get_time", ""), "messages[2].name", "differs from tool_calls[].function.name")
			if strings.HasPrefix(model, "anthropic.") {
				refused(params("get_weather", shared.ReasoningEffortLow), "reasoning_effort", `include ["reasoning.encrypted_content"]`)
			}
			select {
			case body := <-got:
				t.Errorf("a refused request reached the model: %s", body)
			default:
			}
		})
	}
}
