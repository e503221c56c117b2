package bedrock_test

import (
	"errors"
	"testing"

	"github.com/openai/openai-go/v3"
)

// TestChatAmbiguousCarriedReasoningSameAnswer: a Chat Completions body
// (sent raw through the official openai-go client, whose typed params
// cannot name a member twice) that enables reasoning and names a carried
// reasoning_content twice gets the same answer from an OpenAI deployment
// and from Claude on Bedrock (translated to Converse), locally and
// forwarded: a 400 in OpenAI's shape naming
// messages[1].reasoning_content. The translation once served the last
// copy where the OpenAI deployment refused.
func TestChatAmbiguousCarriedReasoningSameAnswer(t *testing.T) {
	c := dialectCluster(t, `models:
  - {id: pclaude}
  - {id: pclaudefar}
  - {id: poa}
deployments:
  - {model: pclaude, region: eu-west-1, backend: {type: mock, api: bedrock, model: "anthropic.claude-sonnet-4-5-20250929-v1:0", ttft: 1ms, tokens_per_second: 5000}}
  - {model: pclaudefar, region: eu-central-1, backend: {type: mock, api: bedrock, model: "anthropic.claude-sonnet-4-5-20250929-v1:0", ttft: 1ms, tokens_per_second: 5000}}
  - {model: poa, region: eu-west-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
`)
	client := c.openaiClient("eu-west-1")
	const carried = "meridian.r1.W3sidCI6IngiLCJzIjoieSJ9XQ" // [{"t":"x","s":"y"}]
	for _, model := range []string{"eu.pclaude", "eu.pclaudefar", "eu.poa"} {
		for _, tc := range []struct{ name, members string }{
			{"twice", `"reasoning_content":"` + carried + `","reasoning_content":"plain"`},
			{"another case", `"Reasoning_Content":"` + carried + `"`},
		} {
			t.Run(model+"/"+tc.name, func(t *testing.T) {
				body := []byte(`{"model":"` + model + `","reasoning_effort":"low","max_completion_tokens":2000,"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello.",` + tc.members + `},{"role":"user","content":"Again"}]}`)
				var out map[string]any
				err := client.Post(t.Context(), "chat/completions", body, &out)
				var ae *openai.Error
				if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "messages[1].reasoning_content" {
					t.Fatalf("answer %v, %v; want a 400 naming messages[1].reasoning_content", out, err)
				}
			})
		}
	}
}
