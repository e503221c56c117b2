package translate

import (
	"encoding/json"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// ConverseToOpenAIRequest translates a Converse request for an OpenAI Chat
// Completions backend. model is the backend's model name; stream is true for
// ConverseStream, and then the request asks for a final usage chunk.
// additionalModelRequestFields.thinking maps to reasoning_effort (see
// BudgetEffort); any other additional field is refused.
func ConverseToOpenAIRequest(req *converse.Request, model string, stream bool) (*openai.ChatCompletionRequest, error) {
	r := refuser(targetOpenAI)
	if err := invalidConverse(req); err != nil {
		return nil, err
	}
	if err := refuseUnknown(r, req); err != nil {
		return nil, err
	}
	if err := refuseConverseUnions(r, req); err != nil {
		return nil, err
	}
	if err := r.extra("", req.Extra.Keys()); err != nil {
		return nil, err
	}
	switch {
	case req.GuardrailConfig != nil:
		return nil, r.field("guardrailConfig")
	case req.PromptVariables != nil:
		return nil, r.field("promptVariables")
	case req.AdditionalModelResponseFieldPaths != nil:
		return nil, r.field("additionalModelResponseFieldPaths")
	case req.PerformanceConfig != nil && (req.PerformanceConfig.Latency != "standard" || len(req.PerformanceConfig.Extra) > 0):
		return nil, r.field("performanceConfig")
	}
	// requestMetadata is not sent: it labels the call for invocation logs,
	// which Meridian keeps itself (the audit events of both regions record
	// it). Chat Completions' metadata tags stored completions: OpenAI
	// refuses it without store: true, and storing would keep the
	// conversation at the provider, which the caller did not ask for (see
	// docs/api.md).
	out := &openai.ChatCompletionRequest{Model: model, Messages: []openai.Message{}}
	if stream {
		out.Stream = ptr(true)
		out.StreamOptions = &openai.StreamOptions{IncludeUsage: ptr(true)}
	}
	if ic := req.InferenceConfig; ic != nil {
		if err := r.extra("inferenceConfig", ic.Extra.Keys()); err != nil {
			return nil, err
		}
		out.MaxCompletionTokens, out.Temperature, out.TopP = ic.MaxTokens, ic.Temperature, ic.TopP
		if len(ic.StopSequences) > 4 {
			return nil, r.because("inferenceConfig.stopSequences", "at most 4 stop sequences")
		}
		if ic.StopSequences != nil {
			out.Stop = &openai.Stop{List: ic.StopSequences}
		}
	}
	if !jsonx.IsNull(req.AdditionalModelRequestFields) {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(req.AdditionalModelRequestFields, &fields); err != nil {
			return nil, r.because("additionalModelRequestFields", "must be a JSON object")
		}
		for _, k := range sortedKeys(fields) {
			if k != "thinking" {
				return nil, r.field("additionalModelRequestFields." + k)
			}
			// Decoded as a Messages request's thinking, unknown members
			// kept (Extra), so that none is dropped unread: display is
			// refused with the reason the Messages path gives
			// (anthropic_openai.go), any other member by name.
			var th anthropic.Thinking
			if err := json.Unmarshal(fields[k], &th); err != nil {
				return nil, r.field("additionalModelRequestFields.thinking")
			}
			if err := r.extra("additionalModelRequestFields.thinking", th.Extra.Keys()); err != nil {
				return nil, err
			}
			if th.Display != "" {
				return nil, r.because("additionalModelRequestFields.thinking.display", noThinkingDisplay)
			}
			if th.Type != "enabled" && th.Type != "disabled" {
				return nil, r.field("additionalModelRequestFields.thinking")
			}
			if th.Type == "enabled" {
				out.ReasoningEffort = BudgetEffort(th.BudgetTokens)
			}
		}
	}
	if st := req.ServiceTier; st != nil {
		if len(st.Extra) > 0 || (st.Type != "default" && st.Type != "flex" && st.Type != "priority") {
			return nil, r.because("serviceTier", "OpenAI tiers: default, flex, priority")
		}
		out.ServiceTier = st.Type
	}
	if oc := req.OutputConfig; oc != nil {
		if err := r.extra("outputConfig", oc.Extra.Keys()); err != nil {
			return nil, err
		}
		switch oc.Effort {
		case "":
		case "low", "medium", "high":
			if out.ReasoningEffort != "" {
				return nil, r.because("outputConfig.effort", "conflicts with thinking")
			}
			out.ReasoningEffort = oc.Effort
		default:
			return nil, r.field("outputConfig.effort")
		}
		if tf := oc.TextFormat; tf != nil {
			js := tf.Structure.JSONSchema
			if len(tf.Extra) > 0 || len(tf.Structure.Extra) > 0 || tf.Type != "json_schema" || js == nil || len(js.Extra) > 0 {
				return nil, r.field("outputConfig.textFormat")
			}
			if !json.Valid([]byte(js.Schema)) {
				return nil, r.because("outputConfig.textFormat.structure.jsonSchema.schema", "not valid JSON")
			}
			name := js.Name
			if name == "" {
				name = "output"
			}
			out.ResponseFormat = &openai.ResponseFormat{Type: openai.FormatJSONSchema, JSONSchema: &openai.JSONSchema{
				Name: name, Description: js.Description, Schema: json.RawMessage(js.Schema), Strict: ptr(true)}}
		}
	}
	if tc := req.ToolConfig; tc != nil {
		if err := r.extra("toolConfig", tc.Extra.Keys()); err != nil {
			return nil, err
		}
		for i, t := range tc.Tools {
			p := at("toolConfig.tools", i)
			if err := r.extra(p, t.Extra.Keys()); err != nil {
				return nil, err
			}
			if t.CachePoint != nil {
				return nil, r.because(p+".cachePoint", "OpenAI caches prompts on its own and has no cache markers")
			}
			if t.ToolSpec == nil {
				return nil, r.because(p+".systemTool", "Bedrock system tools run on Bedrock only")
			}
			ts := t.ToolSpec
			if err := r.extra(p+".toolSpec", ts.Extra.Keys()); err != nil {
				return nil, err
			}
			if err := r.extra(p+".toolSpec.inputSchema", ts.InputSchema.Extra.Keys()); err != nil {
				return nil, err
			}
			out.Tools = append(out.Tools, openai.Tool{Type: "function", Function: &openai.FunctionDef{
				Name: ts.Name, Description: ts.Description, Parameters: objectOrEmpty(ts.InputSchema.JSON), Strict: ts.Strict}})
		}
		if c := tc.ToolChoice; c != nil {
			if err := r.extra("toolConfig.toolChoice", c.Extra.Keys()); err != nil {
				return nil, err
			}
			switch {
			case c.Auto != nil:
				out.ToolChoice = &openai.ToolChoice{Mode: "auto"}
			case c.Any != nil:
				out.ToolChoice = &openai.ToolChoice{Mode: "required"}
			case c.Tool != nil:
				out.ToolChoice = &openai.ToolChoice{Type: "function", Function: &openai.ToolChoiceFunction{Name: c.Tool.Name}}
			}
		}
	}
	for i, b := range req.System {
		p := at("system", i)
		if err := r.extra(p, b.Extra.Keys()); err != nil {
			return nil, err
		}
		switch {
		case b.Text != nil:
			out.Messages = append(out.Messages, openai.Message{Role: openai.RoleSystem, Content: openai.TextContent(*b.Text)})
		case b.CachePoint != nil:
			return nil, r.because(p+".cachePoint", "OpenAI caches prompts on its own and has no cache markers")
		default:
			return nil, r.because(p+".guardContent", "guardrails run on Bedrock only")
		}
	}
	for i, m := range req.Messages {
		p := at("messages", i)
		if err := r.extra(p, m.Extra.Keys()); err != nil {
			return nil, err
		}
		msgs, err := converseMessageToOpenAI(r, p, &m)
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	if n := len(req.Messages); n > 0 && req.Messages[len(req.Messages)-1].Role == converse.RoleAssistant {
		return nil, r.because(at("messages", n-1)+".role", "Chat Completions does not continue a partial assistant turn")
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// converseMessageToOpenAI converts one turn: an assistant turn to one
// message, a user turn to its tool results (one tool message each) followed
// by a user message with the other content.
func converseMessageToOpenAI(r refuser, p string, m *converse.Message) ([]openai.Message, error) {
	var out []openai.Message
	var parts []openai.ContentPart
	var text strings.Builder
	hasText := false
	var calls []openai.ToolCall
	for j, b := range m.Content {
		q := at(p+".content", j)
		if err := r.extra(q, b.Extra.Keys()); err != nil {
			return nil, err
		}
		user := m.Role == converse.RoleUser
		switch {
		case b.Text != nil:
			parts = append(parts, openai.ContentPart{Type: openai.PartText, Text: *b.Text})
			text.WriteString(*b.Text)
			hasText = true
		case b.Image != nil && user:
			img := b.Image
			if err := r.extra(q+".image", img.Extra.Keys()); err != nil {
				return nil, err
			}
			if img.Source.Bytes == nil || len(img.Source.Extra) > 0 {
				return nil, r.because(q+".image.source", "images must be bytes; S3 locations are readable only by Bedrock")
			}
			parts = append(parts, openai.ContentPart{Type: openai.PartImageURL, ImageURL: &openai.ImageURL{URL: makeDataURL(imageMediaType(img.Format), img.Source.Bytes)}})
		case b.Document != nil && user:
			d := b.Document
			if err := r.extra(q+".document", d.Extra.Keys()); err != nil {
				return nil, err
			}
			if d.Format != "pdf" {
				// Chat Completions' file parts take PDF only
				// (docs/api.md): the Anthropic text document is
				// refused toward it alike (anthropic_openai.go).
				return nil, r.because(q+".document.format", "Chat Completions takes PDF documents only; send the text as a text block")
			}
			mt := documentMediaType(d.Format)
			if d.Source.Bytes == nil || mt == "" || d.Context != "" || hasCitations(d.Citations) || len(d.Source.Extra) > 0 {
				return nil, r.because(q+".document", "documents: PDF bytes, without context or citations")
			}
			parts = append(parts, openai.ContentPart{Type: openai.PartFile, File: &openai.File{Filename: d.Name + "." + d.Format, FileData: makeDataURL(mt, d.Source.Bytes)}})
		case b.ToolResult != nil && user:
			tr := b.ToolResult
			if err := r.extra(q+".toolResult", tr.Extra.Keys()); err != nil {
				return nil, err
			}
			if tr.Type != "" {
				return nil, r.because(q+".toolResult.type", "a server tool's result has no Chat Completions form")
			}
			if err := toolResultStatus(r, q, tr.Status); err != nil {
				return nil, err
			}
			var content strings.Builder
			for k, c := range tr.Content {
				switch {
				case len(c.Extra) > 0:
					return nil, r.extra(at(q+".toolResult.content", k), c.Extra.Keys())
				case c.Text != nil:
					content.WriteString(*c.Text)
				case present(c.JSON):
					content.WriteString(compactJSON(c.JSON))
				default:
					return nil, r.because(at(q+".toolResult.content", k), "tool results: text or json")
				}
			}
			// status "error" reaches the model as the content's first line
			// (toolErrorLine): tool messages have no error flag.
			out = append(out, openai.Message{Role: openai.RoleTool, ToolCallID: tr.ToolUseID, Content: openAIToolResult(content.String(), tr.Status == "error")})
		case b.ToolUse != nil && !user:
			tu := b.ToolUse
			if err := r.extra(q+".toolUse", tu.Extra.Keys()); err != nil {
				return nil, err
			}
			if tu.Type != "" {
				return nil, r.because(q+".toolUse.type", serverToolUse)
			}
			calls = append(calls, openai.ToolCall{ID: tu.ToolUseID, Type: "function", Function: openai.FunctionCall{Name: tu.Name, Arguments: compactJSON(tu.Input)}})
		case present(b.CitationsContent) && !user:
			// An earlier cited answer sent back: Chat Completions requests
			// have no citation form; the model sees its own text.
			t, err := citationsText(r, q+".citationsContent", b.CitationsContent)
			if err != nil {
				return nil, err
			}
			parts = append(parts, openai.ContentPart{Type: openai.PartText, Text: t})
			text.WriteString(t)
			hasText = true
		case b.ReasoningContent != nil && !user:
			// The model's earlier reasoning, sent back: left out, as
			// anthropicMessageToOpenAI leaves out thinking blocks.
		case b.ReasoningContent != nil:
			return nil, r.because(q+".reasoningContent", "reasoning belongs to the model's own (assistant) turns")
		case b.CachePoint != nil:
			return nil, r.because(q+".cachePoint", "OpenAI caches prompts on its own and has no cache markers")
		default:
			return nil, r.because(join(q, converseMember(&b)), "content block has no Chat Completions form here")
		}
	}
	switch m.Role {
	case converse.RoleUser:
		if len(parts) > 0 {
			c := &openai.Content{Parts: parts}
			if len(parts) == 1 && parts[0].Type == openai.PartText {
				c = openai.TextContent(parts[0].Text)
			}
			out = append(out, openai.Message{Role: openai.RoleUser, Content: c})
		}
	case converse.RoleAssistant:
		msg := openai.Message{Role: openai.RoleAssistant, ToolCalls: calls}
		if hasText {
			msg.Content = openai.TextContent(text.String())
		}
		out = append(out, msg)
	default:
		return nil, r.because(p+".role", "roles: user, assistant")
	}
	return out, nil
}

// converseMember names the member set in a content block union, else its
// first member this gateway does not know, else "" (an empty block).
func converseMember(b *converse.ContentBlock) string {
	for _, m := range []struct {
		name string
		set  bool
	}{
		{"text", b.Text != nil}, {"image", b.Image != nil}, {"document", b.Document != nil}, {"video", b.Video != nil},
		{"toolUse", b.ToolUse != nil}, {"toolResult", b.ToolResult != nil}, {"reasoningContent", b.ReasoningContent != nil},
		{"cachePoint", b.CachePoint != nil}, {"guardContent", present(b.GuardContent)}, {"citationsContent", present(b.CitationsContent)},
		{"searchResult", present(b.SearchResult)}, {"audio", present(b.Audio)}, {"toolAddition", present(b.ToolAddition)}, {"toolRemoval", present(b.ToolRemoval)},
	} {
		if m.set {
			return m.name
		}
	}
	if keys := b.Extra.Keys(); len(keys) > 0 {
		return keys[0] // a member this gateway does not know
	}
	return ""
}

// openAIChoice returns the only choice of a response, refusing n > 1.
func openAIChoice(r refuser, resp *openai.ChatCompletion) (*openai.Choice, error) {
	if len(resp.Choices) != 1 {
		return nil, r.because("choices", "exactly one choice")
	}
	return &resp.Choices[0], nil
}

func openAIToolInput(r refuser, p string, tc *openai.ToolCall) (json.RawMessage, error) {
	input, ok := validJSONObject(tc.Function.Arguments)
	if !ok {
		return nil, r.because(p+".function.arguments", "the model returned arguments that are not a JSON object")
	}
	return input, nil
}

// openAIFinishToConverse maps an OpenAI finish reason to a Converse stop reason.
func openAIFinishToConverse(reason string) string {
	switch reason {
	case openai.FinishLength:
		return converse.StopMaxTokens
	case openai.FinishToolCalls, openai.FinishFunctionCall:
		return converse.StopToolUse
	case openai.FinishContentFilter:
		return converse.StopContentFiltered
	}
	return converse.StopEndTurn
}

func openAIUsageToConverse(u *openai.Usage) converse.Usage {
	if u == nil {
		return converse.Usage{}
	}
	var cached int64
	if u.PromptTokensDetails != nil {
		cached = u.PromptTokensDetails.CachedTokens
	}
	out := converse.Usage{InputTokens: u.PromptTokens - cached, OutputTokens: u.CompletionTokens, TotalTokens: u.PromptTokens + u.CompletionTokens}
	if cached > 0 {
		out.CacheReadInputTokens = ptr(cached)
	}
	return out
}

// OpenAIToConverseResponse translates a Chat Completion to a Converse
// response. reasoning_content becomes reasoningContent without a signature;
// a refusal becomes text with stop reason content_filtered; a stop sequence
// the server names (see openAIStopSequence) becomes stop reason
// stop_sequence; service_tier becomes serviceTier. url_citation
// annotations are left out.
func OpenAIToConverseResponse(resp *openai.ChatCompletion, meta ResponseMeta) (*converse.Response, error) {
	r := refuser(targetConverse)
	ch, err := openAIChoice(r, resp)
	if err != nil {
		return nil, err
	}
	m := ch.Message
	m.ReasoningContent = openAIReasoning(m.ReasoningContent, m.Extra)
	msg := &converse.Message{Role: converse.RoleAssistant, Content: []converse.ContentBlock{}}
	if m.ReasoningContent != nil {
		msg.Content = append(msg.Content, converse.ContentBlock{ReasoningContent: &converse.ReasoningContent{ReasoningText: &converse.ReasoningText{Text: *m.ReasoningContent}}})
	}
	if m.Content != nil && m.Content.Text != "" {
		msg.Content = append(msg.Content, converse.TextBlock(m.Content.Text))
	}
	stop := openAIFinishToConverse(ch.FinishReason)
	if openAIStopSequence(ch.FinishReason, ch.Extra) != nil {
		stop = converse.StopStopSequence
	}
	if m.Refusal != nil {
		msg.Content = append(msg.Content, converse.TextBlock(*m.Refusal))
		stop = converse.StopContentFiltered
	}
	for i, tc := range m.ToolCalls {
		input, err := openAIToolInput(r, at("choices[0].message.tool_calls", i), &tc)
		if err != nil {
			return nil, err
		}
		msg.Content = append(msg.Content, converse.ContentBlock{ToolUse: &converse.ToolUseBlock{ToolUseID: tc.ID, Name: tc.Function.Name, Input: input}})
	}
	out := &converse.Response{Output: converse.Output{Message: msg}, StopReason: stop, Usage: openAIUsageToConverse(resp.Usage),
		Metrics: converse.Metrics{LatencyMs: meta.LatencyMs}}
	out.ServiceTier = openAITierToConverse(resp.ServiceTier)
	return out, nil
}

// chunkBlocks tracks the content blocks a Chat Completions stream opens, in
// the order Converse and Anthropic number them.
type chunkBlocks struct {
	next    int64
	current int64 // -1 when none is open
	kind    string
	tools   map[int64]int64 // tool_calls index -> block index
}

func newChunkBlocks() chunkBlocks { return chunkBlocks{current: -1, tools: map[int64]int64{}} }

// OpenAIToConverseStream turns Chat Completions chunks into ConverseStream
// events. Not safe for concurrent use; one per stream. Call Finish after the
// last chunk: it emits the metadata event if the backend sent no usage.
type OpenAIToConverseStream struct {
	meta    ResponseMeta
	started bool
	stopped bool
	done    bool
	blocks  chunkBlocks
	tier    string // the served tier the chunks name
}

// metadata returns the final metadata event.
func (s *OpenAIToConverseStream) metadata(u converse.Usage) converse.Event {
	md := &converse.Metadata{Usage: u, Metrics: converse.Metrics{LatencyMs: s.meta.LatencyMs}}
	md.ServiceTier = openAITierToConverse(s.tier)
	return converse.Event{Type: converse.EventMetadata, Metadata: md}
}

// NewOpenAIToConverseStream returns a stream translator.
func NewOpenAIToConverseStream(meta ResponseMeta) *OpenAIToConverseStream {
	return &OpenAIToConverseStream{meta: meta, blocks: newChunkBlocks()}
}

func (s *OpenAIToConverseStream) closeBlock(out []converse.Event) []converse.Event {
	if s.blocks.current >= 0 {
		out = append(out, converse.Event{Type: converse.EventContentBlockStop, ContentBlockStop: &converse.ContentBlockStop{ContentBlockIndex: s.blocks.current}})
		s.blocks.current = -1
	}
	return out
}

// open makes a block of kind current, closing another open block.
func (s *OpenAIToConverseStream) open(out []converse.Event, kind string) ([]converse.Event, int64) {
	if s.blocks.current >= 0 && s.blocks.kind == kind {
		return out, s.blocks.current
	}
	out = s.closeBlock(out)
	s.blocks.current, s.blocks.kind = s.blocks.next, kind
	s.blocks.next++
	return out, s.blocks.current
}

// openAIStreamError returns the error an OpenAI-compatible server sends as
// a chunk ({"error":{...}}) mid-stream, or nil.
func openAIStreamError(c *openai.ChatCompletionChunk) error {
	raw, ok := c.Extra["error"]
	if !ok {
		return nil
	}
	var body openai.ErrorBody
	if json.Unmarshal(raw, &body) != nil || body.Type == "" {
		body.Type = "server_error"
	}
	return &StreamError{Type: body.Type, Message: body.Message}
}

// Chunk translates one chunk into zero or more events. An error chunk
// returns a *StreamError.
func (s *OpenAIToConverseStream) Chunk(c *openai.ChatCompletionChunk) ([]converse.Event, error) {
	if err := openAIStreamError(c); err != nil {
		return nil, err
	}
	var out []converse.Event
	if !s.started {
		s.started = true
		out = append(out, converse.Event{Type: converse.EventMessageStart, MessageStart: &converse.MessageStart{Role: converse.RoleAssistant}})
	}
	if c.ServiceTier != "" {
		s.tier = c.ServiceTier
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			return nil, failAnswer("unsupported", "more than one choice")
		}
		d := ch.Delta
		d.ReasoningContent = openAIReasoning(d.ReasoningContent, d.Extra)
		if d.ReasoningContent != nil && *d.ReasoningContent != "" {
			var idx int64
			out, idx = s.open(out, "reasoning")
			out = append(out, blockDelta(idx, converse.BlockDelta{ReasoningContent: &converse.ReasoningDelta{Text: ptr(*d.ReasoningContent)}}))
		}
		for _, t := range []*string{d.Content, d.Refusal} {
			if t != nil && *t != "" {
				var idx int64
				out, idx = s.open(out, "text")
				out = append(out, blockDelta(idx, converse.BlockDelta{Text: ptr(*t)}))
			}
		}
		for _, tc := range d.ToolCalls {
			ti := deref(tc.Index)
			idx, known := s.blocks.tools[ti]
			if !known {
				out = s.closeBlock(out)
				idx = s.blocks.next
				s.blocks.next++
				s.blocks.tools[ti] = idx
				s.blocks.current, s.blocks.kind = idx, "tool"
				out = append(out, converse.Event{Type: converse.EventContentBlockStart, ContentBlockStart: &converse.ContentBlockStart{ContentBlockIndex: idx,
					Start: converse.BlockStart{ToolUse: &converse.ToolUseStart{ToolUseID: tc.ID, Name: tc.Function.Name}}}})
			}
			if tc.Function.Arguments != "" {
				out = append(out, blockDelta(idx, converse.BlockDelta{ToolUse: &converse.ToolUseDelta{Input: tc.Function.Arguments}}))
			}
		}
		if ch.FinishReason != nil && !s.stopped {
			s.stopped = true
			out = s.closeBlock(out)
			stop := openAIFinishToConverse(*ch.FinishReason)
			if openAIStopSequence(*ch.FinishReason, ch.Extra) != nil {
				stop = converse.StopStopSequence
			}
			out = append(out, converse.Event{Type: converse.EventMessageStop, MessageStop: &converse.MessageStop{StopReason: stop}})
		}
	}
	if c.Usage != nil && !s.done {
		s.done = true
		out = append(out, s.metadata(openAIUsageToConverse(c.Usage)))
	}
	return out, nil
}

// Finish ends the stream after the backend's stream ended cleanly (with
// data: [DONE]): it stops an open message and emits metadata (zero usage)
// when the backend sent none. After a broken backend stream, report an
// error to the client instead.
func (s *OpenAIToConverseStream) Finish() []converse.Event {
	var out []converse.Event
	if !s.stopped && s.started {
		s.stopped = true
		out = s.closeBlock(out)
		out = append(out, converse.Event{Type: converse.EventMessageStop, MessageStop: &converse.MessageStop{StopReason: converse.StopEndTurn}})
	}
	if !s.done && s.started {
		s.done = true
		out = append(out, s.metadata(converse.Usage{}))
	}
	return out
}
