package translate_test

import (
	"errors"
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestInvalidValuesAreTheClients: a value the client's API does not define
// (an enum outside its schema, an empty effort, a union with no member) is
// an *InvalidError, the client's mistake that no destination takes, for
// every target; a value the client's API defines but the target cannot
// express stays an *UnsupportedError, which another destination may carry.
func TestInvalidValuesAreTheClients(t *testing.T) {
	t.Parallel()
	const (
		oaMsgs   = `"messages":[{"role":"user","content":"x"}]`
		oaTools  = `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]`
		anMsgs   = `"max_tokens":100,"messages":[{"role":"user","content":"x"}]`
		anTools  = `"tools":[{"name":"f","input_schema":{"type":"object"}}]`
		cvMsgs   = `"messages":[{"role":"user","content":[{"text":"x"}]}]`
		cvTools  = `"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}}]`
		invalid  = true
		unsuppor = false
	)
	all := func(c translate.Dialect) []translate.Dialect {
		var out []translate.Dialect
		for _, d := range []translate.Dialect{translate.OpenAI, translate.Converse, translate.Anthropic} {
			if d != c {
				out = append(out, d)
			}
		}
		return out
	}
	cases := []struct {
		name    string
		client  translate.Dialect
		body    string
		field   string
		invalid bool
	}{
		{"reasoning_effort bogus", translate.OpenAI, `{` + oaMsgs + `,"reasoning_effort":"bogus"}`, "reasoning_effort", invalid},
		{"reasoning_effort empty", translate.OpenAI, `{` + oaMsgs + `,"reasoning_effort":""}`, "reasoning_effort", invalid},
		{"reasoning_effort empty, escaped key", translate.OpenAI, `{` + oaMsgs + `,"reasoning\u005feffort":""}`, "reasoning_effort", invalid},
		{"reasoning_effort other case", translate.OpenAI, `{` + oaMsgs + `,"reasoning_effort":"High"}`, "reasoning_effort", invalid},
		{"reasoning_effort xhigh", translate.OpenAI, `{` + oaMsgs + `,"reasoning_effort":"xhigh"}`, "reasoning_effort", unsuppor},
		{"tool_choice mode bogus", translate.OpenAI, `{` + oaMsgs + `,` + oaTools + `,"tool_choice":"bogus"}`, "tool_choice", invalid},
		{"tool_choice type bogus", translate.OpenAI, `{` + oaMsgs + `,` + oaTools + `,"tool_choice":{"type":"bogus"}}`, "tool_choice.type", invalid},
		{"tool_choice function unnamed", translate.OpenAI, `{` + oaMsgs + `,` + oaTools + `,"tool_choice":{"type":"function"}}`, "tool_choice.function.name", invalid},
		{"tool_choice custom", translate.OpenAI, `{` + oaMsgs + `,` + oaTools + `,"tool_choice":{"type":"custom","custom":{"name":"f"}}}`, "tool_choice", unsuppor},
		{"thinking type bogus", translate.Anthropic, `{` + anMsgs + `,"thinking":{"type":"bogus"}}`, "thinking.type", invalid},
		{"thinking type missing", translate.Anthropic, `{` + anMsgs + `,"thinking":{"budget_tokens":2048}}`, "thinking.type", invalid},
		{"anthropic tool_choice bogus", translate.Anthropic, `{` + anMsgs + `,` + anTools + `,"tool_choice":{"type":"bogus"}}`, "tool_choice.type", invalid},
		{"anthropic tool_choice tool unnamed", translate.Anthropic, `{` + anMsgs + `,` + anTools + `,"tool_choice":{"type":"tool"}}`, "tool_choice.name", invalid},
		{"converse thinking type bogus", translate.Converse, `{` + cvMsgs + `,"additionalModelRequestFields":{"thinking":{"type":"bogus"}}}`, "additionalModelRequestFields.thinking.type", invalid},
		{"converse reasoning_effort bogus", translate.Converse, `{` + cvMsgs + `,"additionalModelRequestFields":{"reasoning_effort":"bogus"}}`, "additionalModelRequestFields.reasoning_effort", invalid},
		{"converse tool choice empty", translate.Converse, `{` + cvMsgs + `,` + cvTools + `,"toolChoice":{}}}`, "toolConfig.toolChoice", invalid},
		{"converse tool choice without a name", translate.Converse, `{` + cvMsgs + `,` + cvTools + `,"toolChoice":{"tool":{}}}}`, "toolConfig.toolChoice.tool.name", invalid},
		{"converse tool choice with an empty name", translate.Converse, `{` + cvMsgs + `,` + cvTools + `,"toolChoice":{"tool":{"name":""}}}}`, "toolConfig.toolChoice.tool.name", invalid},
		{"converse tool choice two members", translate.Converse, `{` + cvMsgs + `,` + cvTools + `,"toolChoice":{"auto":{},"any":{}}}}`, "toolConfig.toolChoice.any", invalid},
	}
	for _, tc := range cases {
		for _, target := range all(tc.client) {
			t.Run(tc.name+"/"+target.String(), func(t *testing.T) {
				t.Parallel()
				_, err := translate.Request(tc.client, target, []byte(tc.body), "m", false, translate.Options{})
				var ie *translate.InvalidError
				var ue *translate.UnsupportedError
				switch {
				case tc.invalid && (!errors.As(err, &ie) || ie.Field != tc.field):
					t.Fatalf("Request = %v; want an InvalidError naming %s", err, tc.field)
				case !tc.invalid && errors.As(err, &ie):
					t.Fatalf("Request = %v; want an UnsupportedError (a valid value another destination may carry), not the client's mistake", err)
				case !tc.invalid && (!errors.As(err, &ue) || ue.Field != tc.field):
					t.Fatalf("Request = %v; want an UnsupportedError naming %s", err, tc.field)
				}
			})
		}
	}
}

// TestInvalidResponsesEffort: the Responses API's reasoning.effort is
// checked as Chat Completions' reasoning_effort, at the door, an empty
// string included (which the typed decode would read as absent and serve
// without reasoning).
func TestInvalidResponsesEffort(t *testing.T) {
	t.Parallel()
	for _, effort := range []string{`"bogus"`, `""`, `"\u0022"`} {
		body := `{"model":"m","input":"hi","reasoning":{"effort":` + effort + `}}`
		_, _, err := translate.ResponsesChatRequest([]byte(body), "m", false)
		var ie *translate.InvalidError
		if !errors.As(err, &ie) || ie.Field != "reasoning.effort" {
			t.Errorf("ResponsesChatRequest(effort %s) = %v; want an InvalidError naming reasoning.effort", effort, err)
		}
	}
	if _, _, err := translate.ResponsesChatRequest([]byte(`{"model":"m","input":"hi","reasoning":{"effort":"low"}}`), "m", false); err != nil {
		t.Errorf("ResponsesChatRequest(effort low) = %v; want a translation", err)
	}
}

// refusedField returns the member a translation refused, as an
// *UnsupportedError (this target cannot express it) or an *InvalidError
// (the client's API does not define it), or "".
func refusedField(err error) string {
	var ue *translate.UnsupportedError
	var ie *translate.InvalidError
	switch {
	case errors.As(err, &ue):
		return ue.Field
	case errors.As(err, &ie):
		return ie.Field
	}
	return ""
}
