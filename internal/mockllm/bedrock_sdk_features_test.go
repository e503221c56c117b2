package mockllm_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// TestBedrockConverseSDKToolChoiceAndThinking: AWS's official Bedrock
// runtime client, Converse and ConverseStream against the simulator: a
// forced tool choice among two tools yields exactly that tool, any yields
// both, and thinking (additionalModelRequestFields) a reasoning block
// with text and a signature before the answer.
func TestBedrockConverseSDKToolChoiceAndThinking(t *testing.T) {
	t.Parallel()
	url := startFeatures(t)
	rt := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	spec := func(name, prop string) types.Tool {
		return &types.ToolMemberToolSpec{Value: types.ToolSpecification{Name: aws.String(name),
			InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{"type": "object",
				"properties": map[string]any{prop: map[string]any{"type": "string"}}})}}}
	}
	tools := []types.Tool{spec("get_weather", "city"), spec("get_time", "tz")}
	thinking := document.NewLazyDocument(map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": 1024}})
	tests := []struct {
		name      string
		choice    types.ToolChoice
		fields    document.Interface
		reasoning bool
		want      []string // tools called; nil: a text answer
	}{
		{name: "forced tool", choice: &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String("get_time")}}, want: []string{"get_time"}},
		{name: "any", choice: &types.ToolChoiceMemberAny{}, want: []string{"get_weather", "get_time"}},
		{name: "thinking", fields: thinking, reasoning: true},
		// Thinking takes auto (a forced choice is refused, as Claude does).
		{name: "thinking and tools", choice: &types.ToolChoiceMemberAuto{},
			fields: thinking, reasoning: true, want: []string{"get_weather", "get_time"}},
	}
	for _, tc := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tc.name, stream), func(t *testing.T) {
				t.Parallel()
				msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Weather and time?"}}}}
				var toolConfig *types.ToolConfiguration
				if tc.choice != nil {
					toolConfig = &types.ToolConfiguration{Tools: tools, ToolChoice: tc.choice}
				}
				var (
					called               []string
					reasoning, sig       string
					text                 bool
					reasoningFirst, seen bool
					stop                 types.StopReason
				)
				if !stream {
					out, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String("anthropic.claude-sonnet-4-5"), Messages: msgs,
						ToolConfig: toolConfig, AdditionalModelRequestFields: tc.fields})
					if err != nil {
						t.Fatalf("Converse: %v", err)
					}
					for i, b := range out.Output.(*types.ConverseOutputMemberMessage).Value.Content {
						switch b := b.(type) {
						case *types.ContentBlockMemberReasoningContent:
							r := b.Value.(*types.ReasoningContentBlockMemberReasoningText).Value
							reasoning, sig, reasoningFirst = aws.ToString(r.Text), aws.ToString(r.Signature), i == 0
						case *types.ContentBlockMemberToolUse:
							called = append(called, aws.ToString(b.Value.Name))
						case *types.ContentBlockMemberText:
							text = text || b.Value != ""
						}
						seen = true
					}
					stop = out.StopReason
				} else {
					out, err := rt.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String("anthropic.claude-sonnet-4-5"), Messages: msgs,
						ToolConfig: toolConfig, AdditionalModelRequestFields: tc.fields})
					if err != nil {
						t.Fatalf("ConverseStream: %v", err)
					}
					es := out.GetStream()
					defer es.Close()
					for ev := range es.Events() {
						switch ev := ev.(type) {
						case *types.ConverseStreamOutputMemberContentBlockStart:
							if s, ok := ev.Value.Start.(*types.ContentBlockStartMemberToolUse); ok {
								called = append(called, aws.ToString(s.Value.Name))
							}
						case *types.ConverseStreamOutputMemberContentBlockDelta:
							switch d := ev.Value.Delta.(type) {
							case *types.ContentBlockDeltaMemberReasoningContent:
								reasoningFirst = aws.ToInt32(ev.Value.ContentBlockIndex) == 0
								switch r := d.Value.(type) {
								case *types.ReasoningContentBlockDeltaMemberText:
									reasoning += r.Value
								case *types.ReasoningContentBlockDeltaMemberSignature:
									sig += r.Value
								}
							case *types.ContentBlockDeltaMemberText:
								text = text || d.Value != ""
							}
						case *types.ConverseStreamOutputMemberMessageStop:
							stop = ev.Value.StopReason
						}
						seen = true
					}
					if err := es.Err(); err != nil {
						t.Fatal(err)
					}
				}
				if !seen {
					t.Fatal("empty answer")
				}
				if got := reasoning != ""; got != tc.reasoning || tc.reasoning && (sig == "" || !reasoningFirst) {
					t.Errorf("reasoning %q, signature %q, first %v; want reasoning %v, signed, first", reasoning, sig, reasoningFirst, tc.reasoning)
				}
				if fmt.Sprint(called) != fmt.Sprint(tc.want) {
					t.Errorf("tools called %v, want %v", called, tc.want)
				}
				wantStop := types.StopReasonToolUse
				if tc.want == nil {
					wantStop = types.StopReasonEndTurn
					if !text {
						t.Error("no text answer")
					}
				}
				if stop != wantStop {
					t.Errorf("stop reason %q, want %q", stop, wantStop)
				}
			})
		}
	}
}
