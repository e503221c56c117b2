package gateway

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestAnswerText: a translated non-streaming answer's receipt covers its
// text and its tool calls' arguments as compact JSON, in order
// (docs/receipts.md, "Answer text"), so an answer that is only a tool call
// does not hash the empty text.
func TestAnswerText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		dialect inference.Dialect
		body    string
		want    string
	}{
		{"openai text", inference.DialectOpenAIChat, `{"choices":[{"message":{"role":"assistant","content":"hi"}}]}`, "hi"},
		{"openai tool call only", inference.DialectOpenAIChat,
			`{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{\"city\": \"Paris\"}"}},{"id":"c2","type":"function","function":{"name":"w","arguments":"{\"city\":\"Köln\"}"}}]}}]}`,
			`{"city":"Paris"}{"city":"Köln"}`},
		{"openai arguments not JSON", inference.DialectOpenAIChat,
			`{"choices":[{"message":{"content":"a","tool_calls":[{"function":{"arguments":"{\"city\": "}}]}}]}`, `a{"city": `},
		{"anthropic text and tool use in order", inference.DialectAnthropic,
			`{"content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"Let me check."},{"type":"tool_use","id":"t","name":"w","input":{ "city" : "Paris" , "n":[1, 2]}},{"type":"text","text":"!"}]}`,
			`Let me check.{"city":"Paris","n":[1,2]}!`},
		{"converse tool use", inference.DialectConverse,
			`{"output":{"message":{"role":"assistant","content":[{"text":"a"},{"toolUse":{"toolUseId":"t","name":"w","input":{"city": "Paris"}}}]}}}`,
			`a{"city":"Paris"}`},
		{"not JSON", inference.DialectAnthropic, `not json`, ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := &inference.Response{Dialect: tc.dialect, Body: []byte(tc.body)}
			if got := answerText(resp); got != tc.want {
				t.Errorf("answerText = %q, want %q", got, tc.want)
			}
		})
	}
	canonical := &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "plain")}
	if got := answerText(canonical); got != "plain" {
		t.Errorf("answerText of a canonical answer = %q, want %q", got, "plain")
	}
}
