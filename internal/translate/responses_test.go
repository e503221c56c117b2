package translate_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/bedrockembed"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
	"github.com/meridian-gateway/meridian/internal/translate"
)

var rmeta = translate.ResponseMeta{ID: "resp_1", Model: "test-model", Created: 1700000000}

// clientRequest reads the optional client.json of a case: the Responses
// request whose settings a response echoes.
func clientRequest(dir string) (*openai.ResponsesRequest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "client.json"))
	if errors.Is(err, os.ErrNotExist) {
		return &openai.ResponsesRequest{Model: "test-model"}, nil
	}
	if err != nil {
		return nil, err
	}
	return decode[openai.ResponsesRequest](b)
}

// responsesEvents runs a stream translator over inputs and ends the stream
// as a front end would: Fail after an error, else Finish.
func responsesEvents[E any](in []E, next func(E) ([]openai.ResponseStreamEvent, error), s interface {
	Finish() []openai.ResponseStreamEvent
	Fail(error) []openai.ResponseStreamEvent
}) []openai.ResponseStreamEvent {
	out := []openai.ResponseStreamEvent{}
	for _, e := range in {
		evs, err := next(e)
		out = append(out, evs...)
		if err != nil {
			return append(out, s.Fail(err)...)
		}
	}
	return append(out, s.Finish()...)
}

// caseDirection is a direction whose translators read the case directory.
type caseDirection map[string]func(dir string, in []byte) (any, error)

var responsesDirections = map[string]caseDirection{
	"responses_openai": {
		"request": func(_ string, b []byte) (any, error) {
			req, err := decode[openai.ResponsesRequest](b)
			if err != nil {
				return nil, err
			}
			return translate.ResponsesToOpenAIRequest(req)
		},
		"response": func(dir string, b []byte) (any, error) {
			req, err := clientRequest(dir)
			if err != nil {
				return nil, err
			}
			resp, err := decode[openai.ChatCompletion](b)
			if err != nil {
				return nil, err
			}
			return translate.OpenAIToResponsesResponse(req, resp, rmeta)
		},
		"stream": func(dir string, b []byte) (any, error) {
			req, err := clientRequest(dir)
			if err != nil {
				return nil, err
			}
			cs, err := openAIChunks(b)
			if err != nil {
				return nil, err
			}
			s := translate.NewOpenAIToResponsesStream(req, rmeta)
			return responsesEvents(cs, s.Chunk, s), nil
		},
	},
	"responses_converse": {
		"request": func(_ string, b []byte) (any, error) {
			req, err := decode[openai.ResponsesRequest](b)
			if err != nil {
				return nil, err
			}
			return translate.ResponsesToConverseRequest(req, translate.Options{})
		},
		"response": func(dir string, b []byte) (any, error) {
			req, err := clientRequest(dir)
			if err != nil {
				return nil, err
			}
			resp, err := decode[converse.Response](b)
			if err != nil {
				return nil, err
			}
			return translate.ConverseToResponsesResponse(req, resp, rmeta)
		},
		"stream": func(dir string, b []byte) (any, error) {
			req, err := clientRequest(dir)
			if err != nil {
				return nil, err
			}
			evs, err := converseEvents(b)
			if err != nil {
				return nil, err
			}
			s := translate.NewConverseToResponsesStream(req, rmeta)
			return responsesEvents(evs, s.Event, s), nil
		},
	},
	"responses_anthropic": {
		"request": func(_ string, b []byte) (any, error) {
			req, err := decode[openai.ResponsesRequest](b)
			if err != nil {
				return nil, err
			}
			return translate.ResponsesToAnthropicRequest(req, translate.Options{})
		},
		"response": func(dir string, b []byte) (any, error) {
			req, err := clientRequest(dir)
			if err != nil {
				return nil, err
			}
			resp, err := decode[anthropic.Response](b)
			if err != nil {
				return nil, err
			}
			return translate.AnthropicToResponsesResponse(req, resp, rmeta)
		},
		"stream": func(dir string, b []byte) (any, error) {
			req, err := clientRequest(dir)
			if err != nil {
				return nil, err
			}
			evs, err := anthropicEvents(b)
			if err != nil {
				return nil, err
			}
			s := translate.NewAnthropicToResponsesStream(req, rmeta)
			return responsesEvents(evs, s.Event, s), nil
		},
	},
	"embeddings_titan": {
		"request": func(_ string, b []byte) (any, error) {
			req, err := decode[openai.EmbeddingRequest](b)
			if err != nil {
				return nil, err
			}
			return translate.EmbeddingsToTitanRequests(req)
		},
		// response.in.json: {"request": ..., "responses": [...]}
		"response": func(_ string, b []byte) (any, error) {
			in, err := decode[struct {
				Request   openai.EmbeddingRequest       `json:"request"`
				Responses []*bedrockembed.TitanResponse `json:"responses"`
			}](b)
			if err != nil {
				return nil, err
			}
			return translate.TitanToEmbeddingsResponse(&in.Request, in.Responses, translate.EmbedMeta{Model: "text-embedding-3-small"})
		},
	},
	"embeddings_titan_v1": {
		"request": func(_ string, b []byte) (any, error) {
			req, err := decode[openai.EmbeddingRequest](b)
			if err != nil {
				return nil, err
			}
			return translate.EmbeddingsToTitanV1Requests(req)
		},
	},
	"embeddings_titan_multimodal": {
		"request": func(_ string, b []byte) (any, error) {
			req, err := decode[openai.EmbeddingRequest](b)
			if err != nil {
				return nil, err
			}
			return translate.EmbeddingsToTitanMultimodalRequests(req)
		},
		// response.in.json: {"request": ..., "responses": [...]}, the
		// bodies of the seam (EmbeddingsResponse) as the model sends them.
		"response": func(_ string, b []byte) (any, error) {
			in, err := decode[struct {
				Request   openai.EmbeddingRequest `json:"request"`
				Responses []json.RawMessage       `json:"responses"`
			}](b)
			if err != nil {
				return nil, err
			}
			bodies := make([][]byte, len(in.Responses))
			for i, r := range in.Responses {
				bodies[i] = r
			}
			out, err := translate.EmbeddingsResponse(translate.TitanMultimodal, &in.Request, bodies, translate.EmbedMeta{Model: "text-embedding-3-small"})
			if err != nil {
				return nil, err
			}
			return json.RawMessage(out), nil
		},
	},
	"embeddings_cohere": {
		"request": func(_ string, b []byte) (any, error) {
			req, err := decode[openai.EmbeddingRequest](b)
			if err != nil {
				return nil, err
			}
			return translate.EmbeddingsToCohereRequest(req, translate.EmbedOptions{})
		},
		// response.in.json: {"request": ..., "response": ..., "input_tokens": n}
		"response": func(_ string, b []byte) (any, error) {
			in, err := decode[struct {
				Request     openai.EmbeddingRequest     `json:"request"`
				Response    bedrockembed.CohereResponse `json:"response"`
				InputTokens int64                       `json:"input_tokens"`
			}](b)
			if err != nil {
				return nil, err
			}
			return translate.CohereToEmbeddingsResponse(&in.Request, &in.Response, translate.EmbedMeta{Model: "embed", InputTokens: in.InputTokens})
		},
	},
}

// TestGoldenResponses runs the cases of the Responses and embeddings
// directions as TestGolden does for the Chat dialects.
func TestGoldenResponses(t *testing.T) {
	t.Parallel()
	for name, d := range responsesDirections {
		cases, _ := filepath.Glob(filepath.Join("testdata", name, "*"))
		if len(cases) == 0 {
			t.Errorf("%s: no golden cases", name)
		}
		for _, dir := range cases {
			for kind, fn := range d {
				in, err := os.ReadFile(filepath.Join(dir, kind+".in.json"))
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				t.Run(name+"/"+filepath.Base(dir)+"/"+kind, func(t *testing.T) {
					if err != nil {
						t.Fatal(err)
					}
					var got []byte
					v, err := fn(dir, in)
					if err != nil {
						got, _ = json.Marshal(map[string]string{"error": err.Error()})
					} else if got, err = encodeOut(v); err != nil {
						t.Fatalf("encode: %v", err)
					}
					outPath := filepath.Join(dir, kind+".out.json")
					if *update {
						var pretty any
						json.Unmarshal(got, &pretty)
						b, _ := json.MarshalIndent(pretty, "", "  ")
						if err := os.WriteFile(outPath, append(b, '\n'), 0o644); err != nil {
							t.Fatal(err)
						}
						return
					}
					want, err := os.ReadFile(outPath)
					if err != nil {
						t.Fatalf("read golden (run with -update): %v", err)
					}
					if eq, err := jsonx.Equivalent(want, got); err != nil || !eq {
						t.Errorf("translate %s/%s:\n got  %s\n want %s", dir, kind, got, want)
					}
				})
			}
		}
	}
}

// TestResponsesStreamInvariants checks every golden stream: sequence
// numbers count from 0 without gaps, output indices count up from 0 as
// items are added, each added item is done exactly once with the same id,
// deltas name an open item, and exactly one terminal event ends the stream.
func TestResponsesStreamInvariants(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/responses_*/*/stream.out.json")
	if len(files) == 0 {
		t.Fatal("no stream goldens")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var evs []openai.ResponseStreamEvent
		if err := json.Unmarshal(b, &evs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		open := map[string]int64{}
		next, terminal := int64(0), 0
		for i, e := range evs {
			if e.SequenceNumber != int64(i) {
				t.Errorf("%s: event %d has sequence_number %d", f, i, e.SequenceNumber)
			}
			if terminal > 0 {
				t.Errorf("%s: event %d (%s) after the terminal event", f, i, e.Type)
			}
			switch e.Type {
			case openai.EventOutputItemAdded:
				if *e.OutputIndex != next {
					t.Errorf("%s: item added at index %d, want %d", f, *e.OutputIndex, next)
				}
				open[e.Item.ID] = next
				next++
			case openai.EventOutputItemDone:
				if idx, ok := open[e.Item.ID]; !ok || idx != *e.OutputIndex {
					t.Errorf("%s: item %s done without being open at index %d", f, e.Item.ID, *e.OutputIndex)
				}
				delete(open, e.Item.ID)
			case openai.EventResponseCompleted, openai.EventResponseIncomplete, openai.EventResponseFailed:
				terminal++
				if len(open) > 0 && e.Type != openai.EventResponseFailed {
					t.Errorf("%s: response ended with items open: %v", f, open)
				}
			case openai.EventResponseCreated, openai.EventResponseInProgress, openai.EventError:
			default:
				if idx, ok := open[e.ItemID]; !ok || idx != *e.OutputIndex {
					t.Errorf("%s: %s for item %s at %v, not open", f, e.Type, e.ItemID, e.OutputIndex)
				}
			}
		}
		if terminal != 1 {
			t.Errorf("%s: %d terminal events, want 1", f, terminal)
		}
	}
}

// fnTool is a Responses function tool.
// carry encodes blocks (JSON) as Meridian carries Claude's reasoning.
func carry(blocks string) string {
	return "meridian.r1." + base64.RawURLEncoding.EncodeToString([]byte(blocks))
}

// reasoningItem is a Responses request whose input[1] is a reasoning item
// with encrypted_content enc, before a function call and its output;
// effort "" leaves reasoning off.
func reasoningItem(enc, effort string) string {
	r := ""
	if effort != "" {
		r = `,"reasoning":{"effort":"` + effort + `"}`
	}
	return `{"model":"m","max_output_tokens":4096` + r + `,"tools":[` + fnTool + `],"input":[{"role":"user","content":"a"},` +
		`{"type":"reasoning","summary":[],"encrypted_content":"` + enc + `"},` +
		`{"type":"function_call","call_id":"c","name":"get_weather","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"sun"}]}`
}

const fnTool = `{"type":"function","name":"get_weather","parameters":{"type":"object"}}`

// TestResponsesRefusals checks refusals name the Responses member, whichever
// step of the pivot refused.
func TestResponsesRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, field string
	}{
		{"previous response", `{"model":"m","input":"hi","previous_response_id":"resp_0"}`, "previous_response_id"},
		{"conversation", `{"model":"m","input":"hi","conversation":"conv_1"}`, "conversation"},
		{"background", `{"model":"m","input":"hi","background":true}`, "background"},
		{"truncation auto", `{"model":"m","input":"hi","truncation":"auto"}`, "truncation"},
		{"include logprobs", `{"model":"m","input":"hi","include":["reasoning.encrypted_content","message.output_text.logprobs"]}`, "include[1]"},
		{"item reference", `{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "input[0].type"},
		{"built-in tool", `{"model":"m","input":"hi","tools":[{"type":"web_search"}]}`, "tools[0].type"},
		{"only instructions", `{"model":"m","instructions":"x","input":[{"type":"reasoning","id":"rs","summary":[]}]}`, "input"},
		{"missing input", `{"model":"m","instructions":"x"}`, "input"},
		{"unknown member", `{"model":"m","input":"hi","x_new":1}`, "x_new"},
		{"image file id", `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_image","file_id":"file-1"}]}]}`, "input[0].content[1].file_id"},
		{"remapped effort", `{"model":"m","input":"hi","max_output_tokens":100,"reasoning":{"effort":"high"}}`, "reasoning.effort"},
		{"remapped message", `{"model":"m","input":[{"role":"user","content":"a"},{"role":"system","content":"late"}]}`, "input[1].role"},
		{"remapped tool output", `{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"a","x":1}]}]}`, "input[1].output[0].x"},
		{"remapped call", `{"model":"m","input":[{"role":"user","content":"a"},{"type":"function_call","call_id":"c","name":"f","arguments":"[1]"}]}`, "input[1].arguments"},
		{"format without schema", `{"model":"m","input":"a","text":{"format":{"type":"json_schema","name":"x"}}}`, "text.format.schema"},
		{"effort none is no reasoning", `{"model":"m","input":"a","reasoning":{"effort":"none"},"temperature":0.5,"max_output_tokens":10}`, ""},
		// tool_choice: the type is read first; allowed_tools reaches the
		// Converse translator, which has no such choice.
		{"allowed_tools on Converse", `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","name":"get_weather"}]}}`, "tool_choice.type"},
		{"allowed_tools bad mode", `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":{"type":"allowed_tools","mode":"any","tools":[{"type":"function","name":"get_weather"}]}}`, "tool_choice.mode"},
		{"allowed_tools no mode", `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":{"type":"allowed_tools","mode":null,"tools":[{"type":"function","name":"get_weather"}]}}`, "tool_choice.mode"},
		{"allowed_tools no tools", `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":{"type":"allowed_tools","mode":"auto"}}`, "tool_choice.tools"},
		{"allowed_tools hosted tool", `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"mcp","server_label":"deepwiki"}]}}`, "tool_choice.tools[0].type"},
		{"allowed_tools nameless", `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"function"}]}}`, "tool_choice.tools[0].name"},
		{"allowed_tools tool member", `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","name":"get_weather","strict":true}]}}`, "tool_choice.tools[0].strict"},
		{"allowed_tools name", `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":{"type":"allowed_tools","name":"get_weather","mode":"auto","tools":[]}}`, "tool_choice.name"},
		{"allowed_tools other member", `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":{"type":"allowed_tools","mode":"auto","tools":[],"server_label":"x"}}`, "tool_choice.server_label"},
		{"function with mode", `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":{"type":"function","name":"get_weather","mode":"auto"}}`, "tool_choice.mode"},
		{"function null member", `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":{"type":"function","name":"get_weather","mode":null}}`, ""},
		{"function nameless", `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":{"type":"function"}}`, "tool_choice.name"},
		{"mcp", `{"model":"m","input":"a","tool_choice":{"type":"mcp","server_label":"deepwiki","name":"ask"}}`, "tool_choice.type"},
		{"custom", `{"model":"m","input":"a","tool_choice":{"type":"custom","name":"grammar"}}`, "tool_choice.type"},
		{"hosted", `{"model":"m","input":"a","tool_choice":{"type":"web_search_preview"}}`, "tool_choice.type"},
		{"no type", `{"model":"m","input":"a","tool_choice":{"name":"get_weather"}}`, "tool_choice.type"},
		{"empty tool choice", `{"model":"m","input":"a","tool_choice":""}`, "tool_choice"},
		{"empty tool choice object", `{"model":"m","input":"a","tool_choice":{}}`, "tool_choice"},
		// Content with Meridian's prefix that does not decode is refused,
		// with reasoning on or off (see responses_reasoning.go).
		{"carried reasoning not base64url", reasoningItem(`meridian.r1.!!`, "low"), "input[1].encrypted_content"},
		{"carried reasoning not a list", reasoningItem(carry(`{"t":"x"}`), "low"), "input[1].encrypted_content"},
		{"carried reasoning empty", reasoningItem(carry(`[]`), "low"), "input[1].encrypted_content"},
		{"carried redacted not base64", reasoningItem(carry(`[{"r":"RED"}]`), "low"), "input[1].encrypted_content"},
		{"carried redacted and text", reasoningItem(carry(`[{"r":"UkVE","t":"x"}]`), "low"), "input[1].encrypted_content"},
		{"carried reasoning bad, reasoning off", reasoningItem(`meridian.r1.!!`, ""), "input[1].encrypted_content"},
		{"carried reasoning", reasoningItem(carry(`[{"t":"Plan.","s":"SIG"},{"r":"UkVE"}]`), "low"), ""},
		// Dropped, it leaves Claude's tool turn unsigned (thinking_tools.go).
		{"another API's encrypted content", reasoningItem(`gAAAAAB-opaque`, "low"), "reasoning.effort"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := translate.ResponsesRequest(translate.Converse, []byte(tc.body), "model", false, translate.Options{})
			if tc.field == "" {
				if err != nil {
					t.Errorf("ResponsesRequest(%s) = %v, want no error", tc.body, err)
				}
				return
			}
			if refusedField(err) != tc.field {
				t.Errorf("ResponsesRequest(%s) = %v, want refusal of %s", tc.body, err, tc.field)
			}
		})
	}
	for _, typ := range []string{"mcp", "custom", "web_search_preview", "allowed_tools"} {
		body := `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":{"type":"` + typ + `","name":"x","server_label":"s","mode":"auto","tools":[{"type":"function","name":"get_weather"}]}}`
		if typ == "allowed_tools" {
			body = strings.Replace(body, `"name":"x",`, "", 1)
			body = strings.Replace(body, `"server_label":"s",`, "", 1)
		}
		for _, d := range []translate.Dialect{translate.Converse, translate.Anthropic} {
			_, err := translate.ResponsesRequest(d, []byte(body), "model", false, translate.Options{})
			var ue *translate.UnsupportedError
			if !errors.As(err, &ue) || ue.Field != "tool_choice.type" || strings.Contains(err.Error(), "unknown member") {
				t.Errorf("%v: tool_choice of type %s: %v, want a refusal of tool_choice.type that names no unknown member", d, typ, err)
			}
		}
	}
	_, err := translate.ResponsesRequest(translate.Converse, []byte(`{"model":"m","input":"hi","previous_response_id":"r"}`), "model", false, translate.Options{})
	if err == nil || !strings.Contains(err.Error(), "does not store responses") {
		t.Errorf("previous_response_id refusal = %v, want it to say nothing is stored", err)
	}
}

// TestResponsesToolChoiceToChat: each tool_choice form the Responses API
// shares with Chat Completions reaches an OpenAI deployment in Chat's
// form: allowed_tools as {"type":"allowed_tools","allowed_tools":{"mode",
// "tools"}} with each tool as {"type":"function","function":{"name"}}.
func TestResponsesToolChoiceToChat(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, choice, want string }{
		{"mode", `"required"`, `"required"`},
		{"function", `{"type":"function","name":"get_weather"}`, `{"type":"function","function":{"name":"get_weather"}}`},
		{"allowed_tools auto", `{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","name":"get_weather"}]}`,
			`{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"get_weather"}}]}}`},
		{"allowed_tools required, null members", `{"type":"allowed_tools","mode":"required","name":null,"tools":[{"type":"function","name":"get_weather","strict":null},{"type":"function","name":"get_time"}]}`,
			`{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"get_weather"}},{"type":"function","function":{"name":"get_time"}}]}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := `{"model":"m","input":"a","tools":[` + fnTool + `],"tool_choice":` + tc.choice + `}`
			out, err := translate.ResponsesRequest(translate.OpenAI, []byte(body), "m", false, translate.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				ToolChoice json.RawMessage `json:"tool_choice"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if ok, err := jsonEquivalent(got.ToolChoice, tc.want); err != nil || !ok {
				t.Errorf("tool_choice %s, want %s", got.ToolChoice, tc.want)
			}
		})
	}
}
