package translate_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// BenchmarkWithoutCarriedReasoning: the OpenAI backend runs it on a
// pass-through chat body that enables reasoning (internal/backend/openai.go);
// a body without carried reasoning costs one scan for the prefix, one that
// carries it a copy of its messages list.
func BenchmarkWithoutCarriedReasoning(b *testing.B) {
	for _, n := range []int{4 << 10, 64 << 10} {
		turn := `{"role":"user","content":"` + strings.Repeat("Make me a sandwich. Then, v1.2 of it. ", 8) + `"},`
		msgs := strings.Repeat(turn, n/len(turn))
		plain := []byte(`{"model":"m","messages":[` + msgs + `{"role":"user","content":"hi"}]}`)
		carried := []byte(`{"model":"m","messages":[` + msgs + `{"role":"assistant","tool_calls":[],"reasoning_content":"meridian.r1.W3sidCI6IlBsYW4uIn1d"},{"role":"tool","tool_call_id":"t","content":"ok"}]}`)
		for _, c := range []struct {
			name string
			body []byte
		}{{"none", plain}, {"carried", carried}} {
			b.Run(fmt.Sprintf("%s/%dKiB", c.name, n>>10), func(b *testing.B) {
				b.SetBytes(int64(len(c.body)))
				b.ReportAllocs()
				for b.Loop() {
					translate.WithoutCarriedReasoning(c.body)
				}
			})
		}
	}
}
