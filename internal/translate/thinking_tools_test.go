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
