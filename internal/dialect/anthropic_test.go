package dialect

import (
	"encoding/json"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestAnthropicResponse pins the bytes of a canonical answer rendered as
// an Anthropic Messages response: member order, the stop reason mapping,
// an empty text kept as "", and HTML-significant text escaped as
// encoding/json does.
func TestAnthropicResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		resp inference.Response
		want string
	}{
		{"end turn", inference.Response{Message: inference.Message{Role: inference.RoleAssistant, Content: []inference.Block{{Text: "hi"}}}, StopReason: inference.StopEndTurn,
			Usage: inference.Usage{InputTokens: 3, OutputTokens: 1}},
			`{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}`},
		{"max tokens, empty text", inference.Response{StopReason: inference.StopMaxTokens},
			`{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":""}],"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}`},
		{"stop sequence, escaped text", inference.Response{Message: inference.Message{Content: []inference.Block{{Text: "<a&b>"}}}, StopReason: inference.StopSequence,
			Usage: inference.Usage{InputTokens: 1, OutputTokens: 2, CacheReadInputTokens: 5}},
			`{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"\u003ca\u0026b\u003e"}],"stop_reason":"stop_sequence","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":2}}`},
		{"content filtered is a refusal", inference.Response{StopReason: inference.StopContentFiltered},
			`{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":""}],"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(AnthropicResponse("msg_1", "m", &tc.resp))
			if err != nil || string(b) != tc.want {
				t.Errorf("AnthropicResponse(%+v) = %s, %v, want %s", tc.resp, b, err, tc.want)
			}
		})
	}
}

// TestAnthropicMessageStart pins the message of a synthesized
// message_start event: empty content, null stop reason.
func TestAnthropicMessageStart(t *testing.T) {
	t.Parallel()
	want := `{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":7,"output_tokens":0}}`
	if b, err := json.Marshal(AnthropicMessageStart("msg_1", "m", 7)); err != nil || string(b) != want {
		t.Errorf("AnthropicMessageStart = %s, %v, want %s", b, err, want)
	}
}
