package translate_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// BenchmarkStream measures one translated stream event through the
// byte-level seam, per direction, on the golden tool-call streams.
func BenchmarkStream(b *testing.B) {
	cases := []struct {
		name            string
		file            string
		backend, client translate.Dialect
	}{
		{"converse_to_openai", "testdata/openai_converse/stream_text_tools/stream.in.json", translate.Converse, translate.OpenAI},
		{"anthropic_to_openai", "testdata/openai_anthropic/stream_text_tools/stream.in.json", translate.Anthropic, translate.OpenAI},
		{"openai_to_converse", "testdata/converse_openai/stream_text_tools/stream.in.json", translate.OpenAI, translate.Converse},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			in, err := os.ReadFile(tc.file)
			if err != nil {
				b.Fatal(err)
			}
			var events []translate.Event
			if tc.backend == translate.Converse {
				var raw []map[string]json.RawMessage
				json.Unmarshal(in, &raw)
				for _, m := range raw {
					for k, v := range m {
						events = append(events, translate.Event{Type: k, Data: v})
					}
				}
			} else {
				var raw []json.RawMessage
				json.Unmarshal(in, &raw)
				for _, v := range raw {
					events = append(events, translate.Event{Data: v})
				}
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				s, _ := translate.NewStream(tc.backend, tc.client, meta)
				for _, e := range events {
					s.Next(e)
					n++
				}
				s.Finish()
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
