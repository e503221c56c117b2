package bedrock_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// wholeCluster is two EU regions: demo.chat-small is deployed in both (a
// call from eu-west-1 is served locally), demo.far only in eu-central-1
// (a call from eu-west-1 is forwarded over the link), and demo.plain only
// in eu-west-1 with no capabilities declared.
func wholeCluster(t *testing.T) *cluster {
	t.Helper()
	return dialectCluster(t, `models:
  - {id: demo.chat-small}
  - {id: demo.far}
  - {id: demo.plain}
  - {id: demo.cap}
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.chat-small, region: eu-central-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.far, region: eu-central-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.plain, region: eu-west-1, backend: {type: mock}, capabilities: []}
  - {model: demo.cap, region: eu-west-1, backend: {type: mock}, capabilities: [json_schema]}
  - {model: demo.cap, region: eu-central-1, backend: {type: mock}}
`)
}

func (c *cluster) openaiClient(region string) openai.Client {
	return openai.NewClient(option.WithBaseURL(c.url(region)+"/v1/"), option.WithAPIKey(c.key), option.WithMaxRetries(0))
}

// served names the two ways a request from eu-west-1 is served.
var served = []struct{ name, model, region string }{
	{"local", "eu.demo.chat-small", "eu-west-1"},
	{"forwarded", "eu.demo.far", "eu-central-1"},
}

var weatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name: "get_weather", Description: openai.String("current weather of a city"),
	Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}},
})

var timeTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:       "get_time",
	Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"zone": map[string]any{"type": "string", "enum": []string{"CET", "UTC"}}}},
})

// complete calls Chat Completions, streamed (accumulated) or not, and
// returns the answer and the region that served it.
func complete(t *testing.T, client openai.Client, params openai.ChatCompletionNewParams, stream bool) (*openai.ChatCompletion, string) {
	t.Helper()
	var hr *http.Response
	if !stream {
		out, err := client.Chat.Completions.New(t.Context(), params, option.WithResponseInto(&hr))
		if err != nil {
			t.Fatalf("Chat.Completions.New: %v", err)
		}
		return out, hr.Header.Get("X-Meridian-Inference-Region")
	}
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	s := client.Chat.Completions.NewStreaming(t.Context(), params, option.WithResponseInto(&hr))
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Chat.Completions.NewStreaming: %v", err)
	}
	return &acc.ChatCompletion, hr.Header.Get("X-Meridian-Inference-Region")
}

// TestOpenAISDKWhole: popular OpenAI features, with the official openai-go
// client unmodified, served locally and forwarded over the link, streamed
// and not: a tool-calling round trip, parallel tool calls, structured
// output that validates against its schema, an image input, and the
// prompt-caching usage fields.
func TestOpenAISDKWhole(t *testing.T) {
	c := wholeCluster(t)
	client := c.openaiClient("eu-west-1")
	for _, sv := range served {
		for _, stream := range []bool{false, true} {
			name := fmt.Sprintf("%s/stream=%v", sv.name, stream)
			t.Run(name+"/tool round trip", func(t *testing.T) {
				params := openai.ChatCompletionNewParams{Model: sv.model, Tools: []openai.ChatCompletionToolUnionParam{weatherTool},
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Paris?")}}
				out, region := complete(t, client, params, stream)
				if region != sv.region {
					t.Errorf("served in %q, want %q", region, sv.region)
				}
				if len(out.Choices) != 1 || len(out.Choices[0].Message.ToolCalls) != 1 || out.Choices[0].FinishReason != "tool_calls" {
					t.Fatalf("answer = %+v, want one tool call", out.Choices)
				}
				call := out.Choices[0].Message.ToolCalls[0]
				var args struct{ City string }
				if call.Function.Name != "get_weather" || json.Unmarshal([]byte(call.Function.Arguments), &args) != nil || args.City == "" {
					t.Fatalf("tool call = %+v, want get_weather with a city", call)
				}
				params.Messages = append(params.Messages, out.Choices[0].Message.ToParam(), openai.ToolMessage(`{"celsius":21}`, call.ID))
				final, _ := complete(t, client, params, stream)
				if len(final.Choices) != 1 || final.Choices[0].Message.Content == "" || len(final.Choices[0].Message.ToolCalls) != 0 {
					t.Fatalf("final answer = %+v, want text", final.Choices)
				}
			})
			t.Run(name+"/parallel tool calls", func(t *testing.T) {
				out, _ := complete(t, client, openai.ChatCompletionNewParams{Model: sv.model, Tools: []openai.ChatCompletionToolUnionParam{weatherTool, timeTool},
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather and time in Paris?")}}, stream)
				calls := out.Choices[0].Message.ToolCalls
				if len(calls) != 2 || calls[0].Function.Name != "get_weather" || calls[1].Function.Name != "get_time" || calls[0].ID == calls[1].ID {
					t.Fatalf("tool calls = %+v, want get_weather and get_time", calls)
				}
				var tz struct{ Zone string }
				if err := json.Unmarshal([]byte(calls[1].Function.Arguments), &tz); err != nil || (tz.Zone != "CET" && tz.Zone != "UTC") {
					t.Errorf("get_time arguments %q do not validate (%v)", calls[1].Function.Arguments, err)
				}
			})
			t.Run(name+"/structured output", func(t *testing.T) {
				schema := map[string]any{"type": "object", "required": []string{"name", "age", "tags"}, "additionalProperties": false,
					"properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer", "minimum": 18},
						"tags": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}}}
				out, _ := complete(t, client, openai.ChatCompletionNewParams{Model: sv.model,
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Describe a person.")},
					ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
						JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "person", Strict: openai.Bool(true), Schema: schema}}}}, stream)
				var p struct {
					Name *string
					Age  *int
					Tags []string
				}
				dec := json.NewDecoder(strings.NewReader(out.Choices[0].Message.Content))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&p); err != nil || p.Name == nil || p.Age == nil || *p.Age < 18 || p.Tags == nil {
					t.Fatalf("answer %q does not validate against the schema (%v)", out.Choices[0].Message.Content, err)
				}
			})
			t.Run(name+"/image input", func(t *testing.T) {
				out, _ := complete(t, client, openai.ChatCompletionNewParams{Model: sv.model, Messages: []openai.ChatCompletionMessageParamUnion{
					openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{openai.TextContentPart("What is in this image?"),
						openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="})})}}, stream)
				if out.Choices[0].Message.Content == "" {
					t.Fatal("no answer to an image input")
				}
			})
			t.Run(name+"/prompt caching usage", func(t *testing.T) {
				// Model servers cache prompts of 1024 tokens or more; the first
				// request writes the prefix (OpenAI reports no writes) and a
				// repeat to the same deployment reads it: of three requests
				// over at most two deployments, a later one reads.
				long := strings.Repeat("The contract's clause reads as follows. ", 120)
				read := false
				for i := range 3 {
					out, _ := complete(t, client, openai.ChatCompletionNewParams{Model: sv.model, Messages: []openai.ChatCompletionMessageParamUnion{
						openai.SystemMessage(long), openai.UserMessage("Summarise.")}}, stream)
					if out.Usage.PromptTokens < out.Usage.PromptTokensDetails.CachedTokens {
						t.Fatalf("request %d: usage = %+v, more cached than prompt tokens", i, out.Usage)
					}
					read = read || out.Usage.PromptTokensDetails.CachedTokens > 0
				}
				if !read {
					t.Fatal("no repeat reported cached prompt tokens")
				}
			})
		}
	}
}

// TestCapabilityRefusal: a request using a feature that no deployment it
// may use supports gets a 400 naming the field, in OpenAI's error shape.
func TestCapabilityRefusal(t *testing.T) {
	c := wholeCluster(t)
	client := c.openaiClient("eu-west-1")
	_, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{Model: "eu.demo.plain", Tools: []openai.ChatCompletionToolUnionParam{weatherTool},
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather?")}})
	var apiErr *openai.Error
	if !errorsAs(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "tools" || !strings.Contains(apiErr.Message, "tools") {
		t.Fatalf("error = %v, want a 400 naming tools", err)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// TestCapabilityRouting: a request using tools skips the nearer deployment
// that lacks them, and x-meridian-route says why; one without goes there.
func TestCapabilityRouting(t *testing.T) {
	c := wholeCluster(t)
	client := c.openaiClient("eu-west-1")
	for _, tc := range []struct {
		name        string
		tools       []openai.ChatCompletionToolUnionParam
		region, why string
	}{
		{"plain", nil, "eu-west-1", ""},
		{"tools", []openai.ChatCompletionToolUnionParam{weatherTool}, "eu-central-1", "eu-west-1 lacks-capability"},
	} {
		var hr *http.Response
		_, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{Model: "eu.demo.cap", Tools: tc.tools,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather?")}}, option.WithResponseInto(&hr))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		route := hr.Header.Get("X-Meridian-Route")
		if got := hr.Header.Get("X-Meridian-Inference-Region"); got != tc.region || (tc.why != "" && !strings.Contains(route, tc.why)) || (tc.why == "" && strings.Contains(route, "lacks")) {
			t.Errorf("%s: served in %s with route %q, want %s and %q", tc.name, got, route, tc.region, tc.why)
		}
	}
}
