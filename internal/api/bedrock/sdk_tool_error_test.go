package bedrock_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// TestConverseFailedToolResultOnOpenAIBackend: a Converse agent whose tool
// failed sends its toolResult with status "error" to a model served by an
// OpenAI chat deployment, and the conversation goes on, locally and
// forwarded (the destination translates), streamed and not: the status
// reaches the model in the tool message's content (docs/api.md). Before,
// it was refused with a 400 naming toolResult.status.
func TestConverseFailedToolResultOnOpenAIBackend(t *testing.T) {
	c := crossCluster(t)
	rt := c.runtimeClient("eu-west-1")
	for _, far := range []string{"", "far"} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("forwarded=%v/stream=%v", far != "", stream), func(t *testing.T) {
				in := &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.oa" + far), ToolConfig: weatherToolConfig(), Messages: []types.Message{{Role: types.ConversationRoleUser,
					Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Weather in Paris?"}}}}}
				blocks, stop, _ := converse(t, rt, in, stream)
				if stop != types.StopReasonToolUse || len(blocks) != 1 {
					t.Fatalf("answer %+v stop %q, want one tool use", blocks, stop)
				}
				tu := blocks[0].(*types.ContentBlockMemberToolUse)
				in.Messages = append(in.Messages, types.Message{Role: types.ConversationRoleAssistant, Content: blocks},
					types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{
						ToolUseId: tu.Value.ToolUseId, Status: types.ToolResultStatusError,
						Content: []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberText{Value: "weather service unreachable"}}}}}})
				final, stop, _ := converse(t, rt, in, stream)
				if stop != types.StopReasonEndTurn || len(final) != 1 {
					t.Fatalf("final answer %+v stop %q, want text", final, stop)
				}
			})
		}
	}
}
