package gateway

import (
	"net/http"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

func TestWantsReceipt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		set   bool
		want  bool
	}{
		{"", false, false}, {"true", true, true}, {"TRUE", true, true}, {" true ", true, true},
		{"false", true, false}, {"1", true, false}, {"yes", true, false},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.set {
			h.Set("x-meridian-receipt", tc.value)
		}
		if got := WantsReceipt(h); got != tc.want {
			t.Errorf("WantsReceipt(x-meridian-receipt: %q) = %v, want %v", tc.value, got, tc.want)
		}
	}
}

// The text a receipt's answer hash covers: content and tool-call
// arguments, in each dialect's raw stream events.
func TestAnswerDelta(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ev   inference.Event
		want string
	}{
		{"plain text", inference.Event{Kind: inference.EventDelta, Text: "héllo"}, "héllo"},
		{"openai content", inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat,
			Raw: []byte(`{"choices":[{"index":0,"delta":{"content":"a \"b\""}}]}`)}, `a "b"`},
		{"openai tool arguments", inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat,
			Raw: []byte(`{"choices":[{"index":0,"delta":{"content":null,"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}`)}, `{"city":`},
		{"converse text", inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectConverse, Name: "contentBlockDelta",
			Raw: []byte(`{"contentBlockIndex":0,"delta":{"text":"Paris"}}`)}, "Paris"},
		{"converse tool input", inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectConverse, Name: "contentBlockDelta",
			Raw: []byte(`{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"q\":1}"}}}`)}, `{"q":1}`},
		{"anthropic text", inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectAnthropic,
			Raw: []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`)}, "Hi"},
		{"anthropic partial json", inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectAnthropic,
			Raw: []byte(`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\""}}`)}, `{"a"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := answerDelta(&tc.ev); got != tc.want {
				t.Errorf("answerDelta(%s) = %q, want %q", tc.ev.Raw, got, tc.want)
			}
		})
	}
}
