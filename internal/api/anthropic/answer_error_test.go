package anthropic_test

import (
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/api/anthropic"
	"github.com/meridian-gateway/meridian/internal/api/apitest"
	"github.com/meridian-gateway/meridian/internal/backend/backendtest"
	"github.com/meridian-gateway/meridian/internal/gateway/gatewaytest"
)

// TestUntranslatableAnswer: an upstream answer Anthropic's API cannot
// express (a Converse answer from Amazon Nova holding a block of a kind
// Messages does not have) is the deployment's failure, not the caller's:
// /v1/messages answers a 502 api_error, never an invalid_request_error,
// naming the deployment's API and the client's.
func TestUntranslatableAnswer(t *testing.T) {
	t.Parallel()
	url, _ := backendtest.Answer(t, `{"output":{"message":{"role":"assistant","content":[{"text":"a"},{"newThing":{"x":1}}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}}`)
	const key = "sk-test-anthropic-answer-error"
	srv := apitest.Serve(t, anthropic.New(gatewaytest.OneRegion(t, key, backendtest.Bedrock(t, "amazon.nova-pro-v1:0", url)), anthropic.Options{}))
	resp, out := apitest.Post(t, srv.URL+"/v1/messages", `{"model":"eu.m","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`,
		"x-api-key", key, "Content-Type", "application/json")
	if resp.StatusCode != 502 || !strings.Contains(string(out), `"type":"api_error"`) {
		t.Fatalf("status %d: %s, want a 502 api_error", resp.StatusCode, out)
	}
	for _, n := range []string{"Bedrock Converse API", "Anthropic Messages API", "output.message.content[1]"} {
		if !strings.Contains(string(out), n) {
			t.Errorf("answer %s does not name %s", out, n)
		}
	}
}
