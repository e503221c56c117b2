package interregion

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// TestStopReasonOfKnown: every stop reason the schemas define (Converse's,
// Anthropic's, OpenAI's finish reasons), and Meridian's own, is read from
// a stream frame as itself without an allocation; Anthropic's tool_use
// (every tool-calling stream of a Claude model) was copied each time.
func TestStopReasonOfKnown(t *testing.T) {
	known := []string{
		string(inference.StopEndTurn), string(inference.StopMaxTokens), string(inference.StopSequence), string(inference.StopContentFiltered),
		converse.StopEndTurn, converse.StopToolUse, converse.StopMaxTokens, converse.StopStopSequence, converse.StopGuardrailIntervened,
		converse.StopContentFiltered, converse.StopMalformedModelOutput, converse.StopMalformedToolUse, converse.StopModelContextWindowExceeded,
		anthropic.StopEndTurn, anthropic.StopMaxTokens, anthropic.StopStopSequence, anthropic.StopToolUse, anthropic.StopPauseTurn, anthropic.StopRefusal,
		openai.FinishStop, openai.FinishLength, openai.FinishToolCalls, openai.FinishContentFilter, openai.FinishFunctionCall,
	}
	for _, s := range known {
		b := []byte(s)
		if got := stopReasonOf(b); string(got) != s {
			t.Errorf("stopReasonOf(%q) = %q", s, got)
		}
		if raceEnabled {
			continue
		}
		if n := testing.AllocsPerRun(100, func() { _ = stopReasonOf(b) }); n != 0 {
			t.Errorf("stopReasonOf(%q) allocates %v times, want 0", s, n)
		}
	}
	if got := stopReasonOf([]byte("something_new")); got != "something_new" {
		t.Errorf("an unknown reason = %q, want it as sent", got)
	}
}
