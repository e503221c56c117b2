package anthropic_test

import (
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
)

// TestStreamedUsageAccumulates: a streamed answer, accumulated by
// anthropic-sdk-go's Message.Accumulate, ends with the input tokens the
// deployment counted, however it is served: passed through, or translated
// from an OpenAI or a Converse deployment (whose usage comes only at the
// end, so message_start says 0 and message_delta carries the count),
// locally or forwarded. The streamed count is the unstreamed one.
func TestStreamedUsageAccumulates(t *testing.T) {
	c := startCluster(t)
	client := c.client("eu-west-1", c.key)
	for _, s := range served {
		t.Run(s.name, func(t *testing.T) {
			params := anthropic.MessageNewParams{Model: anthropic.Model(s.model), MaxTokens: 16,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Count the tokens of this question, please."))}}
			whole, _ := send(t, client, params, false)
			streamed, _ := send(t, client, params, true)
			if streamed.Usage.InputTokens <= 0 || streamed.Usage.OutputTokens <= 0 {
				t.Errorf("accumulated usage %+v: want input and output tokens", streamed.Usage)
			}
			if streamed.Usage.InputTokens != whole.Usage.InputTokens {
				t.Errorf("streamed input tokens %d, unstreamed %d", streamed.Usage.InputTokens, whole.Usage.InputTokens)
			}
		})
	}
}
