package bedrock_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/api/apitest"
)

// TestInvokeHeadersReachTheModelOrAreRefused: InvokeModel carries some
// request settings in headers rather than the body. The gateway forwards
// the body only, so a header asking for something the default does not do
// is refused with a ValidationException naming it, never served without
// it; a header asking for the default is accepted.
func TestInvokeHeadersReachTheModelOrAreRefused(t *testing.T) {
	c := startCluster(t, euRegions[:1], "")
	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		header, value string
		refused       bool
	}{
		{"X-Amzn-Bedrock-PerformanceConfig-Latency", "optimized", true},
		{"X-Amzn-Bedrock-PerformanceConfig-Latency", "standard", false},
		{"X-Amzn-Bedrock-Trace", "ENABLED", true},
		{"X-Amzn-Bedrock-Trace", "ENABLED_FULL", true},
		{"X-Amzn-Bedrock-Trace", "DISABLED", false},
		{"X-Amzn-Bedrock-GuardrailVersion", "1", true},
		{"X-Amzn-Bedrock-PerformanceConfig-Latency", strings.Repeat("x", 64<<10), true},
	}
	for _, op := range []string{"invoke", "invoke-with-response-stream"} {
		for _, tc := range tests {
			t.Run(op+"/"+tc.header+"="+tc.value[:min(len(tc.value), 16)], func(t *testing.T) {
				resp, b := apitest.Post(t, c.url("eu-west-1")+"/model/eu.demo.chat-small/"+op, body, "Authorization", "Bearer "+c.key, tc.header, tc.value)
				if !tc.refused {
					if resp.StatusCode != 200 {
						t.Fatalf("status %d %.300s, want 200", resp.StatusCode, b)
					}
					return
				}
				var e struct{ Message string }
				if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "ValidationException" || json.Unmarshal(b, &e) != nil {
					t.Fatalf("status %d type %q %.300s, want a 400 ValidationException", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), b)
				}
				if !strings.Contains(e.Message, tc.header) {
					t.Errorf("message %.300q does not name %s", e.Message, tc.header)
				}
				if len(b) > 1024 {
					t.Errorf("error body of %d bytes echoes the request: %.200s", len(b), b)
				}
			})
		}
	}
}
