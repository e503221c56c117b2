package bedrock_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
)

// TestResponsesUnsignedReasoningToClaude: with the official openai-go
// client, a Responses request with reasoning on that sends back a
// reasoning item whose encrypted_content carries reasoning without a
// signature (what another model's reasoning would be) is refused toward
// Claude with a 400 in OpenAI's shape naming input[1].encrypted_content
// (Claude checks the signature of all reasoning it is sent), locally and
// before forwarding, streamed and not; toward Amazon Nova 2 Lite, which
// checks none, it is served.
func TestResponsesUnsignedReasoningToClaude(t *testing.T) {
	c := dialectCluster(t, `models:
  - {id: pclaude}
  - {id: pclaudefar}
  - {id: pnova}
deployments:
  - {model: pclaude, region: eu-west-1, backend: {type: mock, api: bedrock, model: "anthropic.claude-sonnet-4-5-20250929-v1:0", ttft: 1ms, tokens_per_second: 5000}}
  - {model: pclaudefar, region: eu-central-1, backend: {type: mock, api: bedrock, model: "anthropic.claude-sonnet-4-5-20250929-v1:0", ttft: 1ms, tokens_per_second: 5000}}
  - {model: pnova, region: eu-west-1, backend: {type: mock, api: bedrock, model: "amazon.nova-2-lite-v1:0", ttft: 1ms, tokens_per_second: 5000}}
`)
	client := c.openaiClient("eu-west-1")
	unsigned := "meridian.r1." + base64.RawURLEncoding.EncodeToString([]byte(`[{"t":"Let me see."}]`))
	params := func(model string) responses.ResponseNewParams {
		rp := responses.ResponseReasoningItemParam{ID: "rs_1", EncryptedContent: openai.String(unsigned), Summary: []responses.ResponseReasoningItemSummaryParam{}}
		input := responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("Hi", responses.EasyInputMessageRoleUser),
			{OfReasoning: &rp},
			responses.ResponseInputItemParamOfMessage("Hello.", responses.EasyInputMessageRoleAssistant),
			responses.ResponseInputItemParamOfMessage("Again", responses.EasyInputMessageRoleUser),
		}
		return responses.ResponseNewParams{Model: model, MaxOutputTokens: openai.Int(3000),
			Reasoning: responses.ReasoningParam{Effort: responses.ReasoningEffortLow},
			Include:   []responses.ResponseIncludable{responses.ResponseIncludableReasoningEncryptedContent},
			Input:     responses.ResponseNewParamsInputUnion{OfInputItemList: input}}
	}
	for _, model := range []string{"eu.pclaude", "eu.pclaudefar", "eu.pnova"} {
		for _, stream := range []bool{false, true} {
			name := model
			if stream {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				var err error
				if stream {
					s := client.Responses.NewStreaming(t.Context(), params(model))
					for s.Next() {
					}
					err = s.Err()
				} else {
					_, err = client.Responses.New(t.Context(), params(model))
				}
				if model == "eu.pnova" {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				var ae *openai.Error
				if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "input[1].encrypted_content" || !strings.Contains(ae.Message, "signature") {
					t.Fatalf("error %v, want a 400 naming input[1].encrypted_content", err)
				}
			})
		}
	}
}
