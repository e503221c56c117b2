package inference

import (
	"bytes"
	"testing"
)

// chunkCases are chat chunks as upstreams send them, and the edge cases of
// the one-question functions ScanChatChunk and FieldSpans stand for.
var chunkCases = []string{
	`{"id":"chatcmpl-mock1","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`,
	`{"error":{"message":"overloaded","type":"server_error"}}`,
	`{"error":null,"id":"c","choices":[{"delta":{"content":"say \"error\" and \"usage\": 1"}}]}`,
	`{"model":"m","id":"c","choices":[{"delta":{"content":"a"}}]}`,
	`{ "id" : "c" , "model" : "m" , "usage" : null , "choices" : [ { "delta" : { "content" : "x" } , "finish_reason" : "length" } ] }`,
	`{"choices":[{"delta":{"content":null},"finish_reason":null}],"x":{"usage":{"a":1}},"usage":null}`,
	`{"x":{"usage":null},"usage":{"prompt_tokens":1}}`,
	`{"x":"usage","usage":"usage"usage":1}`,
	`{"id":"c","choices":[{"delta":{"content":"unterminated}]}`,
	`{"id":"c","choices":[{"finish_reason":"unterminated}]}`,
	`{"id":"c","model":}`,
	`{"id":"c"`,
	`{"id":"a","id":"b","model":"m1","model":"m2"}`,
	`{"model":"m","x":[1,2,{"id":"inner"}]}`,
	`{}`,
	`[]`,
	`"`,
	``,
	`{"content":"a\\","content":"b"}`,
	`{"usage" : null, "usage":  {"n":1}}`,
	`{"usage":nul`,
}

// TestScanChatChunkAsTheOneQuestionFunctions: one pass answers as the
// functions a relay called one after another.
func TestScanChatChunkAsTheOneQuestionFunctions(t *testing.T) {
	for _, tc := range chunkCases {
		checkScanChatChunk(t, []byte(tc))
	}
}

func checkScanChatChunk(t *testing.T, b []byte) {
	t.Helper()
	got := ScanChatChunk(b)
	if want := bytes.Contains(b, []byte(`"error"`)); got.Error != want {
		t.Errorf("%q: Error %v, want %v", b, got.Error, want)
	}
	if want := FieldUnlessNull(b, "usage"); !sameBytes(got.Usage, want) {
		t.Errorf("%q: Usage %q, want %q", b, got.Usage, want)
	}
	if want := StringAfter(b, `"finish_reason":`); !sameBytes(got.FinishReason, want) {
		t.Errorf("%q: FinishReason %q, want %q", b, got.FinishReason, want)
	}
	if want := StringAfter(b, `"content":`); !sameBytes(got.Content, want) {
		t.Errorf("%q: Content %q, want %q", b, got.Content, want)
	}
}

// sameBytes compares two results, nil apart from empty.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// TestFieldSpansAsSettingBoth: where FieldSpans finds both values, writing
// the bytes around them gives what setting one then the other gives.
func TestFieldSpansAsSettingBoth(t *testing.T) {
	found := 0
	for _, tc := range chunkCases {
		if checkFieldSpans(t, []byte(tc)) {
			found++
		}
	}
	if found < 7 {
		t.Errorf("both spans found in %d cases, want the well-formed ones (at least 7)", found)
	}
}

func checkFieldSpans(t *testing.T, b []byte) bool {
	t.Helper()
	const id, model = "chatcmpl-req-1", "eu.demo.chat-<small>"
	s1, e1, s2, e2, ok := FieldSpans(b, "id", "model")
	if !ok {
		return false
	}
	if !bytes.Equal(b[s1:e1], Field(b, "id")) || !bytes.Equal(b[s2:e2], Field(b, "model")) {
		t.Errorf("%q: spans %q and %q, Field gives %q and %q", b, b[s1:e1], b[s2:e2], Field(b, "id"), Field(b, "model"))
	}
	want := AppendSetString(nil, AppendSetString(nil, b, "id", id), "model", model)
	idJ, modelJ := AppendJSONString(nil, id), AppendJSONString(nil, model)
	var got []byte
	if s1 < s2 {
		got = append(append(append(append(append(got, b[:s1]...), idJ...), b[e1:s2]...), modelJ...), b[e2:]...)
	} else {
		got = append(append(append(append(append(got, b[:s2]...), modelJ...), b[e2:s1]...), idJ...), b[e1:]...)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%q: around the spans\n got %s\nwant %s", b, got, want)
	}
	return true
}

func FuzzScanChatChunk(f *testing.F) {
	for _, tc := range chunkCases {
		f.Add([]byte(tc))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkScanChatChunk(t, b)
		checkFieldSpans(t, b)
	})
}

// BenchmarkChatChunkScan compares one pass with the questions asked one
// at a time, on a chunk as mockllm sends it.
func BenchmarkChatChunkScan(b *testing.B) {
	chunk := []byte(chunkCases[0])
	b.Run("one-pass", func(b *testing.B) {
		for b.Loop() {
			ScanChatChunk(chunk)
		}
	})
	b.Run("per-question", func(b *testing.B) {
		for b.Loop() {
			_ = bytes.Contains(chunk, []byte(`"error"`))
			FieldUnlessNull(chunk, "usage")
			StringAfter(chunk, `"finish_reason":`)
			StringAfter(chunk, `"content":`)
		}
	})
}
