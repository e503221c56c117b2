package topology

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/bedrockmodel"
)

// Capabilities a deployment may declare under deployments[].capabilities.
// A request that uses one is routed only to deployments that have it.
const (
	// CapabilityChat is text generation: chat completions, Converse,
	// Messages, Responses and InvokeModel. A deployment has it unless its
	// list names embeddings without it (see [Generates]), so lists written
	// for chat models need not name it.
	CapabilityChat          = "chat"
	CapabilityTools         = "tools"
	CapabilityVision        = "vision"
	CapabilityJSONSchema    = "json_schema"
	CapabilityReasoning     = "reasoning"
	CapabilityN             = "n"
	CapabilityLogprobs      = "logprobs"
	CapabilityDocuments     = "documents"
	CapabilityPromptCaching = "prompt_caching"
	CapabilityEmbeddings    = "embeddings"
)

// KnownCapabilities lists every capability name, sorted.
var KnownCapabilities = []string{CapabilityChat, CapabilityDocuments, CapabilityEmbeddings, CapabilityJSONSchema, CapabilityLogprobs,
	CapabilityN, CapabilityPromptCaching, CapabilityReasoning, CapabilityTools, CapabilityVision}

// DefaultCapabilities returns what a deployment of backend type typ has
// when its capabilities are not listed: what the API it speaks can
// express. Bedrock's Converse has neither n nor logprobs; a Bedrock
// deployment's own defaults also depend on its model's family (see
// [Deployment.EffectiveCapabilities]).
func DefaultCapabilities(typ string) []string {
	switch typ {
	case BackendBedrock:
		return []string{CapabilityChat, CapabilityDocuments, CapabilityJSONSchema, CapabilityPromptCaching, CapabilityReasoning, CapabilityTools, CapabilityVision}
	case BackendOpenAI:
		return []string{CapabilityChat, CapabilityDocuments, CapabilityJSONSchema, CapabilityLogprobs, CapabilityN, CapabilityPromptCaching,
			CapabilityReasoning, CapabilityTools, CapabilityVision}
	}
	return slices.Clone(KnownCapabilities) // mock: the simulator serves every feature
}

// EffectiveCapabilities returns the deployment's capabilities: the listed
// ones, or its backend type's defaults when none are listed.
func (d Deployment) EffectiveCapabilities() []string {
	if d.Capabilities != nil {
		return d.Capabilities
	}
	if d.embeddingModelOnBedrock() {
		// A Titan or Cohere embedding model embeds and takes no chat body,
		// whatever a chat model of its backend type can do; the simulator
		// reached through the Bedrock adapter answers as Bedrock does for
		// the model id it serves (backend.model, else the deployment's
		// model).
		return []string{CapabilityEmbeddings}
	}
	if d.Backend.Type == BackendMock && d.Backend.API == BackendBedrock {
		// Any other model the simulator serves through the Bedrock adapter
		// has a bedrock deployment's defaults: it chats, cannot embed, and
		// has neither n nor logprobs, so routing excludes it as it would
		// exclude the real one.
		return mockBedrockChatCapabilities(d)
	}
	if d.Backend.Type == BackendBedrock {
		return bedrockFamilyCapabilities(d.Backend.BedrockFamily())
	}
	return DefaultCapabilities(d.Backend.Type)
}

// mockBedrockChatCapabilities returns the defaults of a simulated Bedrock
// chat model: those of the Bedrock model it is named as, with a
// topology's own name ("demo.chat", see bedrockmodel.SimulatorFamily)
// served as Claude, as the simulator serves it.
func mockBedrockChatCapabilities(d Deployment) []string {
	caps := DefaultCapabilities(BackendBedrock)
	if !bedrockmodel.SimulatorFamily(cmp.Or(d.Backend.Model, d.Model)).Reasons() {
		caps = slices.DeleteFunc(caps, func(c string) bool { return c == CapabilityReasoning })
	}
	return caps
}

// bedrockFamilyCapabilities returns the defaults of a Bedrock chat model
// of family f: a bedrock deployment's, without reasoning for a family with
// no reasoning control through Converse. Claude (thinking), Amazon Nova 2
// Lite (reasoningConfig) and OpenAI gpt-oss (reasoning_effort) have one;
// other Nova models and every other provider's models, known or not, have
// none, so a request asking for reasoning is routed elsewhere or refused
// naming its field. The family is the translator's own (see
// [Backend.BedrockFamily]); internal/backend's
// TestBedrockCapabilitiesAgreeWithPlan checks that the adapter accepts
// reasoning exactly where this default has it.
func bedrockFamilyCapabilities(f bedrockmodel.Family) []string {
	caps := DefaultCapabilities(BackendBedrock)
	if !f.Reasons() {
		caps = slices.DeleteFunc(caps, func(c string) bool { return c == CapabilityReasoning })
	}
	return caps
}

// BedrockFamily returns the family of request fields a bedrock backend's
// model takes: Family when set (validation refuses an unknown name), else
// the family internal/schema/bedrockmodel reads from Model. The node hands
// Family and Model to the Bedrock adapter, which resolves them alike
// (internal/backend/bedrock.go), so that the capability defaults, the
// adapter's pass-through and its translation to Converse read one family.
func (b Backend) BedrockFamily() bedrockmodel.Family {
	if f, ok := bedrockmodel.ParseFamily(b.Family); ok {
		return f
	}
	return bedrockmodel.FamilyOf(b.Model)
}

// EmbeddingFamily is the InvokeModel body a Bedrock embedding model takes.
// The model id decides it, here only: the capabilities a deployment has by
// default and the body the Bedrock adapter sends both read it.
type EmbeddingFamily int

// Embedding families.
const (
	EmbeddingNone            EmbeddingFamily = iota // not an embedding model: a chat model
	EmbeddingTitanTextV1                            // amazon.titan-embed-text-v1: inputText only, 1536 dimensions
	EmbeddingTitanTextV2                            // amazon.titan-embed-text-v2:0: inputText, dimensions, normalize
	EmbeddingTitanMultimodal                        // amazon.titan-embed-image-v1: inputText and/or inputImage, embeddingConfig
	EmbeddingCohereV3                               // cohere.embed-english-v3, cohere.embed-multilingual-v3
	EmbeddingCohereV4                               // cohere.embed-v4:0: adds output_dimension
)

func (f EmbeddingFamily) String() string {
	switch f {
	case EmbeddingNone:
		return "none"
	case EmbeddingTitanTextV1:
		return "titan-text-v1"
	case EmbeddingTitanTextV2:
		return "titan-text-v2"
	case EmbeddingTitanMultimodal:
		return "titan-multimodal"
	case EmbeddingCohereV3:
		return "cohere-v3"
	case EmbeddingCohereV4:
		return "cohere-v4"
	}
	return "EmbeddingFamily(" + strconv.Itoa(int(f)) + ")"
}

// BedrockEmbeddingFamily returns the embedding family of a Bedrock model
// id (a foundation model id, an inference profile id such as
// eu.amazon.titan-embed-image-v1:0, or an ARN holding one), or
// EmbeddingNone for any other model. Any titan-embed id that is neither
// Text v2 nor Multimodal (amazon.titan-embed-text-v1,
// amazon.titan-embed-g1-text-02) is Text v1.
func BedrockEmbeddingFamily(model string) EmbeddingFamily {
	// A chat model's id (every chat request asks, through Generates) costs
	// two scans.
	switch {
	case strings.Contains(model, "titan-embed"):
		switch {
		case strings.Contains(model, "titan-embed-text-v2"):
			return EmbeddingTitanTextV2
		case strings.Contains(model, "titan-embed-image"):
			return EmbeddingTitanMultimodal
		}
		return EmbeddingTitanTextV1
	case strings.Contains(model, "cohere.embed"):
		if strings.Contains(model, "cohere.embed-v4") {
			return EmbeddingCohereV4
		}
		return EmbeddingCohereV3
	}
	return EmbeddingNone
}

// bedrockEmbeddingModel reports whether a Bedrock model id (or inference
// profile id) names an Amazon Titan or Cohere embedding model.
func bedrockEmbeddingModel(model string) bool {
	return BedrockEmbeddingFamily(model) != EmbeddingNone
}

// Generates reports whether a deployment with capabilities caps (as
// [Deployment.EffectiveCapabilities] returns them) generates text: it does
// unless caps name embeddings and not chat. So an embedding model declared
// with [embeddings] is never sent a chat request, which its upstream would
// refuse in words of its own, and a list written for a chat model
// ([tools, vision], or [] for none of the optional features) keeps serving
// chat without naming it.
func Generates(caps []string) bool {
	return slices.Contains(caps, CapabilityChat) || !slices.Contains(caps, CapabilityEmbeddings)
}

// Generates reports whether the deployment serves text generation
// ([Generates] of its effective capabilities), without building them: it is
// asked for every chat request.
func (d Deployment) Generates() bool {
	if d.Capabilities != nil {
		return Generates(d.Capabilities)
	}
	// Every default list has chat but an embedding model's on Bedrock.
	return !d.embeddingModelOnBedrock()
}

// embeddingModelOnBedrock reports whether the deployment's defaults are
// those of a Titan or Cohere embedding model reached through Bedrock's API:
// embeddings only.
func (d Deployment) embeddingModelOnBedrock() bool {
	switch {
	case d.Backend.Type == BackendBedrock:
		return bedrockEmbeddingModel(d.Backend.Model)
	case d.Backend.Type == BackendMock && d.Backend.API == BackendBedrock:
		return bedrockEmbeddingModel(cmp.Or(d.Backend.Model, d.Model))
	}
	return false
}

// validateCapabilities checks the names listed at field, and that a list
// naming embeddings without chat (an embeddings-only deployment) names no
// capability of text generation, which such a deployment never uses.
func validateCapabilities(p *problems, field string, caps []string) {
	for i, c := range caps {
		if !slices.Contains(KnownCapabilities, c) {
			p.add(field+"["+strconv.Itoa(i)+"]", "use one of "+strings.Join(KnownCapabilities, ", "), "%q is not a capability", c)
		}
	}
	if Generates(caps) {
		return
	}
	for i, c := range caps {
		if c != CapabilityEmbeddings && slices.Contains(KnownCapabilities, c) {
			p.add(field+"["+strconv.Itoa(i)+"]", "add chat to the list if this model also generates text, or remove "+c,
				"%q is a capability of text generation, but the list names embeddings without chat, so the deployment serves embeddings only", c)
			return
		}
	}
}

// validateMockAPI checks a mock deployment's api.
func validateMockAPI(p *problems, field string, b Backend) {
	if b.API != "" && (b.Type != BackendMock || (b.API != BackendOpenAI && b.API != BackendBedrock)) {
		p.add(field+".api", "use openai or bedrock on a mock backend, or leave it out", "%q is not an API of a %s backend", b.API, b.Type)
	}
}

// validateBackendFamily checks a deployment's backend.family: a family
// name, on a bedrock backend only (a simulated Bedrock model is served as
// the simulator reads its name, so a family there would make the adapter
// and the simulator disagree). A bedrock model whose id names a provider
// Meridian does not know is served as family other (no reasoning, no
// top_k, no Claude fields), which is noted: backend.family says what it is.
func validateBackendFamily(p *problems, field string, b Backend) {
	if b.Family != "" {
		if b.Type != BackendBedrock {
			p.add(field+".family", "remove it: only a bedrock backend takes family", "only a bedrock backend takes family; this one is of type %s", b.Type)
		} else if _, ok := bedrockmodel.ParseFamily(b.Family); !ok {
			p.add(field+".family", "use one of "+strings.Join(bedrockmodel.FamilyNames(), ", "), "%q is not a Bedrock model family", b.Family)
		}
		return
	}
	if b.Type != BackendBedrock || b.Model == "" || bedrockEmbeddingModel(b.Model) {
		return
	}
	if m := bedrockmodel.Parse(b.Model); m.Family == bedrockmodel.Other && m.Provider != "" && !bedrockmodel.KnownProvider(m.Provider) {
		p.note(field+".model", "docs/bedrock.md#model-families",
			"%q names provider %q, which Meridian does not know, so it is served as family other: no reasoning, no top_k, no Anthropic pass-through; if it is another Meridian node's model or a model of a known family, set backend.family (%s)",
			b.Model, m.Provider, strings.Join(bedrockmodel.FamilyNames(), ", "))
	}
}

// validateServiceTiers checks a deployment's service_tiers: priority and
// flex, each once (default is what every upstream serves unasked).
func validateServiceTiers(p *problems, field string, tiers []string) {
	for i, t := range tiers {
		f := field + "[" + strconv.Itoa(i) + "]"
		switch {
		case t != TierPriority && t != TierFlex:
			p.add(f, "use priority or flex (the default tier needs no declaration)", "%q is not a service tier an upstream can be asked for", t)
		case slices.Index(tiers, t) < i:
			p.add(f, "name each tier once", "%q is listed twice", t)
		}
	}
}
