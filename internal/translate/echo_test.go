package translate_test

import (
	"errors"
	"strings"
	"testing"

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
