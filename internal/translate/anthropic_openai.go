package translate

import (
	"encoding/json"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// AnthropicToOpenAIRequest translates a Messages request for an OpenAI Chat
// Completions backend. model is the backend's model name. thinking maps to
// reasoning_effort (see BudgetEffort); output_format to response_format
// json_schema (named "output", strict). A streaming request asks for a final
// usage chunk.
func AnthropicToOpenAIRequest(req *anthropic.Request, model string) (*openai.ChatCompletionRequest, error) {
	r := refuser(targetOpenAI)
	if err := invalidAnthropic(req); err != nil {
		return nil, err
	}
	if err := refuseAnthropicKinds(r, req); err != nil {
		return nil, err
	}
	if err := refuseUnknown(r, req); err != nil {
		return nil, err
	}
	if err := r.extra("", req.Extra.Keys()); err != nil {
		return nil, err
	}
	switch {
	case len(req.AnthropicBeta) > 0:
		return nil, r.field("anthropic_beta")
	case req.TopK != nil:
		return nil, r.field("top_k")
	case present(req.Container):
		return nil, r.field("container")
	case present(req.MCPServers):
		return nil, r.field("mcp_servers")
	case present(req.ContextManagement):
		return nil, r.field("context_management")
	case len(req.StopSequences) > 4:
		return nil, r.because("stop_sequences", "at most 4 stop sequences")
	}
	out := &openai.ChatCompletionRequest{Model: model, Temperature: req.Temperature, TopP: req.TopP, Messages: []openai.Message{}}
	if req.MaxTokens > 0 {
		out.MaxCompletionTokens = ptr(req.MaxTokens)
	}
	if req.StopSequences != nil {
		out.Stop = &openai.Stop{List: req.StopSequences}
	}
	if req.Stream != nil && *req.Stream {
		out.Stream = ptr(true)
		out.StreamOptions = &openai.StreamOptions{IncludeUsage: ptr(true)}
	}
	if md := req.Metadata; md != nil {
		if err := r.extra("metadata", md.Extra.Keys()); err != nil {
			return nil, err
		}
		out.User = md.UserID
	}
	if th := req.Thinking; th != nil {
		if err := r.extra("thinking", th.Extra.Keys()); err != nil {
			return nil, err
		}
		if th.Display != "" {
			return nil, r.because("thinking.display", noThinkingDisplay)
		}
		switch th.Type {
		case "enabled":
			out.ReasoningEffort = BudgetEffort(th.BudgetTokens)
		case "disabled":
		default:
			return nil, r.field("thinking.type")
		}
	}
	switch req.ServiceTier {
	case "":
	case "auto":
		out.ServiceTier = "auto"
	case "standard_only":
		out.ServiceTier = "default"
	default:
		return nil, r.because("service_tier", "expressible: auto, standard_only")
	}
	format, effort, err := anthropicOutput(r, req)
	if err != nil {
		return nil, err
	}
	if format != nil {
		out.ResponseFormat = &openai.ResponseFormat{Type: openai.FormatJSONSchema, JSONSchema: &openai.JSONSchema{Name: "output", Schema: objectOrEmpty(format.Schema), Strict: ptr(true)}}
	}
	switch effort {
	case "":
	case "low", "medium", "high":
		if out.ReasoningEffort != "" && out.ReasoningEffort != effort {
			return nil, r.because("output_config.effort", "conflicts with the thinking budget")
		}
		out.ReasoningEffort = effort
	default:
		return nil, r.because("output_config.effort", "expressible: low, medium, high")
	}
	for i, t := range req.Tools {
		p := at("tools", i)
		if !t.IsCustom() {
			return nil, r.because(p+".type", "server tools run only on Anthropic's API")
		}
		if err := r.extra(p, t.Extra.Keys()); err != nil {
			return nil, err
		}
		if t.CacheControl != nil {
			return nil, r.because(p+".cache_control", "OpenAI caches prompts on its own and has no cache markers")
		}
		out.Tools = append(out.Tools, openai.Tool{Type: "function", Function: &openai.FunctionDef{Name: t.Name, Description: t.Description, Parameters: objectOrEmpty(t.InputSchema), Strict: t.Strict}})
	}
	if c := req.ToolChoice; c != nil {
		if err := r.extra("tool_choice", c.Extra.Keys()); err != nil {
			return nil, err
		}
		switch c.Type {
		case "auto":
			out.ToolChoice = &openai.ToolChoice{Mode: "auto"}
		case "any":
			out.ToolChoice = &openai.ToolChoice{Mode: "required"}
		case "none":
			out.ToolChoice = &openai.ToolChoice{Mode: "none"}
		case "tool":
			out.ToolChoice = &openai.ToolChoice{Type: "function", Function: &openai.ToolChoiceFunction{Name: c.Name}}
		default:
			return nil, r.field("tool_choice.type")
		}
		if c.DisableParallelToolUse != nil && *c.DisableParallelToolUse {
			out.ParallelToolCalls = ptr(false)
		}
	}
	if s := req.System; s != nil {
		if s.IsText() {
			out.Messages = append(out.Messages, openai.Message{Role: openai.RoleSystem, Content: openai.TextContent(s.Text)})
		}
		for i, b := range s.Blocks {
			p := at("system", i)
			if err := r.extra(p, b.Extra.Keys()); err != nil {
				return nil, err
			}
			switch {
			case b.CacheControl != nil:
				return nil, r.because(p+".cache_control", "OpenAI caches prompts on its own and has no cache markers")
			case b.Type != anthropic.BlockText:
				return nil, r.because(p+".type", "system blocks must be text")
			case hasCitations(b.Citations):
				return nil, r.because(p+".citations", "a system prompt is not an answer and has no citations")
			}
			out.Messages = append(out.Messages, openai.Message{Role: openai.RoleSystem, Content: openai.TextContent(b.Text)})
		}
	}
	for i, m := range req.Messages {
		p := at("messages", i)
		if err := r.extra(p, m.Extra.Keys()); err != nil {
			return nil, err
		}
		msgs, err := anthropicMessageToOpenAI(r, p, &m)
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	if n := len(req.Messages); n > 0 && req.Messages[len(req.Messages)-1].Role == anthropic.RoleAssistant {
		return nil, r.because(at("messages", n-1)+".role", "Chat Completions does not continue a partial assistant turn")
	}
	return out, nil
}

func anthropicMessageToOpenAI(r refuser, p string, m *anthropic.Message) ([]openai.Message, error) {
	if m.Role != anthropic.RoleUser && m.Role != anthropic.RoleAssistant {
		return nil, r.because(p+".role", "roles: user, assistant")
	}
	if m.Content.IsText() {
		return []openai.Message{{Role: m.Role, Content: openai.TextContent(m.Content.Text)}}, nil
	}
	var out []openai.Message
	var parts []openai.ContentPart
	var text strings.Builder
	hasText := false
	var calls []openai.ToolCall
	user := m.Role == anthropic.RoleUser
	for j, b := range m.Content.Blocks {
		q := at(p+".content", j)
		if err := anthropicBlockExtra(r, q, &b); err != nil {
			return nil, err
		}
		if b.CacheControl != nil {
			return nil, r.because(q+".cache_control", "OpenAI caches prompts on its own and has no cache markers")
		}
		switch {
		case b.Type == anthropic.BlockText:
			// An assistant turn's citations are the sources of an earlier
			// answer, not an instruction: Chat Completions requests have no
			// form for them, and the model sees its own text again.
			if hasCitations(b.Citations) && user {
				return nil, r.because(q+".citations", "only the model's own text (an assistant turn) can carry citations")
			}
			if err := checkCitations(r, q+".citations", b.Citations); err != nil {
				return nil, err
			}
			parts = append(parts, openai.ContentPart{Type: openai.PartText, Text: b.Text})
			text.WriteString(b.Text)
			hasText = true
		case b.Type == anthropic.BlockImage && user:
			s := b.Source
			if s == nil {
				return nil, r.because(q+".source", "missing")
			}
			if err := r.extra(q+".source", s.Extra.Keys()); err != nil {
				return nil, err
			}
			switch s.Type {
			case "base64":
				parts = append(parts, openai.ContentPart{Type: openai.PartImageURL, ImageURL: &openai.ImageURL{URL: "data:" + s.MediaType + ";base64," + s.Data}})
			case "url":
				parts = append(parts, openai.ContentPart{Type: openai.PartImageURL, ImageURL: &openai.ImageURL{URL: s.URL}})
			default:
				return nil, r.because(q+".source.type", "image sources: base64, url")
			}
		case b.Type == anthropic.BlockDocument && user:
			s := b.Source
			if s == nil || s.Type != "base64" || s.MediaType != "application/pdf" || len(s.Extra) > 0 || b.Context != "" || hasCitations(b.Citations) {
				return nil, r.because(q, "documents: base64 PDF without context or citations; Chat Completions takes PDF documents only, so send a text document's text as a text block")
			}
			name := b.Title
			if name == "" {
				name = "document.pdf"
			}
			parts = append(parts, openai.ContentPart{Type: openai.PartFile, File: &openai.File{Filename: name, FileData: "data:application/pdf;base64," + s.Data}})
		case b.Type == anthropic.BlockToolResult && user:
			var content strings.Builder
			if c := b.Content; c != nil {
				if c.IsText() {
					content.WriteString(c.Text)
				}
				for k, rb := range c.Blocks {
					if rb.Type != anthropic.BlockText || len(rb.Extra) > 0 || rb.CacheControl != nil || hasCitations(rb.Citations) {
						return nil, r.because(at(q+".content", k), "tool results: text")
					}
					content.WriteString(rb.Text)
				}
			}
			// is_error: true reaches the model as the content's first line
			// (toolErrorLine): tool messages have no error flag.
			out = append(out, openai.Message{Role: openai.RoleTool, ToolCallID: b.ToolUseID, Content: openAIToolResult(content.String(), b.IsError != nil && *b.IsError)})
		case b.Type == anthropic.BlockToolUse && !user:
			calls = append(calls, openai.ToolCall{ID: b.ID, Type: "function", Function: openai.FunctionCall{Name: b.Name, Arguments: compactJSON(b.Input)}})
		case (b.Type == anthropic.BlockThinking || b.Type == anthropic.BlockRedactedThinking) && !user:
			// The model's earlier reasoning, sent back: Chat Completions
			// has no reasoning input, and OpenAI-compatible reasoning
			// servers take none back. Left out (docs/api.md).
		case b.Type == anthropic.BlockThinking, b.Type == anthropic.BlockRedactedThinking:
			return nil, r.because(q+".type", "reasoning belongs to the model's own (assistant) turns")
		default:
			return nil, r.field(q + ".type")
		}
	}
	if user {
		if len(parts) > 0 {
			c := &openai.Content{Parts: parts}
			if len(parts) == 1 && parts[0].Type == openai.PartText {
				c = openai.TextContent(parts[0].Text)
			}
			out = append(out, openai.Message{Role: openai.RoleUser, Content: c})
		}
		return out, nil
	}
	msg := openai.Message{Role: openai.RoleAssistant, ToolCalls: calls}
	if hasText {
		msg.Content = openai.TextContent(text.String())
	}
	return append(out, msg), nil
}

// openAIFinishToAnthropic maps an OpenAI finish reason to an Anthropic stop reason.
func openAIFinishToAnthropic(reason string) string {
	switch reason {
	case openai.FinishLength:
		return anthropic.StopMaxTokens
	case openai.FinishToolCalls, openai.FinishFunctionCall:
		return anthropic.StopToolUse
	case openai.FinishContentFilter:
		return anthropic.StopRefusal
	}
	return anthropic.StopEndTurn
}

func openAIUsageToAnthropic(u *openai.Usage) anthropic.Usage {
	if u == nil {
		return anthropic.Usage{}
	}
	var cached int64
	if u.PromptTokensDetails != nil {
		cached = u.PromptTokensDetails.CachedTokens
	}
	out := anthropic.Usage{InputTokens: u.PromptTokens - cached, OutputTokens: u.CompletionTokens}
	if cached > 0 {
		out.CacheReadInputTokens = ptr(cached)
	}
	return out
}

// OpenAIToAnthropicResponse translates a Chat Completion to a Messages
// response. reasoning_content becomes a thinking block with an empty
// signature; a refusal becomes text with stop reason refusal; a stop
// sequence the server names (see openAIStopSequence) becomes stop_reason
// stop_sequence with stop_sequence; service_tier becomes usage.service_tier.
// url_citation annotations have no Messages form and are left out.
func OpenAIToAnthropicResponse(resp *openai.ChatCompletion, meta ResponseMeta) (*anthropic.Response, error) {
	r := refuser(targetAnthropic)
	ch, err := openAIChoice(r, resp)
	if err != nil {
		return nil, err
	}
	m := ch.Message
	m.ReasoningContent = openAIReasoning(m.ReasoningContent, m.Extra)
	out := &anthropic.Response{ID: meta.ID, Type: "message", Role: anthropic.RoleAssistant, Model: meta.Model, Content: []anthropic.Block{},
		Usage: openAIUsageToAnthropic(resp.Usage)}
	out.Usage.ServiceTier = anthropicTier(resp.ServiceTier)
	stop := openAIFinishToAnthropic(ch.FinishReason)
	if seq := openAIStopSequence(ch.FinishReason, ch.Extra); seq != nil {
		stop, out.StopSequence = anthropic.StopStopSequence, seq
	}
	if m.ReasoningContent != nil {
		out.Content = append(out.Content, anthropic.Block{Type: anthropic.BlockThinking, Thinking: *m.ReasoningContent})
	}
	if m.Content != nil && m.Content.Text != "" {
		out.Content = append(out.Content, anthropic.Block{Type: anthropic.BlockText, Text: m.Content.Text})
	}
	if m.Refusal != nil {
		out.Content = append(out.Content, anthropic.Block{Type: anthropic.BlockText, Text: *m.Refusal})
		stop = anthropic.StopRefusal
	}
	for i, tc := range m.ToolCalls {
		input, err := openAIToolInput(r, at("choices[0].message.tool_calls", i), &tc)
		if err != nil {
			return nil, err
		}
		out.Content = append(out.Content, anthropic.Block{Type: anthropic.BlockToolUse, ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	out.StopReason = &stop
	return out, nil
}

// OpenAIToAnthropicStream turns Chat Completions chunks into Messages stream
// events. Not safe for concurrent use; one per stream. The usage chunk
// yields message_delta and message_stop; call Finish after the last chunk to
// end a stream whose backend sent no usage.
type OpenAIToAnthropicStream struct {
	meta    ResponseMeta
	started bool
	done    bool
	stop    string
	stopSeq *string // the stop sequence the backend says it stopped on
	blocks  chunkBlocks
}

// NewOpenAIToAnthropicStream returns a stream translator.
func NewOpenAIToAnthropicStream(meta ResponseMeta) *OpenAIToAnthropicStream {
	return &OpenAIToAnthropicStream{meta: meta, blocks: newChunkBlocks()}
}

func (s *OpenAIToAnthropicStream) closeBlock(out []*anthropic.Event) []*anthropic.Event {
	if s.blocks.current >= 0 {
		out = append(out, &anthropic.Event{Type: anthropic.EventContentBlockStop, Index: ptr(s.blocks.current)})
		s.blocks.current = -1
	}
	return out
}

func (s *OpenAIToAnthropicStream) open(out []*anthropic.Event, kind string, b anthropic.Block) ([]*anthropic.Event, int64) {
	if s.blocks.current >= 0 && s.blocks.kind == kind && kind != "tool" {
		return out, s.blocks.current
	}
	out = s.closeBlock(out)
	s.blocks.current, s.blocks.kind = s.blocks.next, kind
	s.blocks.next++
	return append(out, startEvent(s.blocks.current, b)), s.blocks.current
}

// Chunk translates one chunk into zero or more events. An error chunk
// returns a *StreamError.
func (s *OpenAIToAnthropicStream) Chunk(c *openai.ChatCompletionChunk) ([]*anthropic.Event, error) {
	if err := openAIStreamError(c); err != nil {
		return nil, err
	}
	var out []*anthropic.Event
	if !s.started {
		s.started = true
		out = append(out, &anthropic.Event{Type: anthropic.EventMessageStart, Message: &anthropic.Response{ID: s.meta.ID, Type: "message",
			Role: anthropic.RoleAssistant, Model: s.meta.Model, Content: []anthropic.Block{}}})
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			return nil, failAnswer("unsupported", "more than one choice")
		}
		d := ch.Delta
		d.ReasoningContent = openAIReasoning(d.ReasoningContent, d.Extra)
		if d.ReasoningContent != nil && *d.ReasoningContent != "" {
			var idx int64
			out, idx = s.open(out, "reasoning", anthropic.Block{Type: anthropic.BlockThinking})
			out = append(out, deltaEvent(idx, anthropic.EventDelta{Type: anthropic.DeltaThinking, Thinking: *d.ReasoningContent}))
		}
		for _, t := range []*string{d.Content, d.Refusal} {
			if t != nil && *t != "" {
				var idx int64
				out, idx = s.open(out, "text", anthropic.Block{Type: anthropic.BlockText})
				out = append(out, deltaEvent(idx, anthropic.EventDelta{Type: anthropic.DeltaText, Text: *t}))
			}
		}
		if d.Refusal != nil && *d.Refusal != "" {
			s.stop = anthropic.StopRefusal
		}
		for _, tc := range d.ToolCalls {
			ti := deref(tc.Index)
			idx, known := s.blocks.tools[ti]
			if !known {
				out, idx = s.open(out, "tool", anthropic.Block{Type: anthropic.BlockToolUse, ID: tc.ID, Name: tc.Function.Name, Input: json.RawMessage(`{}`)})
				s.blocks.tools[ti] = idx
			}
			if tc.Function.Arguments != "" {
				out = append(out, deltaEvent(idx, anthropic.EventDelta{Type: anthropic.DeltaInputJSON, PartialJSON: ptr(tc.Function.Arguments)}))
			}
		}
		if ch.FinishReason != nil {
			out = s.closeBlock(out)
			if s.stop == "" {
				s.stop = openAIFinishToAnthropic(*ch.FinishReason)
				if s.stopSeq = openAIStopSequence(*ch.FinishReason, ch.Extra); s.stopSeq != nil {
					s.stop = anthropic.StopStopSequence
				}
			}
		}
	}
	if c.Usage != nil && !s.done {
		out = append(out, s.end(c.Usage)...)
	}
	return out, nil
}

func (s *OpenAIToAnthropicStream) end(u *openai.Usage) []*anthropic.Event {
	s.done = true
	out := s.closeBlock(nil)
	stop := s.stop
	if stop == "" {
		stop = anthropic.StopEndTurn
	}
	au := openAIUsageToAnthropic(u)
	return append(out,
		&anthropic.Event{Type: anthropic.EventMessageDelta, Delta: &anthropic.EventDelta{StopReason: &stop, StopSequence: s.stopSeq},
			Usage: &anthropic.DeltaUsage{InputTokens: ptr(au.InputTokens), OutputTokens: au.OutputTokens, CacheReadInputTokens: au.CacheReadInputTokens}},
		&anthropic.Event{Type: anthropic.EventMessageStop})
}

// Finish ends the stream after the backend's stream ended cleanly (with
// data: [DONE]): message_delta and message_stop when the backend sent no
// usage chunk, nothing otherwise. After a broken backend stream, report an
// error to the client instead.
func (s *OpenAIToAnthropicStream) Finish() []*anthropic.Event {
	if s.done || !s.started {
		return nil
	}
	return s.end(nil)
}
