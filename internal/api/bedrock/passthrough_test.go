package bedrock_test

import (
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/api/apitest"
	"github.com/meridian-gateway/meridian/internal/api/bedrock"
	"github.com/meridian-gateway/meridian/internal/backend/backendtest"
	"github.com/meridian-gateway/meridian/internal/gateway/gatewaytest"
)

// TestPassThroughKeepsEveryMember: through the real Bedrock front end, the
// gateway and the Bedrock adapter, a Converse body and a Claude InvokeModel
// body reach Bedrock as the client sent them, members this gateway does not
// know included, and the answer comes back with them.
func TestPassThroughKeepsEveryMember(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, model, op, body, answer string
	}{
		{name: "Converse", model: "amazon.nova-pro-v1:0", op: "converse",
			body:   `{"messages":[{"role":"user","content":[{"text":"hi"},{"cachePoint":{"type":"default"}}]}],"guardrailConfig":{"guardrailIdentifier":"g","guardrailVersion":"1"},"promptVariables":{"x":{"text":"y"}},"additionalModelRequestFields":{"top_k":5},"additionalModelResponseFieldPaths":["/stop_sequence"],"requestMetadata":{"team":"a"},"performanceConfig":{"latency":"optimized"},"x_future":{"keep":[1,2]}}`,
			answer: `{"output":{"message":{"role":"assistant","content":[{"text":"hi"},{"citationsContent":{"content":[{"text":"c"}],"citations":[]}}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4,"cacheDetails":[{"ttl":"5m","inputTokens":3}]},"metrics":{"latencyMs":5},"trace":{"guardrail":{}},"additionalModelResponseFields":{"stop_sequence":null},"x_future":true}`},
		{name: "InvokeModel", model: "anthropic.claude-sonnet-4-5", op: "invoke",
			body:   `{"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["x-2025"],"max_tokens":16,"top_k":3,"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral","ttl":"1h"}}]}],"container":"c1","x_future":1}`,
			answer: `{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"hi","citations":null}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1,"service_tier":"standard"},"x_future":true}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url, got := backendtest.Answer(t, tc.answer)
			const key = "sk-test-bedrock-passthrough"
			srv := apitest.Serve(t, bedrock.New(gatewaytest.OneRegion(t, key, backendtest.Bedrock(t, tc.model, url)), bedrock.Options{DataDir: t.TempDir()}))

			resp, out := apitest.Post(t, srv.URL+"/model/eu.m/"+tc.op, tc.body, "Authorization", "Bearer "+key)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %.300s", resp.StatusCode, out)
			}
			r := <-got
			if sent, want := r.Path+" "+string(r.Body), "/model/"+tc.model+"/"+tc.op+" "+tc.body; sent != want {
				t.Errorf("upstream received\n%s\nwant\n%s", sent, want)
			}
			for _, member := range []string{`"x_future":true`, `"citations`, `"usage":`} {
				if strings.Contains(tc.answer, member) && !strings.Contains(string(out), member) {
					t.Errorf("client received %s, lacking %s", out, member)
				}
			}
		})
	}
}
