package dialect

import (
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// The stop reasons of a canonical answer (one a backend re-encoded) in
// each client API. They agree with the translators' (internal/translate)
// for the same stop, so an answer shows the same reason whichever path
// it took. A stop the safety system made (inference.StopContentFiltered:
// OpenAI's content_filter, Converse's content_filtered or
// guardrail_intervened, Anthropic's refusal) is that API's own: OpenAI
// content_filter, Converse content_filtered, Anthropic refusal (the
// reason Anthropic documents for a reply its classifiers stopped), and a
// Responses response incomplete with reason content_filter.

// AnthropicStopReason returns the Anthropic Messages stop_reason of a
// canonical stop reason: max_tokens and stop_sequence keep their names,
// content_filtered is refusal, every other reason is end_turn.
func AnthropicStopReason(s inference.StopReason) string {
	switch s {
	case inference.StopMaxTokens:
		return anthropic.StopMaxTokens
	case inference.StopSequence:
		return anthropic.StopStopSequence
	case inference.StopContentFiltered:
		return anthropic.StopRefusal
	}
	return anthropic.StopEndTurn
}

// OpenAIFinishReason returns the Chat Completions finish_reason of a
// canonical stop reason: max_tokens is length, content_filtered is
// content_filter, every other reason is stop.
func OpenAIFinishReason(s inference.StopReason) string {
	switch s {
	case inference.StopMaxTokens:
		return openai.FinishLength
	case inference.StopContentFiltered:
		return openai.FinishContentFilter
	}
	return openai.FinishStop
}

// ConverseStopReason returns the Converse stopReason of a canonical stop
// reason: the canonical vocabulary is Bedrock's, so each keeps its name;
// none is end_turn.
func ConverseStopReason(s inference.StopReason) string {
	if s == "" {
		return converse.StopEndTurn
	}
	return string(s)
}
