package translate_test

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// BenchmarkRequest translates a tool-loop request with tools and a tool
// result, Chat Completions to Converse and Messages to Chat Completions:
// the per-request cost of the refusal walks (unknown and null members).
func BenchmarkRequest(b *testing.B) {
	chat := []byte(`{"model":"m","max_completion_tokens":1000,"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],` +
		`"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
		`{"role":"tool","tool_call_id":"c1","content":"21C"},{"role":"assistant","content":"It is 21C."},{"role":"user","content":"And Rome?"}]}`)
	msgs := []byte(`{"model":"m","max_tokens":1000,"tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],` +
		`"system":"Be brief.","messages":[{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"get_weather","input":{"city":"Paris"}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"21C"}]},{"role":"assistant","content":"It is 21C."},{"role":"user","content":"And Rome?"}]}`)
	for _, tc := range []struct {
		name            string
		client, backend translate.Dialect
		body            []byte
	}{
		{"openai_converse", translate.OpenAI, translate.Converse, chat},
		{"anthropic_openai", translate.Anthropic, translate.OpenAI, msgs},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := translate.Request(tc.client, tc.backend, tc.body, "m", false, translate.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
