package translate

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// OpenAIToConverseRequest translates a Chat Completions request for a
// Converse backend. The model id and the choice of Converse or
// ConverseStream are the caller's (they travel in the URL); stream and
// stream_options are accepted and otherwise ignored here.
func OpenAIToConverseRequest(req *openai.ChatCompletionRequest, opts Options) (*converse.Request, error) {
	r := refuser(targetConverse)
	if err := invalidOpenAI(req); err != nil {
		return nil, err
	}
	if err := refuseUnknown(r, req); err != nil {
		return nil, err
	}
	if err := refuseOpenAICommon(r, req); err != nil {
		return nil, err
	}
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls {
		return nil, r.because("parallel_tool_calls", "Converse has no switch for parallel tool calls; true, the default, is accepted")
	}
	if req.User != "" {
		// requestMetadata would hold it, but with another meaning.
		return nil, r.because("user", "Converse's requestMetadata only labels invocation logs; no Converse member asks the model's provider to watch an end user")
	}
	out := &converse.Request{RequestMetadata: req.Metadata}
	var ic converse.InferenceConfig
	maxTokens := openAIMaxTokens(req)
	if maxTokens > 0 {
		ic.MaxTokens = &maxTokens
	}
	ic.Temperature, ic.TopP = req.Temperature, req.TopP
	if req.Stop != nil {
		ic.StopSequences = req.Stop.Sequences()
	}
	if ic.MaxTokens != nil || ic.Temperature != nil || ic.TopP != nil || ic.StopSequences != nil {
		out.InferenceConfig = &ic
	}
	if req.ReasoningEffort == "none" && opts.Family == FamilyGPTOSS {
		return nil, r.because("reasoning_effort", gptOSSAlwaysReasons)
	}
	if thinks(req) {
		fields, err := openAIReasoningFields(r, req, opts, out, &ic, maxTokens)
		if err != nil {
			return nil, err
		}
		out.AdditionalModelRequestFields = fields
	}
	switch req.ServiceTier {
	case "", "auto":
	case "default", "flex", "priority":
		out.ServiceTier = &converse.ServiceTier{Type: req.ServiceTier}
	default:
		return nil, r.because("service_tier", "Converse tiers: default, flex, priority (auto is the default)")
	}
	if rf := req.ResponseFormat; rf != nil {
		tf, err := openAIFormatToConverse(r, rf)
		if err != nil {
			return nil, err
		}
		if tf != nil {
			out.OutputConfig = &converse.OutputConfig{TextFormat: tf}
		}
	}
	if len(req.Tools) > 0 {
		tc := &converse.ToolConfig{}
		for i, t := range req.Tools {
			p := at("tools", i)
			if err := r.extra(p, t.Extra.Keys()); err != nil {
				return nil, err
			}
			if t.Type != "function" || t.Function == nil {
				return nil, r.because(p+".type", "only function tools")
			}
			f := t.Function
			if err := r.extra(p+".function", f.Extra.Keys()); err != nil {
				return nil, err
			}
			tc.Tools = append(tc.Tools, converse.Tool{ToolSpec: &converse.ToolSpec{
				Name: f.Name, Description: f.Description, Strict: f.Strict,
				InputSchema: converse.InputSchema{JSON: objectOrEmpty(f.Parameters)},
			}})
		}
		if c := req.ToolChoice; c != nil {
			if err := r.extra("tool_choice", c.Extra.Keys()); err != nil {
				return nil, err
			}
			switch {
			case c.Mode == "auto":
				tc.ToolChoice = &converse.ToolChoice{Auto: &converse.Empty{}}
			case c.Mode == "required":
				tc.ToolChoice = &converse.ToolChoice{Any: &converse.Empty{}}
			case c.Type == "function" && c.Function != nil:
				tc.ToolChoice = &converse.ToolChoice{Tool: &converse.SpecificTool{Name: c.Function.Name}}
			case c.Type == "allowed_tools":
				return nil, r.because("tool_choice.type", allowedToolsReason)
			default:
				return nil, r.because("tool_choice", "expressible: auto, required, a named function")
			}
		}
		out.ToolConfig = tc
	} else if req.ToolChoice != nil && req.ToolChoice.Mode != "none" && req.ToolChoice.Mode != "auto" {
		return nil, r.because("tool_choice", "no tools declared")
	}
	if thinks(req) && opts.Family == FamilyClaude && out.ToolConfig != nil && out.ToolConfig.ToolChoice != nil && out.ToolConfig.ToolChoice.Auto == nil {
		return nil, r.because("tool_choice", "with reasoning_effort, Claude cannot be forced to use a tool")
	}
	calls := map[string]string{} // tool call id -> function name, for tool messages' name
	for i, m := range req.Messages {
		p := at("messages", i)
		if err := refuseOpenAIMessage(r, p, &m); err != nil {
			return nil, err
		}
		if err := toolResultName(r, p, &m, calls); err != nil {
			return nil, err
		}
		switch m.Role {
		case openai.RoleSystem, openai.RoleDeveloper:
			if len(out.Messages) > 0 {
				return nil, r.because(p+".role", "system messages must come before the conversation")
			}
			texts, err := openAIText(r, p+".content", m.Content)
			if err != nil {
				return nil, err
			}
			for _, t := range texts {
				out.System = append(out.System, converse.SystemBlock{Text: ptr(t)})
			}
		case openai.RoleUser:
			blocks, err := openAIPartsToConverse(r, p+".content", m.Content)
			if err != nil {
				return nil, err
			}
			out.Messages = appendConverse(out.Messages, converse.RoleUser, blocks)
		case openai.RoleAssistant:
			var blocks []converse.ContentBlock
			texts, err := openAIAssistantText(r, p, &m)
			if err != nil {
				return nil, err
			}
			for _, t := range texts {
				blocks = append(blocks, converse.TextBlock(t))
			}
			for j, tc := range m.ToolCalls {
				q := at(p+".tool_calls", j)
				input, err := openAIToolCallInput(r, q, &tc)
				if err != nil {
					return nil, err
				}
				blocks = append(blocks, converse.ContentBlock{ToolUse: &converse.ToolUseBlock{ToolUseID: tc.ID, Name: tc.Function.Name, Input: input}})
			}
			if len(blocks) == 0 {
				return nil, r.because(p, "an assistant message needs content or tool calls")
			}
			out.Messages = appendConverse(out.Messages, converse.RoleAssistant, blocks)
		case openai.RoleTool:
			texts, err := openAIText(r, p+".content", m.Content)
			if err != nil {
				return nil, err
			}
			var content []converse.ToolResultContent
			for _, t := range texts {
				content = append(content, converse.ToolResultContent{Text: ptr(t)})
			}
			if content == nil {
				content = []converse.ToolResultContent{}
			}
			out.Messages = appendConverse(out.Messages, converse.RoleUser, []converse.ContentBlock{{ToolResult: &converse.ToolResultBlock{ToolUseID: m.ToolCallID, Content: content}}})
		default:
			return nil, r.because(p+".role", "roles: system, developer, user, assistant, tool")
		}
	}
	return out, nil
}

func cmpOr[T any](p, alt *T) *T {
	if p != nil {
		return p
	}
	return alt
}

func thinkingFields(budget int64) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": budget}})
	return b
}

// openAIReasoningFields returns the additionalModelRequestFields that ask
// opts.Family's model for reasoning_effort: Claude's thinking budget (with
// a token limit it fits under, set in out when the request has none),
// Amazon Nova 2 Lite's reasoningConfig, OpenAI gpt-oss's reasoning_effort,
// or a refusal naming reasoning_effort for a family without a reasoning
// control. Nova's high with a token limit is refused naming the limit.
func openAIReasoningFields(r refuser, req *openai.ChatCompletionRequest, opts Options, out *converse.Request, ic *converse.InferenceConfig, maxTokens int64) (json.RawMessage, error) {
	switch opts.Family {
	case FamilyClaude:
		if err := refuseSamplingWithThinking(r, req.Temperature, req.TopP); err != nil {
			return nil, err
		}
		limit := maxTokens
		if limit == 0 {
			limit = opts.defaultMaxTokens()
			out.InferenceConfig = cmpOr(out.InferenceConfig, ic)
			out.InferenceConfig.MaxTokens = &limit
		}
		budget, err := thinkingBudget(r, req.ReasoningEffort, limit)
		if err != nil {
			return nil, err
		}
		return thinkingFields(budget), nil
	case FamilyNovaReasoning:
		effort, err := novaEffort(r, req.ReasoningEffort)
		if err != nil {
			return nil, err
		}
		if effort == "high" && maxTokens > 0 {
			field := "max_tokens"
			if req.MaxCompletionTokens != nil {
				field = "max_completion_tokens"
			}
			return nil, r.because(field, "with reasoning_effort high, "+noEffortHigh+": remove "+field+" or ask for reasoning_effort medium")
		}
		return marshalFields(map[string]any{"reasoningConfig": novaReasoning(effort)}), nil
	case FamilyGPTOSS:
		// gpt-oss takes low, medium and high; minimal is low, the least
		// it offers (as for Nova).
		effort, err := novaEffort(r, req.ReasoningEffort)
		if err != nil {
			return nil, err
		}
		return marshalFields(map[string]any{"reasoning_effort": effort}), nil
	}
	return nil, r.because("reasoning_effort", noReasoning(opts.Family))
}

// refuseOpenAICommon refuses the Chat Completions members that neither
// Converse nor Anthropic can express.
func refuseOpenAICommon(r refuser, req *openai.ChatCompletionRequest) error {
	if err := r.extra("", req.Extra.Keys()); err != nil {
		return err
	}
	switch {
	case req.MaxTokens != nil && req.MaxCompletionTokens != nil && *req.MaxTokens != *req.MaxCompletionTokens:
		// max_tokens is the deprecated alias: two different limits leave
		// no single one to send.
		return r.because("max_tokens", "differs from max_completion_tokens; send one of them")
	case req.N != nil && *req.N != 1:
		return r.field("n")
	case len(req.LogitBias) > 0:
		return r.field("logit_bias")
	case req.Logprobs != nil && *req.Logprobs:
		return r.field("logprobs")
	case req.TopLogprobs != nil:
		return r.field("top_logprobs")
	case req.Seed != nil:
		return r.field("seed")
	case req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0:
		return r.field("frequency_penalty")
	case req.PresencePenalty != nil && *req.PresencePenalty != 0:
		return r.field("presence_penalty")
	case req.Audio != nil:
		return r.field("audio")
	case req.Prediction != nil:
		return r.field("prediction")
	case req.WebSearchOptions != nil:
		return r.field("web_search_options")
	case req.Functions != nil:
		return r.because("functions", "use tools")
	case present(req.FunctionCall):
		return r.because("function_call", "use tool_choice")
	case req.Store != nil && *req.Store:
		return r.field("store")
	case req.PromptCacheKey != "":
		return r.field("prompt_cache_key")
	case present(req.PromptCacheOptions):
		return r.field("prompt_cache_options")
	case req.PromptCacheRetention != "":
		return r.field("prompt_cache_retention")
	case present(req.Moderation):
		return r.field("moderation")
	case req.SafetyIdentifier != "":
		return r.field("safety_identifier")
	case req.Verbosity != "":
		return r.field("verbosity")
	}
	for i, m := range req.Modalities {
		if m != "text" {
			return r.field(at("modalities", i))
		}
	}
	if so := req.StreamOptions; so != nil {
		if err := r.extra("stream_options", so.Extra.Keys()); err != nil {
			return err
		}
	}
	if tc := req.ToolChoice; tc != nil && tc.Mode == "" {
		if allowed, ok := toolChoiceMembers[tc.Type]; ok {
			if err := refuseMembers(r, "tool_choice", tc.Type+" tool choices", allowed, []member{
				{"function", tc.Function != nil}, {"allowed_tools", present(tc.AllowedTools)}, {"custom", present(tc.Custom)},
			}); err != nil {
				return err
			}
		}
	}
	return refuseStrayParts(r, req)
}

// toolChoiceMembers are the members each tool_choice object type defines
// besides type.
var toolChoiceMembers = map[string][]string{"function": {"function"}, "allowed_tools": {"allowed_tools"}, "custom": {"custom"}}

// thinks reports whether req asks for reasoning: reasoning_effort "none"
// asks for none, which is what Converse and Anthropic do by default, and
// the default of every family but gpt-oss, which always reasons (refused
// by OpenAIToConverseRequest).
func thinks(req *openai.ChatCompletionRequest) bool {
	return req.ReasoningEffort != "" && req.ReasoningEffort != "none"
}

func openAIMaxTokens(req *openai.ChatCompletionRequest) int64 {
	if req.MaxCompletionTokens != nil {
		return *req.MaxCompletionTokens
	}
	return deref(req.MaxTokens)
}

// refuseOpenAIMessage refuses the members of a message that have no form
// in the target. An assistant message may carry what openai-python's
// messages.append(completion.choices[0].message) sends back of an earlier
// answer: refusal (carried as text by openAIAssistantText, as refusal
// parts are), annotations (url citations of text the model wrote, checked
// by checkAnnotations: its text reaches the model, the citation metadata
// is output, not instruction) and reasoning_content (left out: see
// docs/api.md). Null members count as absent.
func refuseOpenAIMessage(r refuser, p string, m *openai.Message) error {
	assistant := m.Role == openai.RoleAssistant
	switch {
	case len(m.Extra) > 0:
		return r.extra(p, m.Extra.Keys())
	case m.Name != "" && m.Role != openai.RoleTool:
		return r.because(p+".name", "participant names have no form here")
	case m.Refusal != nil && !assistant:
		return r.because(p+".refusal", "only an assistant message has a refusal")
	case m.FunctionCall != nil:
		return r.because(p+".function_call", "the deprecated function call form; send tool_calls")
	case present(m.Audio):
		return r.because(p+".audio", "audio of an earlier answer cannot be sent back here")
	case present(m.Annotations) && !assistant:
		return r.because(p+".annotations", "only an assistant message has annotations")
	case m.ReasoningContent != nil && !assistant:
		return r.because(p+".reasoning_content", "only an assistant message has reasoning")
	case m.ToolCallID != "" && m.Role != openai.RoleTool:
		return r.because(p+".tool_call_id", "only a tool message answers a tool call")
	case len(m.ToolCalls) > 0 && m.Role != openai.RoleAssistant:
		return r.because(p+".tool_calls", "only an assistant message makes tool calls")
	}
	return checkAnnotations(r, p+".annotations", m.Annotations)
}

// toolResultName checks the name of a tool message m (at p) and records
// the names of an assistant message's tool calls in calls, by id. A tool
// result's name is the name of the call it answers, which the target
// carries by tool_call_id: it is accepted when it equals that call's name
// (nothing is lost), and refused when it differs or no earlier call has
// the message's tool_call_id.
func toolResultName(r refuser, p string, m *openai.Message, calls map[string]string) error {
	switch {
	case m.Role == openai.RoleAssistant:
		for _, tc := range m.ToolCalls {
			calls[tc.ID] = tc.Function.Name
		}
	case m.Role != openai.RoleTool || m.Name == "":
	default:
		name, ok := calls[m.ToolCallID]
		if !ok {
			return r.because(p+".name", "no earlier assistant message has a tool call with this tool_call_id, whose name it could be")
		}
		if name != m.Name {
			return r.because(p+".name", "differs from tool_calls[].function.name of the call with this tool_call_id, which it answers")
		}
	}
	return nil
}

// openAIAssistantText returns the non-empty texts of an assistant message:
// its content, then its refusal (what the model answered when it refused,
// which the model sees again as its own text).
func openAIAssistantText(r refuser, p string, m *openai.Message) ([]string, error) {
	texts, err := openAITexts(r, p+".content", m.Content, true)
	if err != nil {
		return nil, err
	}
	if m.Refusal != nil {
		texts = append(texts, *m.Refusal)
	}
	return slices.DeleteFunc(texts, func(t string) bool { return t == "" }), nil
}

// openAIText returns the texts of string or text-part content.
func openAIText(r refuser, p string, c *openai.Content) ([]string, error) {
	return openAITexts(r, p, c, false)
}

// openAITexts returns the texts of string or text-part content, and with
// refusals (an assistant message's content) the text of refusal parts:
// what the model answered when it refused, which it sees again as its own
// text, as the message's refusal member.
func openAITexts(r refuser, p string, c *openai.Content, refusals bool) ([]string, error) {
	if c == nil {
		return nil, nil
	}
	if !c.IsParts() {
		return []string{c.Text}, nil
	}
	var out []string
	for j, part := range c.Parts {
		q := at(p, j)
		if err := r.extra(q, part.Extra.Keys()); err != nil {
			return nil, err
		}
		switch {
		case part.Type == openai.PartText:
			out = append(out, part.Text)
		case part.Type == openai.PartRefusal && refusals:
			if part.Text != "" {
				return nil, r.because(q+".text", "not a member of refusal parts")
			}
			out = append(out, part.Refusal)
		case refusals:
			return nil, r.because(q+".type", "only text and refusal parts here")
		default:
			return nil, r.because(q+".type", "only text parts here")
		}
	}
	return out, nil
}

func openAIToolCallInput(r refuser, q string, tc *openai.ToolCall) (json.RawMessage, error) {
	if err := r.extra(q, tc.Extra.Keys()); err != nil {
		return nil, err
	}
	if err := r.extra(q+".function", tc.Function.Extra.Keys()); err != nil {
		return nil, err
	}
	if tc.Type != "" && tc.Type != "function" || tc.Custom != nil {
		return nil, r.field(q + ".type")
	}
	// index is the call's position in stream deltas; clients that rebuild
	// the message from a stream send it back. The list position is what
	// counts.
	input, ok := validJSONObject(tc.Function.Arguments)
	if !ok {
		return nil, r.because(q+".function.arguments", "arguments must be a JSON object")
	}
	return input, nil
}

func openAIPartsToConverse(r refuser, p string, c *openai.Content) ([]converse.ContentBlock, error) {
	if c == nil {
		return nil, r.because(p, "missing")
	}
	if !c.IsParts() {
		return []converse.ContentBlock{converse.TextBlock(c.Text)}, nil
	}
	var out []converse.ContentBlock
	for j, part := range c.Parts {
		q := at(p, j)
		if err := r.extra(q, part.Extra.Keys()); err != nil {
			return nil, err
		}
		switch part.Type {
		case openai.PartText:
			out = append(out, converse.TextBlock(part.Text))
		case openai.PartImageURL:
			if part.ImageURL == nil {
				return nil, r.because(q+".image_url", "missing")
			}
			if err := r.extra(q+".image_url", part.ImageURL.Extra.Keys()); err != nil {
				return nil, err
			}
			if part.ImageURL.Detail != "" && part.ImageURL.Detail != "auto" {
				return nil, r.field(q + ".image_url.detail")
			}
			mt, data, ok := dataURL(part.ImageURL.URL)
			if !ok {
				return nil, r.because(q+".image_url.url", "only data: URLs with base64 images; the gateway does not fetch URLs")
			}
			format, ok := imageFormat(mt)
			if !ok {
				return nil, r.because(q+".image_url.url", "image formats: png, jpeg, gif, webp")
			}
			out = append(out, converse.ContentBlock{Image: &converse.ImageBlock{Format: format, Source: converse.Source{Bytes: data}}})
		case openai.PartFile:
			f := part.File
			if f == nil {
				return nil, r.because(q+".file", "missing")
			}
			if err := r.extra(q+".file", f.Extra.Keys()); err != nil {
				return nil, err
			}
			if f.FileID != "" {
				return nil, r.field(q + ".file.file_id")
			}
			mt, data, ok := dataURL(f.FileData)
			format := documentFormats[strings.ToLower(mt)]
			if !ok || format == "" {
				return nil, r.because(q+".file.file_data", "a data: URL of a document (pdf, csv, doc, docx, xls, xlsx, html, txt, md)")
			}
			out = append(out, converse.ContentBlock{Document: &converse.DocumentBlock{Format: format, Name: documentName(strings.TrimSuffix(f.Filename, "."+format), j), Source: converse.Source{Bytes: data}}})
		default:
			return nil, r.field(q + ".type")
		}
	}
	return out, nil
}

// appendConverse appends blocks as a turn of role, merging into the last
// message when it has the same role (Converse requires alternation).
func appendConverse(msgs []converse.Message, role string, blocks []converse.ContentBlock) []converse.Message {
	if n := len(msgs); n > 0 && msgs[n-1].Role == role {
		msgs[n-1].Content = append(msgs[n-1].Content, blocks...)
		return msgs
	}
	return append(msgs, converse.Message{Role: role, Content: blocks})
}

func openAIFormatToConverse(r refuser, rf *openai.ResponseFormat) (*converse.OutputFormat, error) {
	if err := r.extra("response_format", rf.Extra.Keys()); err != nil {
		return nil, err
	}
	if rf.JSONSchema != nil && rf.Type != openai.FormatJSONSchema {
		return nil, r.because("response_format.json_schema", "a member of the json_schema type only")
	}
	switch rf.Type {
	case openai.FormatText:
		return nil, nil
	case openai.FormatJSONObject:
		return &converse.OutputFormat{Type: "json_schema", Structure: converse.OutputStructure{JSONSchema: &converse.JSONSchemaDefinition{Schema: `{"type":"object"}`}}}, nil
	case openai.FormatJSONSchema:
		js := rf.JSONSchema
		if js == nil {
			return nil, r.because("response_format.json_schema", "missing")
		}
		if err := r.extra("response_format.json_schema", js.Extra.Keys()); err != nil {
			return nil, err
		}
		return &converse.OutputFormat{Type: "json_schema", Structure: converse.OutputStructure{JSONSchema: &converse.JSONSchemaDefinition{
			Schema: compactJSON(objectOrEmpty(js.Schema)), Name: js.Name, Description: js.Description,
		}}}, nil
	}
	return nil, r.field("response_format.type")
}

// converseFinish maps a Converse stop reason to an OpenAI finish reason.
func converseFinish(reason string) string {
	switch reason {
	case converse.StopMaxTokens, converse.StopModelContextWindowExceeded:
		return openai.FinishLength
	case converse.StopToolUse:
		return openai.FinishToolCalls
	case converse.StopGuardrailIntervened, converse.StopContentFiltered:
		return openai.FinishContentFilter
	}
	return openai.FinishStop
}

func converseUsageToOpenAI(u converse.Usage) *openai.Usage {
	cached := deref(u.CacheReadInputTokens)
	prompt := u.InputTokens + cached + deref(u.CacheWriteInputTokens)
	return &openai.Usage{
		PromptTokens: prompt, CompletionTokens: u.OutputTokens, TotalTokens: prompt + u.OutputTokens,
		PromptTokensDetails: &openai.PromptTokensDetails{CachedTokens: cached},
	}
}

// ConverseToOpenAIResponse translates a Converse response to a Chat
// Completion. Text blocks join into the message content, toolUse blocks
// become tool_calls, reasoning text becomes reasoning_content. Reasoning
// signatures, redacted reasoning, metrics, trace and
// additionalModelResponseFields have no Chat Completions member and are
// left out; they describe the answer, they are not part of it. The served
// tier becomes service_tier. Other blocks (citationsContent...) are
// refused: their text or sources would be lost.
func ConverseToOpenAIResponse(resp *converse.Response, meta ResponseMeta) (*openai.ChatCompletion, error) {
	msg := openai.Message{Role: openai.RoleAssistant}
	var text, reasoning strings.Builder
	hasText, hasReasoning := false, false
	if m := resp.Output.Message; m != nil {
		for i, b := range m.Content {
			switch {
			case b.Text != nil:
				text.WriteString(*b.Text)
				hasText = true
			case b.ToolUse != nil && b.ToolUse.Type != "":
				return nil, serverToolCall(refuser(targetOpenAI), at("output.message.content", i), b.ToolUse.Type)
			case b.ToolUse != nil:
				msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: b.ToolUse.ToolUseID, Type: "function",
					Function: openai.FunctionCall{Name: b.ToolUse.Name, Arguments: compactJSON(b.ToolUse.Input)}})
			case b.ReasoningContent != nil && b.ReasoningContent.ReasoningText != nil:
				reasoning.WriteString(b.ReasoningContent.ReasoningText.Text)
				hasReasoning = true
			case b.ReasoningContent != nil:
				// Redacted reasoning: left out, as documented above.
			default:
				// citationsContent and the rest: their text or sources
				// would be lost; a Chat Completions client cannot ask for
				// them, so the backend answered another request.
				return nil, refuser(targetOpenAI).field(join(at("output.message.content", i), converseMember(&b)))
			}
		}
	}
	if hasText || len(msg.ToolCalls) == 0 {
		msg.Content = openai.TextContent(text.String())
	}
	if hasReasoning {
		msg.ReasoningContent = ptr(reasoning.String())
	}
	return &openai.ChatCompletion{
		ID: meta.ID, Object: "chat.completion", Created: meta.Created, Model: meta.Model,
		Choices: []openai.Choice{{Index: 0, Message: msg, FinishReason: converseFinish(resp.StopReason)}},
		Usage:   converseUsageToOpenAI(resp.Usage), ServiceTier: converseTier(resp.ServiceTier),
	}, nil
}

// ConverseToOpenAIStream turns ConverseStream events into Chat Completions
// chunks. It is not safe for concurrent use; use one per stream.
type ConverseToOpenAIStream struct {
	meta      ResponseMeta
	toolIndex map[int64]int64 // contentBlockIndex -> tool_calls index
	finish    string
}

// NewConverseToOpenAIStream returns a stream translator.
func NewConverseToOpenAIStream(meta ResponseMeta) *ConverseToOpenAIStream {
	return &ConverseToOpenAIStream{meta: meta, toolIndex: map[int64]int64{}}
}

func (s *ConverseToOpenAIStream) chunk(d openai.Delta, finish *string) openai.ChatCompletionChunk {
	return openai.ChatCompletionChunk{ID: s.meta.ID, Object: "chat.completion.chunk", Created: s.meta.Created, Model: s.meta.Model,
		Choices: []openai.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}}}
}

// Event translates one event into zero or more chunks. The metadata event
// yields the usage chunk when meta.IncludeUsage is set.
func (s *ConverseToOpenAIStream) Event(e converse.Event) ([]openai.ChatCompletionChunk, error) {
	switch {
	case e.MessageStart != nil:
		return []openai.ChatCompletionChunk{s.chunk(openai.Delta{Role: openai.RoleAssistant, Content: ptr("")}, nil)}, nil
	case e.ContentBlockStart != nil:
		st := e.ContentBlockStart.Start
		tu := st.ToolUse
		switch {
		case emptyStart(&st):
			return nil, nil // the deltas say what the block is
		}
		if err := strayMember(&st, nil, "Chat Completions"); err != nil {
			return nil, err
		}
		switch {
		case tu == nil:
			return nil, failAnswer("unsupported", "content block start "+startMember(&e.ContentBlockStart.Start)+" has no Chat Completions form")
		}
		idx := int64(len(s.toolIndex))
		s.toolIndex[e.ContentBlockStart.ContentBlockIndex] = idx
		return []openai.ChatCompletionChunk{s.chunk(openai.Delta{ToolCalls: []openai.ToolCall{{Index: ptr(idx), ID: tu.ToolUseID, Type: "function",
			Function: openai.FunctionCall{Name: tu.Name}}}}, nil)}, nil
	case e.ContentBlockDelta != nil:
		d := e.ContentBlockDelta.Delta
		if err := strayMember(nil, &d, "Chat Completions"); err != nil {
			return nil, err
		}
		switch {
		case d.Text != nil:
			return []openai.ChatCompletionChunk{s.chunk(openai.Delta{Content: ptr(*d.Text)}, nil)}, nil
		case d.ToolUse != nil:
			idx, ok := s.toolIndex[e.ContentBlockDelta.ContentBlockIndex]
			if !ok {
				return nil, failAnswer("protocol", "tool input delta without a tool use start")
			}
			return []openai.ChatCompletionChunk{s.chunk(openai.Delta{ToolCalls: []openai.ToolCall{{Index: ptr(idx), Function: openai.FunctionCall{Arguments: d.ToolUse.Input}}}}, nil)}, nil
		case d.ReasoningContent != nil && d.ReasoningContent.Text != nil:
			return []openai.ChatCompletionChunk{s.chunk(openai.Delta{ReasoningContent: ptr(*d.ReasoningContent.Text)}, nil)}, nil
		case d.ReasoningContent != nil:
			return nil, nil // signatures and redacted reasoning: left out
		case emptyDelta(&d):
			return nil, nil
		default:
			return nil, failAnswer("unsupported", "content block delta "+deltaMember(&d)+" has no Chat Completions form")
		}
	case e.MessageStop != nil:
		s.finish = converseFinish(e.MessageStop.StopReason)
		return []openai.ChatCompletionChunk{s.chunk(openai.Delta{}, ptr(s.finish))}, nil
	case e.Metadata != nil:
		if !s.meta.IncludeUsage {
			return nil, nil
		}
		c := s.chunk(openai.Delta{}, nil)
		c.Choices = []openai.ChunkChoice{}
		c.Usage = converseUsageToOpenAI(e.Metadata.Usage)
		c.ServiceTier = converseTier(e.Metadata.ServiceTier) // known only at the end: on the usage chunk
		return []openai.ChatCompletionChunk{c}, nil
	}
	return nil, nil
}
