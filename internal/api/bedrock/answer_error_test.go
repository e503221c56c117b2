package bedrock_test

import (
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/api/apitest"
	"github.com/meridian-gateway/meridian/internal/api/bedrock"
	"github.com/meridian-gateway/meridian/internal/backend/backendtest"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/gateway/gatewaytest"
)

// TestUntranslatableAnswer: an upstream answer the client's API cannot
// express is the deployment's failure, not the caller's: the Bedrock front
// end answers it with a server-side error (ModelErrorException, never a
// ValidationException) whose message names the deployment's API and the
// client's. A Converse client served by an OpenAI deployment whose tool
// call's arguments are not JSON; an InvokeModel (Anthropic body) client
// served through Converse by Amazon Nova, whose answer holds a block of a
// kind Anthropic's API does not have.
func TestUntranslatableAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, op, body, answer string
		backend                func(t *testing.T, url string) gateway.Backend
		names                  []string
	}{
		{name: "Converse from OpenAI", op: "converse", body: `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`,
			answer:  `{"id":"c","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"not json"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`,
			backend: func(t *testing.T, url string) gateway.Backend { return backendtest.OpenAI(t, url) },
			names:   []string{"OpenAI Chat Completions API", "Bedrock Converse API", "choices[0].message.tool_calls[0]"}},
		{name: "InvokeModel from Converse", op: "invoke", body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`,
			answer: `{"output":{"message":{"role":"assistant","content":[{"text":"a"},{"newThing":{"x":1}}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}}`,
			backend: func(t *testing.T, url string) gateway.Backend {
				return backendtest.Bedrock(t, "amazon.nova-pro-v1:0", url)
			},
			names: []string{"Bedrock Converse API", "Anthropic Messages API", "output.message.content[1]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url, _ := backendtest.Answer(t, tc.answer)
			const key = "sk-test-bedrock-answer-error"
			srv := apitest.Serve(t, bedrock.New(gatewaytest.OneRegion(t, key, tc.backend(t, url)), bedrock.Options{DataDir: t.TempDir()}))
			resp, out := apitest.Post(t, srv.URL+"/model/eu.m/"+tc.op, tc.body, "Authorization", "Bearer "+key, "Content-Type", "application/json")
			if resp.StatusCode < 500 || resp.Header.Get("X-Amzn-Errortype") != "ModelErrorException" {
				t.Fatalf("status %d %s: %s, want a server-side ModelErrorException", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), out)
			}
			t.Logf("%d %s", resp.StatusCode, out)
			for _, n := range tc.names {
				if !strings.Contains(string(out), n) {
					t.Errorf("answer %s does not name %s", out, n)
				}
			}
		})
	}
}
