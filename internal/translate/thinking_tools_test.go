package translate_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestUnsignedToolTurnRefused: a Chat Completions tool loop with
// reasoning_effort on, toward Claude (Anthropic, or Converse with a Claude
// model), whose last assistant turn called a tool without Claude's signed
// reasoning carried back, is refused naming reasoning_effort and saying
// what works, before Bedrock would refuse it with its own words. Without
// reasoning, with the reasoning carried, when the last assistant turn
// called no tool, or toward a model that is not Claude, it is sent.
func TestUnsignedToolTurnRefused(t *testing.T) {
	t.Parallel()
	carried := "meridian.r1." + base64.RawURLEncoding.EncodeToString([]byte(`[{"t":"Plan.","s":"SIG"}]`))
	call := `{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}`
	result := `{"role":"tool","tool_call_id":"c1","content":"21C"}`
	body := func(effort string, msgs ...string) []byte {
		e := ""
		if effort != "" {
			e = `"reasoning_effort":` + effort + `,`
		}
		return []byte(`{"model":"m","max_completion_tokens":4000,` + e + `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],` +
			`"messages":[` + strings.Join(append([]string{`{"role":"user","content":"Weather?"}`}, msgs...), ",") + `]}`)
	}
	claude := translate.Options{Family: translate.BedrockFamily("anthropic.claude-sonnet-4-5-20250929-v1:0")}
	nova := translate.Options{Family: translate.BedrockFamily("amazon.nova-2-lite-v1:0")}
	tests := []struct {
		name    string
		body    []byte
		opts    translate.Options
		refused bool
	}{
		{"tool loop with reasoning", body(`"low"`, call, result), claude, true},
		{"reasoning_content of a client", body(`"low"`, strings.Replace(call, `"content":null`, `"content":null,"reasoning_content":"I think."`, 1), result), claude, true},
		{"reasoning carried", body(`"low"`, strings.Replace(call, `"content":null`, `"content":null,"reasoning_content":"`+carried+`"`, 1), result), claude, false},
		{"no reasoning", body(``, call, result), claude, false},
		{"reasoning none", body(`"none"`, call, result), claude, false},
		{"last turn called no tool", body(`"low"`, call, result, `{"role":"assistant","content":"It is 21C."}`, `{"role":"user","content":"Thanks"}`), claude, false},
		{"first turn", body(`"low"`), claude, false},
	}
	for _, tc := range tests {
		for _, d := range []translate.Dialect{translate.Converse, translate.Anthropic} {
			t.Run(tc.name+"/"+d.String(), func(t *testing.T) {
				out, err := translate.Request(translate.OpenAI, d, tc.body, "m", false, tc.opts)
				var ue *translate.UnsupportedError
				switch {
				case tc.refused && (!errors.As(err, &ue) || ue.Field != "reasoning_effort" || !strings.Contains(ue.Reason, `include ["reasoning.encrypted_content"]`)):
					t.Fatalf("Request = %s, %v; want a refusal of reasoning_effort saying what works", out, err)
				case !tc.refused && err != nil:
					t.Fatalf("Request: %v", err)
				}
			})
		}
	}
	// A model that is not Claude takes tool turns without reasoning back.
	if _, err := translate.Request(translate.OpenAI, translate.Converse, body(`"low"`, call, result), "m", false, nova); err != nil {
		t.Errorf("Nova 2: %v", err)
	}
}

// TestUnsignedToolTurnWording: the refusal of an unsigned tool turn is
// made where the Chat Completions body is translated, for Chat Completions
// and Responses clients alike (the Responses front end routes a Chat
// Completions body, and renames the field), so its reason names no one
// API's field and does not tell a Responses client to use the Responses
// API; it still says what works. Through the Responses translators the
// field is the Responses one.
func TestUnsignedToolTurnWording(t *testing.T) {
	t.Parallel()
	chat := []byte(`{"model":"m","max_completion_tokens":4000,"reasoning_effort":"low","tools":[{"type":"function","function":{"name":"w","parameters":{"type":"object"}}}],` +
		`"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"21C"}]}`)
	resp, err := translate.DecodeResponsesRequest([]byte(`{"model":"m","max_output_tokens":4000,"reasoning":{"effort":"low"},"tools":[{"type":"function","name":"w","parameters":{"type":"object"}}],` +
		`"input":[{"role":"user","content":"Weather?"},{"type":"function_call","call_id":"c1","name":"w","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"21C"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	claude := translate.Options{Family: translate.BedrockFamily("anthropic.claude-sonnet-4-5-20250929-v1:0")}
	for _, tc := range []struct {
		name, field string
		err         func() error
	}{
		{"chat/anthropic", "reasoning_effort", func() error {
			_, err := translate.Request(translate.OpenAI, translate.Anthropic, chat, "m", false, claude)
			return err
		}},
		{"chat/converse", "reasoning_effort", func() error {
			_, err := translate.Request(translate.OpenAI, translate.Converse, chat, "m", false, claude)
			return err
		}},
		{"responses/anthropic", "reasoning.effort", func() error { _, err := translate.ResponsesToAnthropicRequest(resp, claude); return err }},
		{"responses/converse", "reasoning.effort", func() error { _, err := translate.ResponsesToConverseRequest(resp, claude); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ue *translate.UnsupportedError
			if err := tc.err(); !errors.As(err, &ue) || ue.Field != tc.field {
				t.Fatalf("err %v, want a refusal of %s", err, tc.field)
			}
			for _, bad := range []string{"use the Responses API", "reasoning_effort", "reasoning.effort"} {
				if strings.Contains(ue.Reason, bad) {
					t.Errorf("reason %q says %q", ue.Reason, bad)
				}
			}
			if !strings.Contains(ue.Reason, `include ["reasoning.encrypted_content"]`) || !strings.Contains(ue.Reason, "turn reasoning off") {
				t.Errorf("reason %q does not say what works", ue.Reason)
			}
		})
	}
}
