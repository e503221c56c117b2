package openai

import (
	"strings"
	"testing"
)

// TestEchoedAssistantMessageReachesTheModel: through the real front end
// and gateway, a conversation whose assistant turns are earlier answers as
// openai-python's messages.append(completion.choices[0].message) sends
// them back (null refusal, audio and function_call, empty annotations,
// reasoning_content, tool calls with their stream index) is served by a
// Converse deployment, each turn's text and calls reaching the model.
func TestEchoedAssistantMessageReachesTheModel(t *testing.T) {
	t.Parallel()
	b, got := converseUpstream(t)
	srv := newServerWith(t, b)
	body := `{"model":"eu.m","messages":[{"role":"user","content":"weather?"},` +
		`{"role":"assistant","content":null,"refusal":null,"annotations":[],"audio":null,"function_call":null,"reasoning_content":"call the tool",` +
		`"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"weather","arguments":"{}"}}]},` +
		`{"role":"tool","tool_call_id":"call_1","content":"18C"},` +
		`{"role":"assistant","content":"It is 18C.","refusal":null,"annotations":[]},` +
		`{"role":"user","content":"thanks"}],` +
		`"tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object"}}}]}`
	resp, out := post(t, srv, testKey, body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %.300s", resp.StatusCode, out)
	}
	sent := string(<-got)
	for _, w := range []string{`"toolUseId":"call_1"`, `{"text":"It is 18C."}`, `"text":"thanks"`} {
		if !strings.Contains(sent, w) {
			t.Errorf("upstream received %s, lacking %s", sent, w)
		}
	}
	if strings.Contains(sent, "call the tool") {
		t.Errorf("upstream received the earlier reasoning without a signature: %s", sent)
	}
}
