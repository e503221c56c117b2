// Package bedrockmodel reads a Bedrock model id: which provider's model it
// names and the family of request fields that model takes. It is the one
// classifier the translator (internal/translate/converse_family.go), the
// capability defaults (internal/topology/capabilities.go), the simulated
// Bedrock server (internal/mockllm/bedrock_invoke.go) and the simulated
// Bedrock backend (internal/backend/mock.go) share, so that they cannot
// drift apart. It is pure: no I/O, the standard library only.
package bedrockmodel

import (
	"fmt"
	"strings"
)

// Family is the family of request fields a Bedrock model takes beside
// Converse's common ones (additionalModelRequestFields: reasoning, top_k,
// beta flags).
type Family int

// Families.
const (
	// Claude is Anthropic's Claude: thinking, top_k and anthropic_beta. It
	// is the zero value, and the family of an id that names no provider
	// (an application inference profile's or a provisioned model's ARN),
	// which Meridian serves as Claude as it did before it knew families:
	// an assumption a topology corrects with backend.family. (An imported
	// model's ARN is Other; a custom model's, its base model's family.)
	Claude Family = iota
	// Nova is an Amazon Nova model without a documented reasoning control
	// (Nova Micro, Lite, Pro and Premier, Nova 2 Pro...): top_k as
	// inferenceConfig.topK only. Amazon's Nova 2 user guide names Nova 2
	// Lite as the model with extended thinking; Nova 1 models answer a
	// reasoningConfig with "Malformed input request: the provided
	// reasoning config value is invalid"; Premier and Nova 2 Pro are not
	// confirmed to take one, so they are served without (fail-closed).
	Nova
	// NovaReasoning is Amazon Nova 2 Lite: reasoningConfig (type enabled,
	// maxReasoningEffort low, medium or high) and inferenceConfig.topK.
	NovaReasoning
	// GPTOSS is OpenAI's open-weight gpt-oss models (openai.gpt-oss-20b-1:0,
	// openai.gpt-oss-120b-1:0): reasoning_effort (low, medium, high) in
	// additionalModelRequestFields, the flat Chat Completions member.
	GPTOSS
	// MistralTopK is a Mistral model whose Bedrock parameters list top_k
	// (the Mistral AI text-completion models: Mistral 7B Instruct, Mixtral
	// 8x7B Instruct, Mistral Large (2402), Mistral Small (2402)): top_k in
	// additionalModelRequestFields, which carries a model's own parameters.
	MistralTopK
	// Other is any other provider's model, known (Mistral Large 2, Meta
	// Llama, Amazon Titan, Cohere, DeepSeek...) or not (a provider this
	// package has never heard of): no reasoning control and no top_k, and
	// never Claude's fields.
	Other
)

func (f Family) String() string {
	switch f {
	case Claude:
		return "claude"
	case Nova:
		return "nova"
	case NovaReasoning:
		return "nova-reasoning"
	case GPTOSS:
		return "gpt-oss"
	case MistralTopK:
		return "mistral-top-k"
	case Other:
		return "other"
	}
	return fmt.Sprintf("Family(%d)", int(f))
}

// Families lists every family, in the order of their values.
var Families = []Family{Claude, Nova, NovaReasoning, GPTOSS, MistralTopK, Other}

// FamilyNames lists the names of [Families] (their String), the values a
// topology's backend.family takes.
func FamilyNames() []string {
	names := make([]string, len(Families))
	for i, f := range Families {
		names[i] = f.String()
	}
	return names
}

// ParseFamily returns the family named name (a [Family.String]: "claude",
// "nova", "nova-reasoning", "gpt-oss", "mistral-top-k", "other"), and
// false for any other name.
func ParseFamily(name string) (Family, bool) {
	for _, f := range Families {
		if f.String() == name {
			return f, true
		}
	}
	return Other, false
}

// Reasons reports whether a request can ask the family's models for
// reasoning through Converse.
func (f Family) Reasons() bool { return f == Claude || f == NovaReasoning || f == GPTOSS }

// TopK reports whether the family's models take top_k through Converse.
func (f Family) TopK() bool {
	return f == Claude || f == Nova || f == NovaReasoning || f == MistralTopK
}

// Model is what a Bedrock model id says.
type Model struct {
	// Provider is the provider token ("anthropic", "amazon", "mistral",
	// "zai"), or "" when the id names none.
	Provider string
	// Name is the rest of the id after the provider token and its dot
	// ("nova-2-lite-v1:0"), or the whole last part when there is no
	// provider token.
	Name string
	// Family is the family of fields the model takes.
	Family Family
}

// geographies are the prefixes of cross-Region (system-defined)
// inference profile ids, "eu.amazon.nova-2-lite-v1:0": the geographies
// AWS's CDK names for cross-Region inference profiles (US, EU, APAC, US
// GovCloud, Japan, Australia, and Global). A prefix not confirmed there
// (a Canadian one, say) is read as an unknown provider: family Other,
// which gets no Claude fields (fail-closed).
var geographies = []string{"us-gov.", "us.", "eu.", "apac.", "global.", "jp.", "au."}

// mistralTopK are the Mistral models (as their ids begin after
// "mistral.") that AWS's Mistral AI text-completion parameters list with
// top_k.
var mistralTopK = []string{"mistral-7b-instruct", "mixtral-8x7b-instruct", "mistral-large-2402", "mistral-small-2402"}

// Parse reads a Bedrock model id: a foundation model id
// ("mistral.mistral-large-2402-v1:0"), a cross-Region inference profile id
// ("eu.amazon.nova-2-lite-v1:0") or an ARN holding either
// ("arn:aws:bedrock:us-east-1::foundation-model/mistral...."). It reads the
// part after the last "/", drops a geography prefix, and takes the
// provider token before the first ".".
//
// Two kinds of ARN are read otherwise. A custom model's ARN
// (".../custom-model/amazon.nova-micro-v1:0:128k/abc") names its base
// model after "custom-model/": it is read as that model. An imported
// model's (".../imported-model/abc") is Other: Custom Model Import takes
// open-weight architectures (Llama, Mistral, Qwen...), never Claude. An id
// with no provider token otherwise (an application inference profile's or
// a provisioned model's ARN, which name no model) is read as Claude, as
// Meridian served it before it knew families: an assumption, which a
// topology corrects with backend.family.
func Parse(id string) Model {
	if _, rest, ok := strings.Cut(id, ":custom-model/"); ok {
		if base, _, ok := strings.Cut(rest, "/"); ok && base != "" {
			return parseID(base)
		}
		// A custom model whose ARN names no base model: unknown, so none
		// of Claude's fields (fail-closed).
		return Model{Name: rest, Family: Other}
	}
	if _, rest, ok := strings.Cut(id, ":imported-model/"); ok {
		return Model{Name: rest, Family: Other}
	}
	return parseID(id[strings.LastIndexByte(id, '/')+1:])
}

// parseID reads a model or inference profile id, without an ARN's prefix.
func parseID(s string) Model {
	for _, g := range geographies {
		if strings.HasPrefix(s, g) {
			s = s[len(g):]
			break
		}
	}
	i := strings.IndexByte(s, '.')
	if i <= 0 {
		return Model{Name: s, Family: Claude}
	}
	m := Model{Provider: s[:i], Name: s[i+1:]}
	m.Family = family(m.Provider, m.Name)
	return m
}

// providers are the provider tokens of Bedrock's foundation models that
// this package knows, whatever their family.
var providers = []string{"ai21", "amazon", "anthropic", "cohere", "deepseek", "google", "luma", "meta", "minimax", "mistral",
	"moonshotai", "nvidia", "openai", "qwen", "stability", "twelvelabs", "writer", "zai"}

// KnownProvider reports whether provider is the provider token of a
// Bedrock foundation model this package knows. A model id naming another
// ("demo" in "eu.demo.chat-small", another Meridian node's model, or an
// unconfirmed geography prefix) is family Other by default; a topology
// says its family with backend.family.
func KnownProvider(provider string) bool {
	for _, p := range providers {
		if p == provider {
			return true
		}
	}
	return false
}

// FamilyOf returns the family of the model a Bedrock model id names.
func FamilyOf(id string) Family { return Parse(id).Family }

func family(provider, name string) Family {
	switch provider {
	case "anthropic":
		return Claude
	case "amazon":
		switch {
		case strings.HasPrefix(name, "nova-2-lite"):
			return NovaReasoning
		case strings.HasPrefix(name, "nova-"):
			return Nova
		}
	case "openai":
		if strings.HasPrefix(name, "gpt-oss-") {
			return GPTOSS
		}
	case "mistral":
		for _, p := range mistralTopK {
			if strings.HasPrefix(name, p) {
				return MistralTopK
			}
		}
	}
	return Other
}

// SimulatorFamily returns the family the simulated Bedrock server serves
// a model name as: a Bedrock model id's family, except that a name whose
// model part holds no digit ("demo.chat", a topology's own name for a
// simulated model; every Bedrock foundation model id carries a version or
// model number) is served as Claude, as the simulator always has.
func SimulatorFamily(name string) Family {
	m := Parse(name)
	if m.Family == Other && !strings.ContainsAny(m.Name, "0123456789") {
		return Claude
	}
	return m.Family
}
