package bedrock_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicbedrock "github.com/anthropics/anthropic-sdk-go/bedrock"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
)

// crossCluster serves demo.oa through the OpenAI chat API and demo.br
// through Bedrock's (the simulated model behind each adapter), both in
// eu-west-1 (local) and, as demo.oafar and demo.brfar, only in
// eu-central-1 (forwarded): every client dialect reaches a backend of
// another.
func crossCluster(t *testing.T) *cluster {
	return dialectCluster(t, `models:
  - {id: demo.oa}
  - {id: demo.oafar}
  - {id: demo.br}
  - {id: demo.brfar}
deployments:
  - {model: demo.oa, region: eu-west-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.oafar, region: eu-central-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.br, region: eu-west-1, backend: {type: mock, api: bedrock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.brfar, region: eu-central-1, backend: {type: mock, api: bedrock, ttft: 1ms, tokens_per_second: 5000}}
`)
}

// TestCrossDialectToolRoundTrip: a tool-calling round trip and structured
// output with each official client against a backend of another dialect
// (OpenAI → Converse, Converse → OpenAI chat, Anthropic → OpenAI chat),
// streamed and not, local and forwarded: the request, the answer and every
// stream event are translated.
func TestCrossDialectToolRoundTrip(t *testing.T) {
	c := crossCluster(t)
	oa := c.openaiClient("eu-west-1")
	rt := c.runtimeClient("eu-west-1")
	an := anthropic.NewClient(anthropicbedrock.WithConfig(aws.Config{Region: "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, "")}), anthropicoption.WithBaseURL(c.url("eu-west-1")), anthropicoption.WithMaxRetries(0))
	for _, far := range []string{"", "far"} {
		for _, stream := range []bool{false, true} {
			name := fmt.Sprintf("forwarded=%v/stream=%v", far != "", stream)
			t.Run(name+"/OpenAI client, Converse backend", func(t *testing.T) {
				params := openai.ChatCompletionNewParams{Model: "eu.demo.br" + far, Tools: []openai.ChatCompletionToolUnionParam{weatherTool},
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Paris?")}}
				out, _ := complete(t, oa, params, stream)
				if len(out.Choices) != 1 || len(out.Choices[0].Message.ToolCalls) != 1 || out.Choices[0].FinishReason != "tool_calls" {
					t.Fatalf("answer = %+v, want one tool call", out.Choices)
				}
				call := out.Choices[0].Message.ToolCalls[0]
				var args struct{ City string }
				if call.Function.Name != "get_weather" || json.Unmarshal([]byte(call.Function.Arguments), &args) != nil || args.City == "" {
					t.Fatalf("tool call = %+v", call)
				}
				params.Messages = append(params.Messages, out.Choices[0].Message.ToParam(), openai.ToolMessage(`{"celsius":21}`, call.ID))
				final, _ := complete(t, oa, params, stream)
				if len(final.Choices) != 1 || final.Choices[0].Message.Content == "" || final.Choices[0].FinishReason != "stop" {
					t.Fatalf("final answer = %+v, want text", final.Choices)
				}
			})
			t.Run(name+"/OpenAI client structured output, Converse backend", func(t *testing.T) {
				schema := map[string]any{"type": "object", "required": []string{"name", "age"}, "additionalProperties": false,
					"properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer", "minimum": 18}}}
				out, _ := complete(t, oa, openai.ChatCompletionNewParams{Model: "eu.demo.br" + far,
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Describe a person.")},
					ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
						JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "person", Schema: schema}}}}, stream)
				var p struct {
					Name *string
					Age  *int
				}
				if err := json.Unmarshal([]byte(out.Choices[0].Message.Content), &p); err != nil || p.Name == nil || p.Age == nil || *p.Age < 18 {
					t.Fatalf("answer %q does not validate against the schema (%v)", out.Choices[0].Message.Content, err)
				}
			})
			t.Run(name+"/Converse client, OpenAI chat backend", func(t *testing.T) {
				in := &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.oa" + far), ToolConfig: weatherToolConfig(), Messages: []types.Message{{Role: types.ConversationRoleUser,
					Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Weather in Paris?"}}}}}
				blocks, stop, usage := converse(t, rt, in, stream)
				if stop != types.StopReasonToolUse || len(blocks) != 1 || usage == nil || aws.ToInt32(usage.InputTokens) <= 0 {
					t.Fatalf("answer %+v stop %q usage %+v, want one tool use", blocks, stop, usage)
				}
				tu := blocks[0].(*types.ContentBlockMemberToolUse)
				in.Messages = append(in.Messages, types.Message{Role: types.ConversationRoleAssistant, Content: blocks},
					types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{
						ToolUseId: tu.Value.ToolUseId, Content: []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: "21 C"}}}}}})
				final, stop, _ := converse(t, rt, in, stream)
				if stop != types.StopReasonEndTurn || len(final) != 1 {
					t.Fatalf("final answer %+v stop %q, want text", final, stop)
				}
			})
			t.Run(name+"/Anthropic client, OpenAI chat backend", func(t *testing.T) {
				tool := anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{Name: "get_weather",
					InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"}}}}
				params := anthropic.MessageNewParams{Model: anthropic.Model("eu.demo.oa" + far), MaxTokens: 64, Tools: []anthropic.ToolUnionParam{tool},
					Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Paris?"))}}
				var m *anthropic.Message
				if stream {
					s := an.Messages.NewStreaming(t.Context(), params)
					m = &anthropic.Message{}
					for s.Next() {
						if err := m.Accumulate(s.Current()); err != nil {
							t.Fatal(err)
						}
					}
					if err := s.Err(); err != nil {
						t.Fatal(err)
					}
				} else {
					var err error
					if m, err = an.Messages.New(t.Context(), params); err != nil {
						t.Fatal(err)
					}
				}
				if m.StopReason != anthropic.StopReasonToolUse || len(m.Content) != 1 || m.Content[0].Name != "get_weather" {
					t.Fatalf("answer %+v, want a get_weather tool use", m)
				}
			})
		}
	}
}

// TestCrossDialectRefusal: a field the backend's API cannot express is
// refused with a 400 naming it, never dropped.
func TestCrossDialectRefusal(t *testing.T) {
	c := crossCluster(t)
	client := c.openaiClient("eu-west-1")
	_, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{Model: "eu.demo.br",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}, LogitBias: map[string]int64{"50256": -100},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfText: &shared.ResponseFormatTextParam{}}})
	var apiErr *openai.Error
	if !errorsAs(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "logit_bias" {
		t.Fatalf("error = %v, want a 400 naming logit_bias", err)
	}
}
