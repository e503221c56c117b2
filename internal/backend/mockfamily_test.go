package backend

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/schema/bedrockmodel"
)

// TestMockBedrockTranslatesAsItsFamily: a simulated Bedrock model's
// adapter translates for the family that internal/schema/bedrockmodel's
// SimulatorFamily gives its name, the classifier the simulated server,
// the capability defaults (internal/topology/capabilities.go) and so the
// simulator (internal/sim) read: a topology's own name ("demo.chat") is
// Claude everywhere, so a request for reasoning that routing sends it is
// served with thinking, not refused by its translator as a model family
// without reasoning; a named Bedrock model keeps its own family.
func TestMockBedrockTranslatesAsItsFamily(t *testing.T) {
	t.Parallel()
	body := []byte(`{"model":"m","max_completion_tokens":4096,"reasoning_effort":"low","messages":[{"role":"user","content":"hi"}]}`)
	for _, model := range []string{"demo.chat", "demo.chat-small", "acme.model", "amazon.nova-2-lite-v1:0", "amazon.nova-lite-v1:0", "meta.llama3-2-1b-instruct-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"} {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			m, err := NewMock(MockConfig{Model: model, API: "bedrock"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			req, err := inference.Peek(inference.DialectOpenAIChat, "", body, false)
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Complete(t.Context(), req)
			reasons := bedrockmodel.SimulatorFamily(model).Reasons()
			e := inference.AsError(err)
			switch {
			case reasons && err != nil:
				t.Fatalf("Complete = %v; the simulator's family %v reasons, want it served", err, bedrockmodel.SimulatorFamily(model))
			case !reasons && (err == nil || e.Param != "reasoning_effort" || !e.Unfit):
				t.Fatalf("Complete = %v; the simulator's family %v has no reasoning, want the deployment's refusal of reasoning_effort", err, bedrockmodel.SimulatorFamily(model))
			}
		})
	}
}
