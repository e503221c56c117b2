package inference

import (
	"strings"
	"testing"
)

// TestConverseServiceTier: a Converse answer's reported tier is its
// serviceTier.type when that is one of Bedrock's tier names.
func TestConverseServiceTier(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, want string }{
		{`{"output":{},"serviceTier":{"type":"flex"}}`, "flex"},
		{`{"serviceTier":{"type":"reserved"},"usage":{}}`, "reserved"},
		{`{"output":{"message":{"content":[{"text":"serviceTier"}]}}}`, ""},
		{`{"serviceTier":{"type":"gold"}}`, ""},
		{`{"serviceTier":{"type":5}}`, ""},
		{`{"serviceTier":null}`, ""},
		{`not json`, ""},
	} {
		if got := ConverseServiceTier([]byte(tc.body)); got != tc.want {
			t.Errorf("ConverseServiceTier(%s) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

// BenchmarkConverseServiceTier is the read of the reported tier from a
// non-streamed Converse answer of about 4 KiB, once per answer on the
// Bedrock API's pass-through.
func BenchmarkConverseServiceTier(b *testing.B) {
	body := []byte(`{"output":{"message":{"role":"assistant","content":[{"text":"` + strings.Repeat("word ", 800) +
		`"}]}},"stopReason":"end_turn","usage":{"inputTokens":5,"outputTokens":800,"totalTokens":805},"metrics":{"latencyMs":120},"serviceTier":{"type":"priority"}}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if ConverseServiceTier(body) != "priority" {
			b.Fatal("no tier")
		}
	}
}
