package anthropic_test

import (
	"fmt"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
)

// TestFailedToolResultContinuesAgentLoop: an agent whose tool failed sends
// its tool_result with is_error: true, and the conversation goes on
// whatever serves it: passed through, translated to an OpenAI deployment
// (the error status in the tool message's content) or to Converse
// (status "error"), locally or forwarded (the destination translates),
// streamed and not. Before, an OpenAI deployment refused it with a 400.
func TestFailedToolResultContinuesAgentLoop(t *testing.T) {
	c := startCluster(t)
	client := c.client("eu-west-1", c.key)
	for _, sv := range served {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", sv.name, stream), func(t *testing.T) {
				params := weatherParams(sv.model)
				m, _ := send(t, client, params, stream)
				if m.StopReason != anthropic.StopReasonToolUse || len(m.Content) == 0 || m.Content[len(m.Content)-1].Type != "tool_use" {
					t.Fatalf("answer %+v, want a get_weather tool use", m)
				}
				use := m.Content[len(m.Content)-1]
				params.Messages = append(params.Messages, m.ToParam(), anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "weather service unreachable", true)))
				final, resp := send(t, client, params, stream)
				if final.StopReason != anthropic.StopReasonEndTurn || len(final.Content) == 0 || final.Content[0].Text == "" {
					t.Fatalf("final answer %+v, want text", final)
				}
				if got := resp.Header.Get("X-Meridian-Inference-Region"); got != sv.region {
					t.Errorf("inference region header %q, want %s", got, sv.region)
				}
			})
		}
	}
}
