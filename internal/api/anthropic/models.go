package anthropic

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// The model list in Anthropic's shape (GET /v1/models and
// /v1/models/{id}). The OpenAI front end owns those paths and serves this
// shape to the callers [WantsModelShape] recognizes; it lists the same
// models in both shapes.

// Model is one entry of the model list: a callable inference profile or a
// model deployed in the region.
type Model struct {
	ID string
	// CreatedAt is when the entry was created; zero (a system profile, a
	// deployed model) reports the epoch, as Anthropic does for an unknown
	// release date.
	CreatedAt time.Time
	// MaxInputTokens and MaxTokens are the model's limits: its context
	// window (the topology's context_window), which bounds the input and,
	// in the gateway's max_tokens check (internal/gateway/maxtokens.go),
	// max_tokens. Zero (unset) leaves them out of the entry.
	MaxInputTokens, MaxTokens int
	// Features are the capabilities (topology.Capability* names) of the
	// entry: those that some deployment of its model has in a destination
	// the caller may use, where the gateway routes a request that uses one
	// (docs/api.md, "Features and capabilities"). The entry's
	// capabilities object says which of Anthropic's keys they support.
	Features []string
	// AlwaysThinks is set when a destination the caller may use serves a
	// model that cannot turn thinking off (gpt-oss on Bedrock: a
	// translation refuses thinking of type disabled for it).
	AlwaysThinks bool
}

// WantsModelShape reports whether a model list request comes from an
// Anthropic client: it carries anthropic-version, which Anthropic's SDKs
// send with every request and OpenAI's never do. An x-api-key alone does
// not decide it: some OpenAI-compatible clients send their key there too
// (internal/auth/apikey.go).
func WantsModelShape(r *http.Request) bool {
	return r.Header.Get("anthropic-version") != ""
}

// SetRequestID sets the request id headers of an answer to an Anthropic
// client: request-id, which its SDKs read, besides the gateway's.
func SetRequestID(h http.Header, id string) { h.Set(HeaderRequestID, id) }

// WriteError renders e in Anthropic's shape (with Retry-After and the
// anthropic-ratelimit-* headers when it has them); now dates the resets.
func WriteError(w http.ResponseWriter, e *inference.Error, now time.Time) { writeError(w, e, now) }

// modelInfo is the entry of Anthropic's model list (the SDK's ModelInfo).
// Every entry is active: deprecated_at, retires_at and line (no model
// line of Anthropic's) are null.
type modelInfo struct {
	Type           string            `json:"type"`
	ID             string            `json:"id"`
	DisplayName    string            `json:"display_name"`
	CreatedAt      string            `json:"created_at"`
	Lifecycle      string            `json:"lifecycle"`
	DeprecatedAt   *string           `json:"deprecated_at"`
	RetiresAt      *string           `json:"retires_at"`
	Line           *string           `json:"line"`
	MaxInputTokens int               `json:"max_input_tokens,omitempty"`
	MaxTokens      int               `json:"max_tokens,omitempty"`
	Capabilities   modelCapabilities `json:"capabilities"`
}

// support is one capability's {"supported": bool}.
type support struct {
	Supported bool `json:"supported"`
}

// modelCapabilities is the entry's capabilities object, with every key
// Anthropic's Models API sends (it sends them all, for every model; the
// SDK's ModelCapabilities). A key is supported only when the gateway can
// serve a Messages request that uses it on the entry; see capabilitiesOf.
type modelCapabilities struct {
	Batch             support `json:"batch"`
	Citations         support `json:"citations"`
	CodeExecution     support `json:"code_execution"`
	ContextManagement struct {
		Supported             bool    `json:"supported"`
		ClearThinking20251015 support `json:"clear_thinking_20251015"`
		ClearToolUses20250919 support `json:"clear_tool_uses_20250919"`
		Compact20260112       support `json:"compact_20260112"`
	} `json:"context_management"`
	Effort struct {
		Supported bool    `json:"supported"`
		Low       support `json:"low"`
		Medium    support `json:"medium"`
		High      support `json:"high"`
		Max       support `json:"max"`
		Xhigh     support `json:"xhigh"`
	} `json:"effort"`
	ImageInput  support `json:"image_input"`
	PDFInput    support `json:"pdf_input"`
	ServerTools struct {
		Supported     bool    `json:"supported"`
		CodeExecution support `json:"code_execution"`
		WebSearch     support `json:"web_search"`
	} `json:"server_tools"`
	StructuredOutputs support `json:"structured_outputs"`
	Thinking          struct {
		Supported bool `json:"supported"`
		Types     struct {
			Adaptive     support `json:"adaptive"`
			BetweenTools support `json:"between_tools"`
			Disabled     support `json:"disabled"`
			Enabled      support `json:"enabled"`
		} `json:"types"`
	} `json:"thinking"`
}

// capabilitiesOf answers Anthropic's capabilities from the gateway's
// features (docs/api.md, "Features and capabilities"):
//
//   - image_input is vision (image blocks), pdf_input documents (document
//     blocks), structured_outputs json_schema (output_config.format,
//     output_format);
//   - thinking and its type enabled are reasoning (thinking of type
//     enabled); type disabled is true, as Anthropic reports it for a model
//     without thinking, unless the model always thinks (m.AlwaysThinks);
//     adaptive and between_tools are refused by the translations
//     (internal/translate), so false;
//   - effort is reasoning, at the levels low, medium and high that every
//     translation expresses (max and xhigh are refused toward OpenAI-compatible
//     backends: internal/translate/anthropic_openai.go);
//   - batch (no Batch API here), citations (not routed on: a translation
//     refuses some), code_execution, server_tools (server tools run only
//     on Anthropic's own API) and context_management (refused by the
//     translations) are false.
func capabilitiesOf(m Model) modelCapabilities {
	var c modelCapabilities
	has := func(f string) bool { return slices.Contains(m.Features, f) }
	c.ImageInput.Supported = has(topology.CapabilityVision)
	c.PDFInput.Supported = has(topology.CapabilityDocuments)
	c.StructuredOutputs.Supported = has(topology.CapabilityJSONSchema)
	reasoning := has(topology.CapabilityReasoning)
	c.Thinking.Supported = reasoning
	c.Thinking.Types.Enabled.Supported = reasoning
	c.Thinking.Types.Disabled.Supported = !m.AlwaysThinks
	c.Effort.Supported = reasoning
	c.Effort.Low.Supported, c.Effort.Medium.Supported, c.Effort.High.Supported = reasoning, reasoning, reasoning
	return c
}

// modelPage is a page of Anthropic's model list (the SDK's Page).
type modelPage struct {
	Data    []modelInfo `json:"data"`
	HasMore bool        `json:"has_more"`
	FirstID *string     `json:"first_id"`
	LastID  *string     `json:"last_id"`
}

// info is m's entry. Its display name is its id: a profile has no other
// name meant for display.
func info(m Model) modelInfo {
	t := m.CreatedAt
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return modelInfo{Type: "model", ID: m.ID, DisplayName: m.ID, CreatedAt: t.UTC().Format(time.RFC3339),
		Lifecycle: "active", MaxInputTokens: m.MaxInputTokens, MaxTokens: m.MaxTokens, Capabilities: capabilitiesOf(m)}
}

// Model list paging, as Anthropic's API defines it: limit 1 to 1000,
// default 20.
const (
	defaultModelLimit = 20
	maxModelLimit     = 1000
)

// lifecycles are the lifecycle stages Anthropic's list filters on.
var lifecycles = []string{"active", "deprecated", "retired"}

// ModelListPage returns the body of the page of models that r's query
// asks GET /v1/models for: limit, after_id (the page right after that
// entry) or before_id (the page right before it), and lifecycle (every
// entry is active), sent bare or as lifecycle[] (anthropic-sdk-go writes
// list parameters with brackets), every value of both checked. beta
// (anthropic-sdk-go's client.Beta.Models sends beta=true) is ignored. A
// malformed parameter is refused naming it, as is any other query
// parameter; the caller records the refusal or the answer, then sends it
// (WriteModelAnswer). models is what the caller may see, in its order; a
// cursor that names none of them is refused, whether it names an entry
// the caller may not see (one hidden since the caller got the cursor) or
// no entry at all: the two answer alike, so that a cursor is no way to
// learn which hidden models exist (docs/api.md, "Who sees what").
func ModelListPage(r *http.Request, models []Model) ([]byte, *inference.Error) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "limit", "after_id", "before_id", "lifecycle", "lifecycle[]", "beta":
		case "":
			return nil, inference.Invalid(k, "a query parameter has no name (send limit, after_id, before_id or lifecycle)")
		default:
			return nil, inference.Invalid(k, k+": unknown query parameter (send limit, after_id, before_id or lifecycle)")
		}
	}
	limit := defaultModelLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxModelLimit {
			return nil, inference.Invalid("limit", "limit: must be an integer from 1 to 1000")
		}
		limit = n
	}
	filtered, active := false, false
	for _, k := range [...]string{"lifecycle", "lifecycle[]"} {
		for _, v := range q[k] {
			if !slices.Contains(lifecycles, v) {
				return nil, inference.Invalid(k, k+": "+inference.Clip(v, inference.EchoLimit)+" is not one of active, deprecated, retired")
			}
			filtered, active = true, active || v == "active"
		}
	}
	if filtered && !active {
		models = nil // every entry is active
	}
	after, before := q.Get("after_id"), q.Get("before_id")
	if after != "" && before != "" {
		return nil, inference.Invalid("before_id", "before_id: send either after_id or before_id, not both")
	}
	start, end := 0, len(models)
	switch {
	case after != "":
		i := slices.IndexFunc(models, func(m Model) bool { return m.ID == after })
		if i < 0 {
			return nil, inference.Invalid("after_id", "after_id: no model "+inference.Clip(after, inference.EchoLimit))
		}
		start = i + 1
		end = min(start+limit, len(models))
	case before != "":
		i := slices.IndexFunc(models, func(m Model) bool { return m.ID == before })
		if i < 0 {
			return nil, inference.Invalid("before_id", "before_id: no model "+inference.Clip(before, inference.EchoLimit))
		}
		end = i
		start = max(end-limit, 0)
	default:
		end = min(limit, len(models))
	}
	page := modelPage{Data: make([]modelInfo, 0, end-start)}
	for _, m := range models[start:end] {
		page.Data = append(page.Data, info(m))
	}
	if before != "" {
		page.HasMore = start > 0
	} else {
		page.HasMore = end < len(models)
	}
	if n := len(page.Data); n > 0 {
		page.FirstID, page.LastID = &page.Data[0].ID, &page.Data[n-1].ID
	}
	b, _ := json.Marshal(page)
	return b, nil
}

// ModelEntry returns the body answering GET /v1/models/{id}: the entry for
// id, or a not_found_error for the caller to record and render.
func ModelEntry(id, region string, models []Model) ([]byte, *inference.Error) {
	for _, m := range models {
		if m.ID == id {
			b, _ := json.Marshal(info(m))
			return b, nil
		}
	}
	return nil, &inference.Error{Kind: inference.KindNotFound, Param: "model",
		Message: "model: " + inference.Clip(id, inference.EchoLimit) + " does not exist or is not callable from " + region}
}

// WriteModelAnswer sends b, a body from ModelListPage or ModelEntry, with
// status 200.
func WriteModelAnswer(w http.ResponseWriter, b []byte) { writeJSON(w, http.StatusOK, b) }
