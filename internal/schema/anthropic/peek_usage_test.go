package anthropic_test

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
)

func TestPeekUsage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want anthropic.Tokens
		ok   bool
	}{
		{"message_start", `{"type":"message_start","message":{"id":"m","content":[],"usage":{"input_tokens":25,"output_tokens":1,"cache_read_input_tokens":7}}}`, anthropic.Tokens{Input: 25, Output: 1, CacheRead: 7, HasInput: true, HasOutput: true}, true},
		{"message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}`, anthropic.Tokens{Output: 15, HasOutput: true}, true},
		{"text delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"usage"}}`, anthropic.Tokens{}, false},
	}
	for _, tc := range tests {
		got, ok, err := anthropic.PeekUsage([]byte(tc.in))
		if err != nil || ok != tc.ok || got != tc.want {
			t.Errorf("%s: PeekUsage = %+v, %v, %v; want %+v, %v", tc.name, got, ok, err, tc.want, tc.ok)
		}
	}
	ev := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello there"}}`)
	if n := testing.AllocsPerRun(100, func() { anthropic.PeekUsage(ev) }); n > 0 {
		t.Errorf("PeekUsage of a delta allocates %v times, want 0", n)
	}
}
