package interregion

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// BenchmarkDestinationPeek measures what the destination spends peeking at
// a forwarded body itself (requestOf: the fields the gateway needs, in the
// dialect of the operation), the step that carrying the source's peek in
// the envelope would save: meridian bench's streaming chat request.
//
//	go test -run XXX -bench DestinationPeek ./internal/interregion/
func BenchmarkDestinationPeek(b *testing.B) {
	body := []byte(`{"model":"eu.demo.chat-small","stream":true,"messages":[{"role":"system","content":"You are a benchmark."},{"role":"user","content":"Where does my data go when I call this gateway?"}],"max_tokens":16}`)
	ct := bodyContentType(inference.DialectOpenAIChat)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := requestOf(ct, opChatCompletions, "eu.demo.chat-small", "", body); err != nil {
			b.Fatal(err)
		}
	}
}
