package translate_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestEchoedTurns checks that what a client sends back of an earlier
// answer (the assistant turn as its SDK rebuilt it) is accepted and its
// text reaches the model, and that null members count as absent.
func TestEchoedTurns(t *testing.T) {
	t.Parallel()
	O, C, A := translate.OpenAI, translate.Converse, translate.Anthropic
	const oaU = `{"role":"user","content":"hi"}`
	const anU = `{"role":"user","content":"hi"}`
	const cvU = `{"role":"user","content":[{"text":"hi"}]}`
	const cite = `{"type":"char_location","cited_text":"src","document_index":0,"document_title":"t","start_char_index":0,"end_char_index":3}`
	tests := []struct {
		name            string
		client, backend translate.Dialect
		body            string
		field           string   // refused member; "" when accepted
		want            []string // substrings of the translated body
	}{
		// Anthropic text with citations on an assistant turn.
		{"anthropic cited text to converse", A, C, `{"max_tokens":10,"messages":[` + anU + `,{"role":"assistant","content":[{"type":"text","text":"answer","citations":[` + cite + `]}]},` + anU + `]}`, "",
			[]string{`"citationsContent":{"content":[{"text":"answer"}],"citations":[{"title":"t","sourceContent":[{"text":"src"}],"location":{"documentChar":{"documentIndex":0,"start":0,"end":3}}}]}`}},
		{"anthropic cited page to converse", A, C, `{"max_tokens":10,"messages":[` + anU + `,{"role":"assistant","content":[{"type":"text","text":"a","citations":[{"type":"page_location","cited_text":"s","document_index":1,"document_title":null,"start_page_number":1,"end_page_number":2}]}]},` + anU + `]}`, "",
			[]string{`"location":{"documentPage":{"documentIndex":1,"start":1,"end":2}}`}},
		{"anthropic cited search result to converse", A, C, `{"max_tokens":10,"messages":[` + anU + `,{"role":"assistant","content":[{"type":"text","text":"a","citations":[{"type":"search_result_location","cited_text":"s","source":"https://x","title":"X","search_result_index":0,"start_block_index":0,"end_block_index":1}]}]},` + anU + `]}`, "",
			[]string{`"title":"X","source":"https://x"`, `"searchResultLocation":{"searchResultIndex":0,"start":0,"end":1}`}},
		{"anthropic cited web to converse", A, C, `{"max_tokens":10,"messages":[` + anU + `,{"role":"assistant","content":[{"type":"text","text":"a","citations":[{"type":"web_search_result_location","cited_text":"s","url":"https://x","title":"X","encrypted_index":"e"}]}]},` + anU + `]}`, "messages[1].content[0].citations[0].type", nil},
		{"anthropic cited unknown member", A, C, `{"max_tokens":10,"messages":[` + anU + `,{"role":"assistant","content":[{"type":"text","text":"a","citations":[{"type":"char_location","cited_text":"s","document_index":0,"start_char_index":0,"end_char_index":1,"x_new":1}]}]},` + anU + `]}`, "messages[1].content[0].citations[0].x_new", nil},
		{"anthropic cited null file_id", A, C, `{"max_tokens":10,"messages":[` + anU + `,{"role":"assistant","content":[{"type":"text","text":"a","citations":[{"type":"char_location","cited_text":"s","document_index":0,"start_char_index":0,"end_char_index":1,"file_id":null}]}]},` + anU + `]}`, "", []string{`"documentChar"`}},
		{"anthropic cited user turn", A, C, `{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"a","citations":[` + cite + `]}]}]}`, "messages[0].content[0].citations", nil},
		{"anthropic cited text to openai", A, O, `{"max_tokens":10,"messages":[` + anU + `,{"role":"assistant","content":[{"type":"text","text":"answer","citations":[` + cite + `]}]},` + anU + `]}`, "",
			[]string{`{"role":"assistant","content":"answer"}`}},
		{"anthropic cited tool result to converse", A, C, `{"max_tokens":10,"messages":[` + anU + `,{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r","citations":[` + cite + `]}]}]}]}`, "messages[2].content[0].content[0].citations", nil},
		// Converse citationsContent on an assistant turn.
		{"converse cited text to anthropic", C, A, `{"messages":[` + cvU + `,{"role":"assistant","content":[{"citationsContent":{"content":[{"text":"answer"}],"citations":[{"title":"t","sourceContent":[{"text":"src"}],"location":{"documentChar":{"documentIndex":0,"start":0,"end":3}}}]}}]},` + cvU + `]}`, "",
			[]string{`{"type":"text","text":"answer","citations":[{"type":"char_location","cited_text":"src","document_index":0,"document_title":"t","start_char_index":0,"end_char_index":3}]}`}},
		{"converse cited text to openai", C, O, `{"messages":[` + cvU + `,{"role":"assistant","content":[{"citationsContent":{"content":[{"text":"answer"}],"citations":[{"sourceContent":[{"text":"src"}],"location":{"documentChar":{"documentIndex":0,"start":0,"end":3}}}]}}]},` + cvU + `]}`, "",
			[]string{`{"role":"assistant","content":"answer"}`}},
		{"converse cited unknown member", C, A, `{"messages":[` + cvU + `,{"role":"assistant","content":[{"citationsContent":{"content":[{"text":"a"}],"citations":[{"x_new":1,"location":{"documentChar":{"documentIndex":0,"start":0,"end":3}}}]}}]},` + cvU + `]}`, "messages[1].content[0].citationsContent", nil},
		{"converse cited user turn", C, A, `{"messages":[{"role":"user","content":[{"citationsContent":{"content":[{"text":"a"}],"citations":[]}}]}]}`, "messages[0].content[0].citationsContent", nil},
		{"converse cited user turn openai", C, O, `{"messages":[{"role":"user","content":[{"citationsContent":{"content":[{"text":"a"}],"citations":[]}}]}]}`, "messages[0].content[0].citationsContent", nil},
		// Reasoning of earlier turns towards OpenAI.
		{"anthropic thinking echo to openai", A, O, `{"max_tokens":10,"messages":[` + anU + `,{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"redacted_thinking","data":"aGk="},{"type":"tool_use","id":"t1","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"r"}]}]}`, "",
			[]string{`"tool_calls":[{"id":"t1"`}},
		{"anthropic thinking on a user turn", A, O, `{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"thinking","thinking":"t","signature":"s"}]}]}`, "messages[0].content[0].type", nil},
		{"converse reasoning echo to openai", C, O, `{"messages":[` + cvU + `,{"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"t","signature":"s"}}},{"text":"x"}]},` + cvU + `]}`, "",
			[]string{`{"role":"assistant","content":"x"}`}},
		// Null union members are absent.
		{"converse null union members", C, O, `{"messages":[{"role":"user","content":[{"text":"hi","guardContent":null,"citationsContent":null,"searchResult":null,"audio":null,"toolAddition":null,"toolRemoval":null}]}]}`, "", []string{`"content":"hi"`}},
		{"converse null tool result members", C, A, `{"messages":[` + cvU + `,{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"f","input":{}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[{"text":"r","json":null,"searchResult":null}]}}]}]}`, "", []string{`"tool_result"`}},
		{"converse null source content", C, A, `{"messages":[{"role":"user","content":[{"document":{"format":"txt","name":"d","source":{"text":"x","content":null}}},{"text":"hi"}]}]}`, "", []string{`"document"`}},
		{"openai allowed_tools null", O, C, `{"model":"m","messages":[` + oaU + `],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"},"allowed_tools":null}}`, "", []string{`"tool":{"name":"f"}`}},
		{"openai allowed_tools null anthropic", O, A, `{"model":"m","messages":[` + oaU + `],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"},"allowed_tools":null}}`, "", []string{`"tool_choice":{"type":"tool","name":"f"}`}},
		// OpenAI assistant messages as openai-python appends them.
		{"openai tool_calls index", O, C, `{"model":"m","messages":[` + oaU + `,{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}]}`, "", []string{`"toolUseId":"c"`}},
		{"openai tool_calls index anthropic", O, A, `{"model":"m","messages":[` + oaU + `,{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}]}`, "", []string{`"tool_use_id":"c"`}},
		{"openai sdk echo", O, C, `{"model":"m","messages":[` + oaU + `,{"role":"assistant","content":"x","refusal":null,"annotations":[],"audio":null,"function_call":null,"tool_calls":null},` + oaU + `]}`, "", []string{`{"text":"x"}`}},
		{"openai sdk echo anthropic", O, A, `{"model":"m","messages":[` + oaU + `,{"role":"assistant","content":"x","refusal":null,"annotations":[],"audio":null,"function_call":null},` + oaU + `]}`, "", []string{`"text":"x"`}},
		{"openai echo annotations", O, C, `{"model":"m","messages":[` + oaU + `,{"role":"assistant","content":"x","annotations":[{"type":"url_citation","url_citation":{"url":"u","title":"t","start_index":0,"end_index":1}}]},` + oaU + `]}`, "", []string{`{"text":"x"}`}},
		{"openai echo refusal", O, A, `{"model":"m","messages":[` + oaU + `,{"role":"assistant","content":null,"refusal":"I cannot help with that."},` + oaU + `]}`, "", []string{`"text":"I cannot help with that."`}},
		{"openai user refusal", O, A, `{"model":"m","messages":[{"role":"user","content":"hi","refusal":"r"}]}`, "messages[0].refusal", nil},
		{"openai echo audio id", O, C, `{"model":"m","messages":[` + oaU + `,{"role":"assistant","content":"x","audio":{"id":"a"}},` + oaU + `]}`, "messages[1].audio", nil},
		{"openai echo function_call", O, C, `{"model":"m","messages":[` + oaU + `,{"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{}"}},` + oaU + `]}`, "messages[1].function_call", nil},
		{"openai echo reasoning_content converse", O, C, `{"model":"m","messages":[` + oaU + `,{"role":"assistant","content":"x","reasoning_content":"thought"},` + oaU + `]}`, "", []string{`{"text":"x"}`}},
		{"openai echo reasoning_content anthropic", O, A, `{"model":"m","messages":[` + oaU + `,{"role":"assistant","content":"x","reasoning_content":"thought"},` + oaU + `]}`, "", []string{`"text":"x"`}},
		{"openai user reasoning_content", O, A, `{"model":"m","messages":[{"role":"user","content":"hi","reasoning_content":"t"}]}`, "messages[0].reasoning_content", nil},
		// Output metadata of earlier answers.
		{"anthropic tool_use caller", A, C, `{"max_tokens":10,"messages":[` + anU + `,{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{},"caller":{"type":"direct"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"r"}]}]}`, "", []string{`"toolUseId":"t"`}},
		{"anthropic tool_use caller openai", A, O, `{"max_tokens":10,"messages":[` + anU + `,{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{},"caller":{"type":"direct"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"r"}]}]}`, "", []string{`"tool_call_id":"t"`}},
		{"anthropic tool_use code caller", A, C, `{"max_tokens":10,"messages":[` + anU + `,{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{},"caller":{"type":"code_execution_20250825","tool_id":"srv"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"r"}]}]}`, "messages[1].content[0].caller", nil},
		{"anthropic caller on a text block", A, C, `{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"x","caller":{"type":"direct"}}]}]}`, "messages[0].content[0].caller", nil},
		{"anthropic caller on a text block openai", A, O, `{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"x","caller":{"type":"direct"}}]}]}`, "messages[0].content[0].caller", nil},
		{"converse toolUse server type", C, A, `{"messages":[` + cvU + `,{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"f","input":{},"type":"server_tool_use"}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[{"text":"r"}]}}]}]}`, "messages[1].content[0].toolUse.type", nil},
		{"converse toolUse server type openai", C, O, `{"messages":[` + cvU + `,{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"f","input":{},"type":"server_tool_use"}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[{"text":"r"}]}}]}]}`, "messages[1].content[0].toolUse.type", nil},
		// Schema nits.
		{"schema description null", O, A, `{"model":"m","messages":[` + oaU + `],"response_format":{"type":"json_schema","json_schema":{"name":"p","description":"d","schema":{"type":"object","description":null}}}}`, "", []string{`"description":"d"`}},
		{"schema true with description", O, A, `{"model":"m","messages":[` + oaU + `],"response_format":{"type":"json_schema","json_schema":{"name":"p","description":"d","schema":true}}}`, "", []string{`"schema":{"description":"d"}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := translate.Request(tc.client, tc.backend, []byte(tc.body), "mdl", false, translate.Options{})
			if tc.field != "" {
				var ue *translate.UnsupportedError
				if !errors.As(err, &ue) || ue.Field != tc.field {
					t.Fatalf("Request = %v, want a refusal of %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("Request =\n %s\nwant it to contain %s", out, w)
				}
			}
		})
	}
}

// TestCitationRoundTrip checks that a Converse answer with citations,
// shown to a Messages client as text with citations and sent back as the
// assistant turn (what the Anthropic SDKs do), is accepted and reaches a
// Converse model as the citationsContent block it came as, and an OpenAI
// model as its text.
func TestCitationRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, citations string }{
		{"char", `{"title":"Doc","sourceContent":[{"text":"cited"}],"location":{"documentChar":{"documentIndex":0,"start":3,"end":8}}}`},
		{"page", `{"title":"Doc","sourceContent":[{"text":"cited"}],"location":{"documentPage":{"documentIndex":1,"start":2,"end":3}}}`},
		{"chunk", `{"sourceContent":[{"text":"cited"}],"location":{"documentChunk":{"documentIndex":0,"start":0,"end":1}}}`},
		{"search result", `{"title":"R","source":"https://example.com","sourceContent":[{"text":"cited"}],"location":{"searchResultLocation":{"searchResultIndex":2,"start":0,"end":1}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			block := `{"content":[{"text":"The answer."}],"citations":[` + tc.citations + `]}`
			answer := `{"output":{"message":{"role":"assistant","content":[{"citationsContent":` + block + `}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}}`
			shown, err := translate.Response(translate.Converse, translate.Anthropic, []byte(answer), translate.ResponseMeta{ID: "msg", Model: "m"})
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			var msg struct {
				Content json.RawMessage `json:"content"`
			}
			if err := json.Unmarshal(shown, &msg); err != nil {
				t.Fatal(err)
			}
			next := `{"max_tokens":10,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":` + string(msg.Content) + `},{"role":"user","content":"more"}]}`
			out, err := translate.Request(translate.Anthropic, translate.Converse, []byte(next), "mdl", false, translate.Options{})
			if err != nil {
				t.Fatalf("Request(anthropic, converse) of the echoed answer %s: %v", msg.Content, err)
			}
			var req struct {
				Messages []struct {
					Content []struct {
						CitationsContent json.RawMessage `json:"citationsContent"`
					} `json:"content"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(out, &req); err != nil || len(req.Messages) != 3 || len(req.Messages[1].Content) != 1 {
				t.Fatalf("Request(anthropic, converse) = %s (%v)", out, err)
			}
			if eq, _ := jsonx.Equivalent([]byte(block), req.Messages[1].Content[0].CitationsContent); !eq {
				t.Errorf("echoed citationsContent = %s, want %s", req.Messages[1].Content[0].CitationsContent, block)
			}
			out, err = translate.Request(translate.Anthropic, translate.OpenAI, []byte(next), "mdl", false, translate.Options{})
			if err != nil {
				t.Fatalf("Request(anthropic, openai): %v", err)
			}
			if !strings.Contains(string(out), `{"role":"assistant","content":"The answer."}`) {
				t.Errorf("Request(anthropic, openai) = %s, want the answer's text as the assistant turn", out)
			}
		})
	}
}

// TestResponsesEchoedPhase checks that the phase OpenAI puts on an
// assistant message item (commentary or final_answer), sent back with the
// item, is accepted, and refused where no answer has one.
func TestResponsesEchoedPhase(t *testing.T) {
	t.Parallel()
	base := `{"model":"m","input":[{"role":"user","content":"hi"},`
	tests := []struct{ name, body, field string }{
		{"final answer", base + `{"type":"message","id":"msg_1","status":"completed","role":"assistant","phase":"final_answer","content":[{"type":"output_text","text":"x","annotations":[]}]},{"role":"user","content":"more"}]}`, ""},
		{"commentary", base + `{"type":"message","role":"assistant","phase":"commentary","content":[{"type":"output_text","text":"x"}]},{"role":"user","content":"more"}]}`, ""},
		{"null", base + `{"type":"message","role":"assistant","phase":null,"content":[{"type":"output_text","text":"x"}]},{"role":"user","content":"more"}]}`, ""},
		{"on a user item", `{"model":"m","input":[{"type":"message","role":"user","phase":"commentary","content":"hi"}]}`, "input[0].phase"},
		{"unknown value", base + `{"type":"message","role":"assistant","phase":"plan","content":[{"type":"output_text","text":"x"}]},{"role":"user","content":"more"}]}`, "input[1].phase"},
	}
	for _, tc := range tests {
		for _, b := range []translate.Dialect{translate.OpenAI, translate.Converse, translate.Anthropic} {
			out, err := translate.ResponsesRequest(b, []byte(tc.body), "mdl", false, translate.Options{})
			if tc.field != "" {
				var ue *translate.UnsupportedError
				if !errors.As(err, &ue) || ue.Field != tc.field {
					t.Errorf("%s to %v: ResponsesRequest = %v, want a refusal of %s", tc.name, b, err, tc.field)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s to %v: ResponsesRequest: %v", tc.name, b, err)
			} else if !strings.Contains(string(out), `"x"`) {
				t.Errorf("%s to %v: ResponsesRequest = %s, want the assistant's text", tc.name, b, out)
			}
		}
	}
}

// TestRefusalsSayWhy checks that refusals of a message's role or of a
// block the target has no form for give a reason besides the path.
func TestRefusalsSayWhy(t *testing.T) {
	t.Parallel()
	O, C, A := translate.OpenAI, translate.Converse, translate.Anthropic
	tests := []struct {
		client, backend translate.Dialect
		body, field     string
	}{
		{C, A, `{"messages":[{"role":"user","content":[{"video":{"format":"mp4","source":{"bytes":"aGk="}}}]}]}`, "messages[0].content[0].video"},
		{C, A, `{"messages":[{"role":"user","content":[{"guardContent":{"text":{"text":"x"}}}]}]}`, "messages[0].content[0].guardContent"},
		{C, A, `{"messages":[{"role":"system","content":[{"text":"x"}]}]}`, "messages[0].role"},
		{C, O, `{"messages":[{"role":"system","content":[{"text":"x"}]}]}`, "messages[0].role"},
		{A, C, `{"max_tokens":5,"messages":[{"role":"system","content":"x"}]}`, "messages[0].role"},
		{A, C, `{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"persistent"}}]}]}`, "messages[0].content[0].cache_control.type"},
		{O, A, `{"model":"m","messages":[{"role":"robot","content":"x"}]}`, "messages[0].role"},
		{O, C, `{"model":"m","messages":[{"role":"user","content":"x","name":"n"}]}`, "messages[0].name"},
	}
	for _, tc := range tests {
		_, err := translate.Request(tc.client, tc.backend, []byte(tc.body), "mdl", false, translate.Options{})
		var ue *translate.UnsupportedError
		if !errors.As(err, &ue) || ue.Field != tc.field || ue.Reason == "" {
			t.Errorf("Request(%v, %v, %s) = %v, want a refusal of %s with a reason", tc.client, tc.backend, tc.body, err, tc.field)
		}
	}
}
