package translate

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/bedrockmodel"
)

// ConverseFamily is the model family behind a Bedrock model id (see
// internal/schema/bedrockmodel, the one classifier the translator, the
// capability defaults and the simulator share). Converse is one API for
// every family, but what a request carries in additionalModelRequestFields
// (reasoning, top_k) is the model's own: a translation towards Converse
// sends each family's documented member, and refuses by name what a family
// has no documented member for, rather than sending another family's
// (which Bedrock refuses or the model ignores).
type ConverseFamily = bedrockmodel.Family

// Converse families (see bedrockmodel.Family).
const (
	// FamilyClaude is the zero value: the family of a translation whose
	// caller does not name the model.
	FamilyClaude        = bedrockmodel.Claude
	FamilyNova          = bedrockmodel.Nova
	FamilyNovaReasoning = bedrockmodel.NovaReasoning
	FamilyGPTOSS        = bedrockmodel.GPTOSS
	FamilyMistralTopK   = bedrockmodel.MistralTopK
	FamilyOther         = bedrockmodel.Other
)

// BedrockFamily returns the family of a Bedrock model id: a foundation
// model id, an inference profile id (eu.amazon.nova-2-lite-v1:0) or an ARN
// holding one. Only an Anthropic id, or one naming no provider (an
// application inference profile's ARN), is FamilyClaude.
func BedrockFamily(model string) ConverseFamily { return bedrockmodel.FamilyOf(model) }

// noReasoning is the reason a request asking for reasoning is refused
// for a family without a documented reasoning control.
func noReasoning(f ConverseFamily) string {
	if f == FamilyNova {
		return "this Amazon Nova model has no documented reasoning control on Bedrock; Nova 2 Lite takes reasoningConfig"
	}
	return "this model family has no reasoning control documented for Bedrock Converse; Claude, Amazon Nova 2 Lite and OpenAI gpt-oss have one"
}

// noThinkingDisplay is why a Messages request's thinking.display
// ("summarized", "omitted") is refused toward a model other than Claude:
// only Claude summarizes its thinking or withholds the text while keeping
// a signature; other reasoning models return their reasoning as written,
// and Meridian does not rewrite an answer's reasoning.
const noThinkingDisplay = "only Claude summarizes or omits its thinking text; this model returns its reasoning as it writes it; leave display out"

// gptOSSAlwaysReasons is why a request asking OpenAI gpt-oss for no
// reasoning (reasoning_effort none, thinking disabled) is refused: the
// model always reasons (medium by default) and takes low, medium or high,
// so sending nothing would silently reason at medium.
const gptOSSAlwaysReasons = "gpt-oss always reasons; the least is low"

// noEffortHigh is why Amazon Nova's maxReasoningEffort high is refused
// with a token limit: Nova's Converse API requires inferenceConfig.maxTokens
// unset when maxReasoningEffort is high (low and medium take maxTokens),
// and Meridian does not drop a limit the caller sent.
const noEffortHigh = "Nova takes maxReasoningEffort high only without a token limit (inferenceConfig.maxTokens unset)"

// novaEffort returns Amazon Nova's maxReasoningEffort for an OpenAI
// reasoning_effort: minimal is low, the least Nova offers.
func novaEffort(r refuser, effort string) (string, error) {
	switch effort {
	case "minimal", "low":
		return "low", nil
	case "medium", "high":
		return effort, nil
	}
	return "", r.because("reasoning_effort", "expressible values: none, minimal, low, medium, high")
}

// novaReasoning returns Amazon Nova's reasoningConfig for maxReasoningEffort
// effort.
func novaReasoning(effort string) map[string]any {
	return map[string]any{"type": "enabled", "maxReasoningEffort": effort}
}

// topKFields sets top_k in fields, additionalModelRequestFields, as the
// family documents it (Claude and the Mistral text-completion models:
// top_k; Nova: inferenceConfig.topK), or refuses it at path.
func topKFields(f ConverseFamily, r refuser, path string, topK int64, fields map[string]any) error {
	switch f {
	case FamilyClaude, FamilyMistralTopK:
		fields["top_k"] = topK
	case FamilyNova, FamilyNovaReasoning:
		fields["inferenceConfig"] = map[string]any{"topK": topK}
	default:
		return r.because(path, "this model family takes no top_k through Bedrock Converse; Claude, Amazon Nova and Mistral 7B, Mixtral 8x7B, Mistral Large (2402) and Small (2402) do")
	}
	return nil
}

// marshalFields encodes additionalModelRequestFields, or nil for none.
func marshalFields(fields map[string]any) json.RawMessage {
	if len(fields) == 0 {
		return nil
	}
	b, _ := json.Marshal(fields)
	return b
}
