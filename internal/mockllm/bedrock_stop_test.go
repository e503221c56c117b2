package mockllm_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// TestBedrockStopSequences: the Bedrock face honours the stop sequences of
// Converse (inferenceConfig.stopSequences) and of Anthropic bodies
// (stop_sequences) as the chat face honours stop: the answer ends before
// the first one, with stop reason stop_sequence (Anthropic also names it
// in stop_sequence).
func TestBedrockStopSequences(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{CompletionTokens: 12})
	call := func(path, body string) map[string]any {
		t.Helper()
		resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return out
	}
	tests := []struct {
		name, path, body, stopMember string
		text                         func(map[string]any) string
		stopReason, stopSequence     string
	}{
		{name: "Converse", path: "/model/amazon.nova-pro-v1:0/converse",
			body:       `{"messages":[{"role":"user","content":[{"text":"Count to twelve."}]}]%s}`,
			stopMember: `,"inferenceConfig":{"stopSequences":[%q]}`,
			text: func(out map[string]any) string {
				return out["output"].(map[string]any)["message"].(map[string]any)["content"].([]any)[0].(map[string]any)["text"].(string)
			},
			stopReason: "stopReason"},
		{name: "Anthropic", path: "/model/anthropic.claude-sonnet-4-5/invoke",
			body:       `{"anthropic_version":"bedrock-2023-05-31","max_tokens":100%s,"messages":[{"role":"user","content":[{"type":"text","text":"Count to twelve."}]}]}`,
			stopMember: `,"stop_sequences":[%q]`,
			text: func(out map[string]any) string {
				return out["content"].([]any)[0].(map[string]any)["text"].(string)
			},
			stopReason: "stop_reason", stopSequence: "stop_sequence"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			full := tc.text(call(tc.path, fmt.Sprintf(tc.body, "")))
			words := strings.Fields(full)
			if len(words) < 4 {
				t.Fatalf("answer %q is too short to cut", full)
			}
			stop := " " + words[3]
			want := full[:strings.Index(full, stop)]
			out := call(tc.path, fmt.Sprintf(tc.body, fmt.Sprintf(tc.stopMember, stop)))
			if got := tc.text(out); got != want || out[tc.stopReason] != "stop_sequence" {
				t.Errorf("with stop sequence %q: %q, %s %v; want %q, stop_sequence", stop, got, tc.stopReason, out[tc.stopReason], want)
			}
			if tc.stopSequence != "" && out[tc.stopSequence] != stop {
				t.Errorf("%s = %v, want %q", tc.stopSequence, out[tc.stopSequence], stop)
			}
		})
	}
}
