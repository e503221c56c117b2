package openai

import (
	"testing"
)

// TestRewriteChunkAllocatesNothing: relaying a passed-through chunk with
// the gateway's id and model costs no allocation once the buffers grew.
func TestRewriteChunkAllocatesNothing(t *testing.T) {
	raw := []byte(`{"id":"up-1","object":"chat.completion.chunk","model":"upstream-1","choices":[{"index":0,"delta":{"content":" word","tool_calls":[{"id":"call_1"}]}}],"x_vendor":1}`)
	buf := rewriteChunk(nil, nil, raw, "chatcmpl-req-1", "eu.demo.chat-small")
	want := `{"id":"chatcmpl-req-1","object":"chat.completion.chunk","model":"eu.demo.chat-small","choices":[{"index":0,"delta":{"content":" word","tool_calls":[{"id":"call_1"}]}}],"x_vendor":1}`
	if string(buf) != want {
		t.Fatalf("rewritten chunk\n got %s\nwant %s", buf, want)
	}
	var b, tmp []byte
	rewriteChunk(&b, &tmp, raw, "chatcmpl-req-1", "eu.demo.chat-small")
	if n := testing.AllocsPerRun(100, func() { rewriteChunk(&b, &tmp, raw, "chatcmpl-req-1", "eu.demo.chat-small") }); n != 0 {
		t.Errorf("rewriteChunk allocates %v times per chunk", n)
	}
}
