package anthropic_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
)

// TestMessagesToolChoiceAndThinkingOnSimulatedBedrock: Anthropic's client
// pointed at a node reaches the simulated Bedrock model, by pass-through
// of the Anthropic body to InvokeModel (demo.br) and by translation to
// Converse (demo.nova), locally and forwarded; the simulator honours what
// the request asks, streamed and not: a forced tool choice among two
// tools yields exactly that tool, disable_parallel_tool_use one call,
// tool_choice none text, and thinking a thinking block with a signature
// before the answer.
func TestMessagesToolChoiceAndThinkingOnSimulatedBedrock(t *testing.T) {
	c := startCluster(t)
	client := c.client("eu-west-1", c.key)
	timeTool := anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{Name: "get_time",
		InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"tz": map[string]any{"type": "string"}}}}}
	tools := []anthropic.ToolUnionParam{weatherTool, timeTool}
	tests := []struct {
		name     string
		choice   anthropic.ToolChoiceUnionParam
		thinking bool
		want     []string // the tools called, in order; nil: a text answer
		invoke   bool     // Converse cannot express it: InvokeModel only
	}{
		{name: "forced tool", choice: anthropic.ToolChoiceParamOfTool("get_time"), want: []string{"get_time"}},
		{name: "any", choice: anthropic.ToolChoiceUnionParam{OfAny: &anthropic.ToolChoiceAnyParam{}}, want: []string{"get_weather", "get_time"}},
		{name: "parallel use disabled", choice: anthropic.ToolChoiceUnionParam{OfAuto: &anthropic.ToolChoiceAutoParam{DisableParallelToolUse: anthropic.Bool(true)}},
			want: []string{"get_weather"}, invoke: true},
		{name: "none", choice: anthropic.ToolChoiceUnionParam{OfNone: &anthropic.ToolChoiceNoneParam{}}, invoke: true},
		{name: "thinking", thinking: true},
		// Thinking takes auto (a forced choice is refused, as Claude does).
		{name: "thinking and tools", choice: anthropic.ToolChoiceUnionParam{OfAuto: &anthropic.ToolChoiceAutoParam{}}, thinking: true, want: []string{"get_weather", "get_time"}},
	}
	for _, sv := range []struct {
		name, model string
		converse    bool
	}{
		{"invoke local", "eu.demo.br", false}, {"invoke forwarded", "eu.demo.brfar", false},
		{"converse local", "eu.demo.nova", true}, {"converse forwarded", "eu.demo.novafar", true},
	} {
		for _, tc := range tests {
			if tc.invoke && sv.converse {
				continue // translation refuses it (a test of internal/translate)
			}
			for _, stream := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/stream=%v", sv.name, tc.name, stream), func(t *testing.T) {
					params := anthropic.MessageNewParams{Model: anthropic.Model(sv.model), MaxTokens: 2048,
						Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather and time in Paris?"))}}
					if tc.choice != (anthropic.ToolChoiceUnionParam{}) {
						params.Tools, params.ToolChoice = tools, tc.choice
					}
					if tc.thinking {
						params.Thinking = anthropic.ThinkingConfigParamOfEnabled(1024)
					}
					m, _ := send(t, client, params, stream)
					var called []string
					var thinking, text bool
					for i, b := range m.Content {
						switch b.Type {
						case "thinking":
							if i != 0 || b.Thinking == "" || b.Signature == "" {
								t.Errorf("thinking block %d %+v, want first, with text and signature", i, b)
							}
							thinking = true
						case "tool_use":
							if !json.Valid(b.Input) {
								t.Errorf("tool use %s input %q", b.Name, b.Input)
							}
							called = append(called, b.Name)
						case "text":
							text = text || b.Text != ""
						}
					}
					if thinking != tc.thinking {
						t.Errorf("thinking block: %v, want %v (content %+v)", thinking, tc.thinking, m.Content)
					}
					if fmt.Sprint(called) != fmt.Sprint(tc.want) {
						t.Errorf("tools called %v, want %v", called, tc.want)
					}
					wantStop := anthropic.StopReasonToolUse
					if tc.want == nil {
						wantStop = anthropic.StopReasonEndTurn
						if !text {
							t.Errorf("content %+v, want a text answer", m.Content)
						}
					}
					if m.StopReason != wantStop {
						t.Errorf("stop reason %q, want %q", m.StopReason, wantStop)
					}
				})
			}
		}
	}
}
