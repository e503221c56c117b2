package mockllm_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestBedrockThinkingToolTurn: with thinking on, Claude refuses a
// conversation that ends with tool results when the assistant turn that
// called the tools does not start with its thinking block (a
// ValidationException naming the message and the block found); the
// simulator refuses it alike, on Converse and on InvokeModel, and answers
// when the turn starts with thinking or redacted thinking, when thinking
// is off, and when the tool results are not the conversation's end.
func TestBedrockThinkingToolTurn(t *testing.T) {
	t.Parallel()
	url := startFeatures(t)
	const (
		converseOn  = `"additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":1024}},"toolConfig":{"tools":[{"toolSpec":{"name":"a","inputSchema":{"json":{"type":"object"}}}}]}`
		converseOff = `"toolConfig":{"tools":[{"toolSpec":{"name":"a","inputSchema":{"json":{"type":"object"}}}}]}`
		anthOn      = `"thinking":{"type":"enabled","budget_tokens":1024},"tools":[{"name":"a","input_schema":{"type":"object"}}]`
		anthOff     = `"tools":[{"name":"a","input_schema":{"type":"object"}}]`

		cUser     = `{"role":"user","content":[{"text":"go"}]}`
		cToolUse  = `{"toolUse":{"toolUseId":"t1","name":"a","input":{}}}`
		cThinking = `{"reasoningContent":{"reasoningText":{"text":"Plan.","signature":"SIG"}}}`
		cRedacted = `{"reasoningContent":{"redactedContent":"UkVE"}}`
		cResult   = `{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"ok"}]}}]}`

		aUser     = `{"role":"user","content":"go"}`
		aToolUse  = `{"type":"tool_use","id":"t1","name":"a","input":{}}`
		aThinking = `{"type":"thinking","thinking":"Plan.","signature":"SIG"}`
		aRedacted = `{"type":"redacted_thinking","data":"RED"}`
		aResult   = `{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}`
	)
	converse := func(members string, msgs ...string) string {
		return `{"messages":[` + strings.Join(msgs, ",") + `],` + members + `}`
	}
	anthropic := func(members string, msgs ...string) string {
		return `{"anthropic_version":"bedrock-2023-05-31","max_tokens":2048,"messages":[` + strings.Join(msgs, ",") + `],` + members + `}`
	}
	cTurn := func(blocks ...string) string {
		return `{"role":"assistant","content":[` + strings.Join(blocks, ",") + `]}`
	}
	aTurn := func(blocks ...string) string {
		return `{"role":"assistant","content":[` + strings.Join(blocks, ",") + `]}`
	}
	tests := []struct {
		name, op, body string
		refused        string // what the refusal says; "" for an answer
	}{
		{"converse tool turn without thinking", "converse", converse(converseOn, cUser, cTurn(cToolUse), cResult),
			"messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block"},
		{"converse text then tool use", "converse-stream", converse(converseOn, cUser, cTurn(`{"text":"Let me look."}`, cToolUse), cResult),
			"messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `text`."},
		{"converse thinking first", "converse", converse(converseOn, cUser, cTurn(cThinking, cToolUse), cResult), ""},
		{"converse redacted thinking first", "converse-stream", converse(converseOn, cUser, cTurn(cRedacted, cThinking, cToolUse), cResult), ""},
		{"converse thinking off", "converse", converse(converseOff, cUser, cTurn(cToolUse), cResult), ""},
		{"converse earlier tool turn", "converse", converse(converseOn, cUser, cTurn(cToolUse), cResult, cTurn(`{"text":"Done."}`), cUser), ""},
		{"anthropic tool turn without thinking", "invoke", anthropic(anthOn, aUser, aTurn(aToolUse), aResult),
			"messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`."},
		{"anthropic thinking first", "invoke-with-response-stream", anthropic(anthOn, aUser, aTurn(aThinking, aToolUse), aResult), ""},
		{"anthropic redacted thinking first", "invoke", anthropic(anthOn, aUser, aTurn(aRedacted, aToolUse), aResult), ""},
		{"anthropic thinking off", "invoke", anthropic(anthOff, aUser, aTurn(aToolUse), aResult), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, h, b := invoke(t, url, "anthropic.claude-sonnet-4-5", tc.op, []byte(tc.body))
			if tc.refused == "" {
				if status != http.StatusOK {
					t.Fatalf("status %d: %s, want an answer", status, b)
				}
				return
			}
			var e struct{ Message string }
			json.Unmarshal(b, &e)
			if status != http.StatusBadRequest || h.Get("X-Amzn-Errortype") != "ValidationException" || !strings.Contains(e.Message, tc.refused) {
				t.Errorf("status %d, %s %s; want 400, ValidationException saying %q", status, h.Get("X-Amzn-Errortype"), b, tc.refused)
			}
		})
	}
}
