package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// responsesCluster starts eu-west-1, which hosts none of the test's models,
// and eu-central-1, which hosts pclaude (a bedrock deployment of Claude) and
// popenai (an openai deployment), both served by one simulated model
// server whose received bodies log records. A client of eu-central-1 is
// served there; a client of eu-west-1 is forwarded over the link.
func responsesCluster(t *testing.T, log *receivedLog[[]byte]) (key string, nodes map[string]*Node) {
	t.Helper()
	// The bedrock deployment's own credentials (default chain: environment).
	t.Setenv("AWS_BEARER_TOKEN_BEDROCK", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDDEPLOYMENT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "deployment-secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	model := mockllm.New(mockllm.Config{CompletionTokens: 6, Received: log.record})
	up := httptest.NewServer(model.Handler())
	t.Cleanup(up.Close)

	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}}, "", withDeployments([]string{"pclaude", "popenai"},
		fmt.Sprintf("{model: pclaude, region: eu-central-1, backend: {type: bedrock, aws_region: eu-central-1, model: anthropic.claude-sonnet-4-5, endpoint: %q, residency_checked: true}}", up.URL),
		fmt.Sprintf("{model: popenai, region: eu-central-1, backend: {type: openai, url: %q, model: chat-small}}", up.URL+"/v1")))
	return c.key, c.nodes
}

// respondTo calls the Responses API, streamed or not, and returns the
// response (the response.completed event's when streamed) and the region
// that served it.
func respondTo(t *testing.T, client oa.Client, params responses.ResponseNewParams, stream bool) (*responses.Response, string) {
	t.Helper()
	var hr *http.Response
	if !stream {
		out, err := client.Responses.New(t.Context(), params, option.WithResponseInto(&hr))
		if err != nil {
			t.Fatalf("Responses.New: %v", err)
		}
		return out, hr.Header.Get("X-Meridian-Inference-Region")
	}
	s := client.Responses.NewStreaming(t.Context(), params, option.WithResponseInto(&hr))
	var done *responses.Response
	var types []string
	for s.Next() {
		ev := s.Current()
		types = append(types, ev.Type)
		if ev.Type == "response.completed" {
			r := ev.Response
			done = &r
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Responses.NewStreaming: %v", err)
	}
	if done == nil {
		t.Fatalf("stream ended without response.completed: %v", types)
	}
	return done, hr.Header.Get("X-Meridian-Inference-Region")
}

// TestResponsesClaudeReasoningRoundTrip: a tool-use loop with reasoning
// on, through the official openai-go client, with a Claude deployment
// reached through the Bedrock adapter (as Converse), served in the region
// called and forwarded over the link, streamed and not. The first answer
// carries Claude's reasoning in a reasoning item's encrypted_content
// (include reasoning.encrypted_content) before the function call; sent
// back as docs/api.md says, with the call's output, it reaches the model
// as the assistant turn's reasoningContent, signed, before its toolUse:
// Claude (and the simulator) refuses, with thinking on, a tool-calling
// turn that does not start with its thinking. The same conversation sent
// to an OpenAI deployment reaches it without the reasoning (Chat
// Completions takes no reasoning input).
func TestResponsesClaudeReasoningRoundTrip(t *testing.T) {
	var log receivedLog[[]byte]
	key, nodes := responsesCluster(t, &log)
	tool := responses.ToolParamOfFunction("get_weather", map[string]any{"type": "object",
		"properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}, "additionalProperties": false}, true)
	for _, called := range []string{"eu-central-1", "eu-west-1"} {
		client := oa.NewClient(option.WithBaseURL("http://"+nodes[called].ClientAddr()+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("called %s/stream=%v", called, stream), func(t *testing.T) {
				input := responses.ResponseInputParam{responses.ResponseInputItemParamOfMessage("What is the weather in Paris?", responses.EasyInputMessageRoleUser)}
				params := responses.ResponseNewParams{Model: "eu.pclaude", Tools: []responses.ToolUnionParam{tool},
					Reasoning:       responses.ReasoningParam{Effort: responses.ReasoningEffortLow},
					Include:         []responses.ResponseIncludable{responses.ResponseIncludableReasoningEncryptedContent},
					MaxOutputTokens: oa.Int(3000),
					Input:           responses.ResponseNewParamsInputUnion{OfInputItemList: input}}
				first, region := respondTo(t, client, params, stream)
				if region != "eu-central-1" {
					t.Errorf("served in %q, want eu-central-1", region)
				}
				if len(first.Output) != 2 || first.Output[0].Type != "reasoning" || first.Output[1].Type != "function_call" {
					t.Fatalf("first answer's output = %s, want reasoning then a function call", first.RawJSON())
				}
				reasoning, call := first.Output[0].AsReasoning(), first.Output[1].AsFunctionCall()
				if !strings.HasPrefix(reasoning.EncryptedContent, "meridian.r1.") {
					t.Fatalf("reasoning item's encrypted_content = %q", reasoning.EncryptedContent)
				}
				rp, cp := reasoning.ToParam(), call.ToParam()
				result := responses.ResponseInputItemParamOfFunctionCallOutput(`{"celsius":21}`)
				result.OfFunctionCallOutput.CallID = oa.String(call.CallID)
				input = append(input, responses.ResponseInputItemUnionParam{OfReasoning: &rp}, responses.ResponseInputItemUnionParam{OfFunctionCall: &cp}, result)
				params.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: input}

				final, _ := respondTo(t, client, params, stream)
				if final.OutputText() == "" {
					t.Fatalf("final output = %s, want text", final.RawJSON())
				}
				got := log.last()
				var conv struct {
					Messages []struct {
						Role    string
						Content []map[string]json.RawMessage
					}
					AdditionalModelRequestFields map[string]json.RawMessage
				}
				if !strings.HasPrefix(got.path, "/model/") || json.Unmarshal(got.value, &conv) != nil || len(conv.Messages) != 3 {
					t.Fatalf("the model received %s %s", got.path, got.value)
				}
				if conv.AdditionalModelRequestFields["thinking"] == nil {
					t.Errorf("the model received no thinking configuration: %s", got.value)
				}
				turn := conv.Messages[1]
				var rc struct {
					ReasoningText struct{ Text, Signature string }
				}
				if turn.Role != "assistant" || len(turn.Content) != 2 || json.Unmarshal(turn.Content[0]["reasoningContent"], &rc) != nil ||
					rc.ReasoningText.Text == "" || rc.ReasoningText.Signature == "" || turn.Content[1]["toolUse"] == nil {
					t.Errorf("the model received the assistant turn %s, want its signed reasoningContent then its toolUse", mustJSON(turn))
				}

				// The same conversation on an OpenAI deployment.
				params.Model = "eu.popenai"
				if out, _ := respondTo(t, client, params, stream); out.OutputText() == "" {
					t.Errorf("OpenAI deployment's output = %s, want text", out.RawJSON())
				}
				got = log.last()
				if got.path != "/v1/chat/completions" || bytes.Contains(got.value, []byte("meridian.r1.")) || !bytes.Contains(got.value, []byte(`"tool_calls"`)) {
					t.Errorf("the OpenAI deployment received %s %s, want the tool call without Claude's reasoning", got.path, got.value)
				}
			})
		}
	}
}

// TestResponsesAllowedTools: an allowed_tools tool choice, sent with the
// official openai-go client, reaches an OpenAI deployment in Chat
// Completions' form (served in the region called and forwarded); a Claude
// deployment, which has no such choice, refuses it with a 400 naming
// tool_choice.type.
func TestResponsesAllowedTools(t *testing.T) {
	var log receivedLog[[]byte]
	key, nodes := responsesCluster(t, &log)
	tools := []responses.ToolUnionParam{
		responses.ToolParamOfFunction("get_weather", map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}, false),
		responses.ToolParamOfFunction("get_time", map[string]any{"type": "object", "properties": map[string]any{"tz": map[string]any{"type": "string"}}}, false),
	}
	choice := responses.ResponseNewParamsToolChoiceUnion{OfAllowedTools: &responses.ToolChoiceAllowedParam{
		Mode: responses.ToolChoiceAllowedModeAuto, Tools: []map[string]any{{"type": "function", "name": "get_weather"}}}}
	const want = `{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"get_weather"}}]}}`
	for _, called := range []string{"eu-central-1", "eu-west-1"} {
		client := oa.NewClient(option.WithBaseURL("http://"+nodes[called].ClientAddr()+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("called %s/stream=%v", called, stream), func(t *testing.T) {
				params := responses.ResponseNewParams{Model: "eu.popenai", Tools: tools, ToolChoice: choice,
					Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("What is the weather in Paris?")}}
				respondTo(t, client, params, stream)
				got := log.last()
				var chat struct {
					ToolChoice json.RawMessage `json:"tool_choice"`
				}
				if json.Unmarshal(got.value, &chat) != nil || string(chat.ToolChoice) != want {
					t.Errorf("the OpenAI deployment received tool_choice %s, want %s", chat.ToolChoice, want)
				}

				params.Model = "eu.pclaude"
				_, err := client.Responses.New(t.Context(), params)
				var ae *oa.Error
				if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "tool_choice.type" ||
					!strings.HasPrefix(ae.Message, "tool_choice.type: not supported when the model is served through the Bedrock Converse API (allowed_tools: ") {
					t.Errorf("Claude deployment: %v, want a 400 naming tool_choice.type", err)
				}
			})
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
