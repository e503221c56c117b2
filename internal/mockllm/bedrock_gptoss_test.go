package mockllm_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestBedrockGPTOSSAlwaysReasons: OpenAI gpt-oss always reasons (medium
// by default, low at least), so the simulated gpt-oss answers a Converse
// request with reasoning whether or not it names reasoning_effort; the
// other families reason only when asked.
func TestBedrockGPTOSSAlwaysReasons(t *testing.T) {
	t.Parallel()
	url := startFeatures(t)
	const msgs = `"messages":[{"role":"user","content":[{"text":"hi"}]}]`
	for _, tc := range []struct {
		model, body string
		reasons     bool
	}{
		{"openai.gpt-oss-20b-1:0", `{` + msgs + `}`, true},
		{"openai.gpt-oss-120b-1:0", `{"additionalModelRequestFields":{"reasoning_effort":"low"},` + msgs + `}`, true},
		{"anthropic.claude-sonnet-4-5", `{` + msgs + `}`, false},
		{"mistral.mistral-large-2402-v1:0", `{` + msgs + `}`, false},
	} {
		status, _, b := invoke(t, url, tc.model, "converse", []byte(tc.body))
		if status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", tc.model, status, b)
		}
		if got := strings.Contains(string(b), `"reasoningContent"`); got != tc.reasons {
			t.Errorf("%s %s: reasoning %v, want %v: %s", tc.model, tc.body, got, tc.reasons, b)
		}
	}
}
