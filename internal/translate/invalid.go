package translate

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// A value is checked against the client's API before the target's: one
// the client's API does not define is the client's mistake (*InvalidError,
// answered at once, docs/api.md "Per field, per pair of dialects"), one it
// defines that this target cannot express is this deployment's limit
// (*UnsupportedError, which another destination may carry). The sets are
// the values the client SDKs in go.mod define for each member; a value
// added to the client's API is added here, or it is refused as invalid
// rather than sent on.

// openAIEfforts are Chat Completions' reasoning_effort values (and the
// Responses API's reasoning.effort).
var openAIEfforts = []string{"none", "minimal", "low", "medium", "high", "xhigh", "max"}

const openAIEffortValues = "the values the API defines: none, minimal, low, medium, high, xhigh, max"

// openAIToolChoiceModes are Chat Completions' tool_choice strings, and
// openAIToolChoiceTypes the types of its object form.
var (
	openAIToolChoiceModes = []string{"none", "auto", "required"}
	openAIToolChoiceTypes = []string{"function", "allowed_tools", "custom"}
)

// anthropicThinkingTypes are the Messages API's thinking types (also
// Claude's thinking in Converse additionalModelRequestFields).
var anthropicThinkingTypes = []string{"enabled", "disabled", "adaptive", "between_tools"}

const anthropicThinkingValues = "the values the API defines: enabled, disabled, adaptive, between_tools"

// anthropicToolChoiceTypes are the Messages API's tool_choice types.
var anthropicToolChoiceTypes = []string{"auto", "any", "tool", "none"}

// checkEffort refuses a reasoning effort the OpenAI APIs do not define;
// "" is absent (see emptyEffort for an empty string sent).
func checkEffort(path, effort string) error {
	if effort == "" || slices.Contains(openAIEfforts, effort) {
		return nil
	}
	return invalid(path, openAIEffortValues)
}

// invalidOpenAI refuses the members of a Chat Completions request whose
// value the API does not define.
func invalidOpenAI(req *openai.ChatCompletionRequest) error {
	if err := checkEffort("reasoning_effort", req.ReasoningEffort); err != nil {
		return err
	}
	if c := req.ToolChoice; c != nil {
		switch {
		case c.Mode != "":
			if !slices.Contains(openAIToolChoiceModes, c.Mode) {
				return invalid("tool_choice", "the values the API defines: none, auto, required, or an object with a type")
			}
		case !slices.Contains(openAIToolChoiceTypes, c.Type):
			return invalid("tool_choice.type", "the types the API defines: function, allowed_tools, custom")
		case c.Type == "function" && (c.Function == nil || c.Function.Name == ""):
			return invalid("tool_choice.function.name", "a function tool choice names its function")
		}
	}
	return nil
}

// invalidAnthropic refuses the members of a Messages request whose value
// the API does not define.
func invalidAnthropic(req *anthropic.Request) error {
	if th := req.Thinking; th != nil && !slices.Contains(anthropicThinkingTypes, th.Type) {
		return invalid("thinking.type", anthropicThinkingValues)
	}
	if c := req.ToolChoice; c != nil {
		if !slices.Contains(anthropicToolChoiceTypes, c.Type) {
			return invalid("tool_choice.type", "the types the API defines: auto, any, tool, none")
		}
		if c.Type == "tool" && c.Name == "" {
			return invalid("tool_choice.name", "a tool choice of type tool names its tool")
		}
	}
	return nil
}

// invalidConverse refuses the members of a Converse request whose value
// the API does not define: a tool choice that is not exactly one of its
// union's members, and Claude's thinking in additionalModelRequestFields
// of a type the Messages API does not define (the member is Claude's;
// Bedrock hands it to the model as is).
func invalidConverse(req *converse.Request) error {
	if tc := req.ToolConfig; tc != nil && tc.ToolChoice != nil {
		c := tc.ToolChoice
		if c.Auto == nil && c.Any == nil && c.Tool == nil && len(c.Extra) == 0 {
			return invalid("toolConfig.toolChoice", "a tool choice has exactly one member: auto, any or tool")
		}
		if c.Tool != nil && c.Tool.Name == "" {
			return invalid("toolConfig.toolChoice.tool.name", "a tool choice of tool names its tool")
		}
	}
	if jsonx.IsNull(req.AdditionalModelRequestFields) {
		return nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(req.AdditionalModelRequestFields, &fields) != nil {
		return nil // the translators refuse it
	}
	if raw, ok := fields["thinking"]; ok && !jsonx.IsNull(raw) {
		var th struct {
			Type *string `json:"type"`
		}
		if json.Unmarshal(raw, &th) == nil && (th.Type == nil || !slices.Contains(anthropicThinkingTypes, *th.Type)) {
			return invalid("additionalModelRequestFields.thinking.type", anthropicThinkingValues)
		}
	}
	if raw, ok := fields["reasoning_effort"]; ok && !jsonx.IsNull(raw) {
		// OpenAI gpt-oss's own member, with OpenAI's values.
		if s, ok := jsonx.String(raw); ok && (s == "" || checkEffort("", s) != nil) {
			return invalid("additionalModelRequestFields.reasoning_effort", openAIEffortValues)
		}
	}
	return nil
}

// emptyEffort refuses a reasoning_effort (Chat Completions, top level) or
// reasoning.effort (Responses) sent as an empty string, which no API
// defines and which the typed decode cannot tell from an absent member:
// left alone it would be served as no effort by a translation and sent on
// to an OpenAI-compatible deployment. path is "reasoning_effort" or
// "reasoning.effort".
func emptyEffort(body []byte, path string) error {
	if !bytes.Contains(body, []byte("effort")) && !bytes.Contains(body, []byte(`\u`)) {
		return nil // named neither as written nor with an escape: one scan
	}
	var err error
	_ = jsonx.Members(body, func(k, v []byte) error {
		switch {
		case path == "reasoning_effort" && jsonx.KeyIs(k, "reasoning_effort"):
			if jsonx.StringIs(v, "") {
				err = invalid(path, openAIEffortValues)
			}
		case path == "reasoning.effort" && jsonx.KeyIs(k, "reasoning") && len(v) > 0 && v[0] == '{':
			_ = jsonx.Members(v, func(k2, v2 []byte) error {
				if jsonx.KeyIs(k2, "effort") && jsonx.StringIs(v2, "") {
					err = invalid(path, openAIEffortValues)
				}
				return nil
			})
		}
		return nil
	})
	return err
}

// EmptyEffort reports, as an *InvalidError, a Chat Completions body whose
// reasoning_effort is an empty string (see emptyEffort), for a deployment
// the body passes through to, so that it is refused by name as the
// translations refuse it.
func EmptyEffort(body []byte) error { return emptyEffort(body, "reasoning_effort") }
