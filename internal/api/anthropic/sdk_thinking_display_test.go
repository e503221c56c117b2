package anthropic_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
)

// TestMessagesThinkingDisplay: Anthropic's official client sets
// thinking.display ("summarized", "omitted"), streamed and not. A Bedrock
// deployment of Claude takes the body as it is and is served, locally and
// forwarded; a deployment whose model is not Claude (an OpenAI one, Nova
// on Converse) cannot honour it (only Claude summarizes or omits its
// thinking text) and the request is refused with a 400
// invalid_request_error naming thinking.display, not served with the
// member dropped.
func TestMessagesThinkingDisplay(t *testing.T) {
	c := startCluster(t)
	client := c.client("eu-west-1", c.key)
	for _, s := range served {
		for _, stream := range []bool{false, true} {
			name := s.name
			if stream {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				params := anthropic.MessageNewParams{Model: anthropic.Model(s.model), MaxTokens: 2048,
					Thinking: anthropic.ThinkingConfigParamUnion{OfEnabled: &anthropic.ThinkingConfigEnabledParam{BudgetTokens: 1024, Display: anthropic.ThinkingConfigEnabledDisplaySummarized}},
					Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Why is the sky blue?"))}}
				if strings.HasPrefix(s.name, "bedrock") {
					if m, _ := send(t, client, params, stream); len(m.Content) == 0 {
						t.Fatalf("answer %+v, want content", m)
					}
					return
				}
				var err error
				if stream {
					st := client.Messages.NewStreaming(t.Context(), params)
					for st.Next() {
					}
					err = st.Err()
				} else {
					_, err = client.Messages.New(t.Context(), params)
				}
				var ae *anthropic.Error
				if !errors.As(err, &ae) || ae.StatusCode != 400 || string(ae.Type()) != "invalid_request_error" || !strings.Contains(ae.RawJSON(), "thinking.display") {
					t.Fatalf("error %v, want a 400 invalid_request_error naming thinking.display", err)
				}
			})
		}
	}
}
