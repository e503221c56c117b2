package translate

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ConverseFamily is the model family behind a Bedrock model id. Converse
// is one API for every family, but what a request carries in
// additionalModelRequestFields (reasoning, top_k) is the model's own: a
// translation towards Converse sends each family's documented member, and
// refuses by name what a family has no documented member for, rather than
// sending another family's (which Bedrock refuses or the model ignores).
type ConverseFamily int

// Converse families.
const (
	// FamilyClaude is Anthropic's Claude: thinking, top_k and
	// anthropic_beta in additionalModelRequestFields. It is the zero value:
	// the family of a translation whose caller does not name the model,
	// and of a model id that names no known provider (an application
	// inference profile's ARN), as before translations knew families.
	FamilyClaude ConverseFamily = iota
	// FamilyNova is Amazon Nova 1 Micro, Lite and Pro: top_k as
	// inferenceConfig.topK; no reasoning control.
	FamilyNova
	// FamilyNovaReasoning is an Amazon Nova model with extended thinking:
	// the Nova 2 models and Nova Premier. reasoningConfig (type enabled,
	// maxReasoningEffort low, medium or high) and inferenceConfig.topK.
	FamilyNovaReasoning
	// FamilyOther is any other provider's model (Mistral, Meta Llama,
	// Amazon Titan, Cohere, AI21, DeepSeek, ...): no reasoning control and
	// no top_k documented through Converse.
	FamilyOther
)

func (f ConverseFamily) String() string {
	switch f {
	case FamilyClaude:
		return "claude"
	case FamilyNova:
		return "nova"
	case FamilyNovaReasoning:
		return "nova-reasoning"
	case FamilyOther:
		return "other"
	}
	return fmt.Sprintf("ConverseFamily(%d)", int(f))
}

// otherProviders are the Bedrock model providers of FamilyOther, as a
// model id names them: "mistral.mistral-large-2402-v1:0",
// "eu.meta.llama3-2-1b-instruct-v1:0".
var otherProviders = []string{"amazon.", "meta.", "mistral.", "cohere.", "ai21.", "deepseek.", "qwen.", "openai.", "writer.", "twelvelabs.",
	"google.", "nvidia.", "minimax.", "moonshot.", "stability."}

// BedrockFamily returns the family of a Bedrock model id: a foundation
// model id, an inference profile id (eu.amazon.nova-2-lite-v1:0) or an ARN
// holding one. An id naming no known provider is FamilyClaude.
func BedrockFamily(model string) ConverseFamily {
	switch {
	case strings.Contains(model, "anthropic.") || strings.Contains(model, "claude"):
		return FamilyClaude
	case strings.Contains(model, "amazon.nova-2") || strings.Contains(model, "amazon.nova-premier"):
		return FamilyNovaReasoning
	case strings.Contains(model, "amazon.nova-"):
		return FamilyNova
	}
	for _, p := range otherProviders {
		if strings.HasPrefix(model, p) || strings.Contains(model, "."+p) || strings.Contains(model, "/"+p) {
			return FamilyOther
		}
	}
	return FamilyClaude
}

// Reasons reports whether the family's reasoning can be asked for through
// Converse.
func (f ConverseFamily) Reasons() bool { return f == FamilyClaude || f == FamilyNovaReasoning }

// noReasoning is the reason a request asking for reasoning is refused
// for a family without a documented reasoning control.
func (f ConverseFamily) noReasoning() string {
	switch f {
	case FamilyNova:
		return "Amazon Nova Micro, Lite and Pro have no reasoning control on Bedrock; Nova 2 models and Nova Premier take reasoningConfig"
	}
	return "this model family has no reasoning control documented for Bedrock Converse; Claude, Amazon Nova 2 and Nova Premier have one"
}

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
// family documents it (Claude: top_k; Nova: inferenceConfig.topK), or
// refuses it at path.
func (f ConverseFamily) topKFields(r refuser, path string, topK int64, fields map[string]any) error {
	switch f {
	case FamilyClaude:
		fields["top_k"] = topK
	case FamilyNova, FamilyNovaReasoning:
		fields["inferenceConfig"] = map[string]any{"topK": topK}
	default:
		return r.because(path, "this model family takes no top_k through Bedrock Converse; Claude and Amazon Nova models do")
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
