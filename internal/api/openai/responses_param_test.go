package openai

import "testing"

// TestResponsesParam: a field of the translated Chat Completions body is
// named as the Responses request wrote it; other names are kept.
func TestResponsesParam(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ chat, want string }{
		{"max_completion_tokens", "max_output_tokens"},
		{"max_tokens", "max_output_tokens"},
		{"messages", "input"},
		{"messages[2].content[1]", "input"},
		{"response_format", "text.format"},
		{"response_format.json_schema", "text.format"},
		{"reasoning_effort", "reasoning.effort"},
		{"verbosity", "text.verbosity"},
		{"tools", "tools"},
		{"tool_choice", "tool_choice"},
		{"messages_extra", "messages_extra"},
		{"", ""},
	} {
		if got := responsesParam(tc.chat); got != tc.want {
			t.Errorf("responsesParam(%q) = %q, want %q", tc.chat, got, tc.want)
		}
	}
}
