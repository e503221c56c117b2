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
	"github.com/openai/openai-go/v3/responses"
)

// respond calls the Responses API, streamed or not, and returns the
// response (the response.completed event's when streamed), the region that
// served it and the stream's event types.
func respond(t *testing.T, client openai.Client, params responses.ResponseNewParams, stream bool) (*responses.Response, string, []string) {
	t.Helper()
	var hr *http.Response
	if !stream {
		out, err := client.Responses.New(t.Context(), params, option.WithResponseInto(&hr))
		if err != nil {
			t.Fatalf("Responses.New: %v", err)
		}
		return out, hr.Header.Get("X-Meridian-Inference-Region"), nil
	}
	s := client.Responses.NewStreaming(t.Context(), params, option.WithResponseInto(&hr))
	var types []string
	var done *responses.Response
	var text strings.Builder
	for s.Next() {
		ev := s.Current()
		types = append(types, ev.Type)
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
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
	if done.OutputText() != text.String() {
		t.Errorf("deltas %q, completed response text %q", text.String(), done.OutputText())
	}
	return done, hr.Header.Get("X-Meridian-Inference-Region"), types
}

// TestOpenAISDKResponses: the Responses API with the official openai-go
// client, served locally and forwarded over the link, streamed and not:
// text with instructions and usage, a function-calling round trip and
// structured output; previous_response_id is refused in OpenAI's shape.
func TestOpenAISDKResponses(t *testing.T) {
	c := wholeCluster(t)
	testResponses(t, c.openaiClient("eu-west-1"), served)
}

// TestOpenAISDKResponsesBedrock is TestOpenAISDKResponses against
// deployments reached through the Bedrock adapter: the request goes
// upstream as Converse, the answer and its events are translated from
// Converse straight into the Responses API's.
func TestOpenAISDKResponsesBedrock(t *testing.T) {
	c := bedrockCluster(t)
	var sv []struct{ name, model, region string }
	for _, b := range servedBedrock {
		sv = append(sv, struct{ name, model, region string }{b.name, b.model, ""})
	}
	testResponses(t, c.openaiClient("eu-west-1"), sv)
}

func testResponses(t *testing.T, client openai.Client, served []struct{ name, model, region string }) {
	for _, sv := range served {
		for _, stream := range []bool{false, true} {
			name := fmt.Sprintf("%s/stream=%v", sv.name, stream)
			t.Run(name+"/text", func(t *testing.T) {
				out, region, types := respond(t, client, responses.ResponseNewParams{Model: sv.model, Instructions: openai.String("Be brief."),
					Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hello.")}}, stream)
				if sv.region != "" && region != sv.region {
					t.Errorf("served in %q, want %q", region, sv.region)
				}
				if out.Status != "completed" || out.OutputText() == "" || out.Model != sv.model || !strings.HasPrefix(out.ID, "resp_") {
					t.Errorf("response = status %q text %q model %q id %q", out.Status, out.OutputText(), out.Model, out.ID)
				}
				if out.Usage.InputTokens <= 0 || out.Usage.OutputTokens <= 0 || out.Usage.TotalTokens != out.Usage.InputTokens+out.Usage.OutputTokens {
					t.Errorf("usage = %+v", out.Usage)
				}
				if stream && (len(types) < 3 || types[0] != "response.created" || types[len(types)-1] != "response.completed") {
					t.Errorf("event types = %v", types)
				}
			})
			t.Run(name+"/function call round trip", func(t *testing.T) {
				tool := responses.ToolParamOfFunction("get_weather", map[string]any{"type": "object",
					"properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}, "additionalProperties": false}, true)
				input := responses.ResponseInputParam{responses.ResponseInputItemParamOfMessage("What is the weather in Paris?", responses.EasyInputMessageRoleUser)}
				params := responses.ResponseNewParams{Model: sv.model, Tools: []responses.ToolUnionParam{tool},
					Input: responses.ResponseNewParamsInputUnion{OfInputItemList: input}}
				out, _, _ := respond(t, client, params, stream)
				var call *responses.ResponseOutputItemUnion
				for i := range out.Output {
					if out.Output[i].Type == "function_call" {
						call = &out.Output[i]
					}
				}
				if call == nil {
					t.Fatalf("output = %+v, want a function call", out.Output)
				}
				var args struct{ City string }
				if call.Name != "get_weather" || call.CallID == "" || json.Unmarshal([]byte(call.Arguments.OfString), &args) != nil || args.City == "" {
					t.Fatalf("function call = name %q call_id %q arguments %q", call.Name, call.CallID, call.Arguments.OfString)
				}
				result := responses.ResponseInputItemParamOfFunctionCallOutput(`{"celsius":21}`)
				result.OfFunctionCallOutput.CallID = openai.String(call.CallID)
				input = append(input, responses.ResponseInputItemParamOfFunctionCall(call.Arguments.OfString, call.CallID, call.Name), result)
				params.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: input}
				final, _, _ := respond(t, client, params, stream)
				if final.OutputText() == "" {
					t.Fatalf("final output = %+v, want text", final.Output)
				}
			})
			t.Run(name+"/structured output", func(t *testing.T) {
				schema := map[string]any{"type": "object", "required": []string{"name", "age"}, "additionalProperties": false,
					"properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer", "minimum": 18}}}
				out, _, _ := respond(t, client, responses.ResponseNewParams{Model: sv.model,
					Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Describe a person.")},
					Text: responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigUnionParam{
						OfJSONSchema: &responses.ResponseFormatTextJSONSchemaConfigParam{Name: "person", Strict: openai.Bool(true), Schema: schema}}}}, stream)
				var p struct {
					Name *string
					Age  *int
				}
				dec := json.NewDecoder(strings.NewReader(out.OutputText()))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&p); err != nil || p.Name == nil || p.Age == nil || *p.Age < 18 {
					t.Fatalf("answer %q does not validate against the schema (%v)", out.OutputText(), err)
				}
			})
		}
	}
	t.Run("previous_response_id refused", func(t *testing.T) {
		_, err := client.Responses.New(t.Context(), responses.ResponseNewParams{Model: served[0].model, PreviousResponseID: openai.String("resp_0"),
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "previous_response_id" || apiErr.Type != "invalid_request_error" {
			t.Fatalf("err = %v, want a 400 naming previous_response_id", err)
		}
	})
}
