package translate

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// OpenAIToAnthropicRequest translates a Chat Completions request for an
// Anthropic Messages backend. The model is copied to model; a Bedrock
// InvokeModel caller clears it and sets AnthropicVersion instead. max_tokens
// is required by Anthropic: without max_completion_tokens or max_tokens,
// opts.DefaultMaxTokens is sent. With opts.AnthropicBedrock the body is
// shaped for Bedrock InvokeModel instead.
func OpenAIToAnthropicRequest(req *openai.ChatCompletionRequest, opts Options) (*anthropic.Request, error) {
	r := refuser(targetAnthropic)
	if err := invalidOpenAI(req); err != nil {
		return nil, err
	}
	if err := refuseUnknown(r, req); err != nil {
		return nil, err
	}
	if err := refuseOpenAICommon(r, req); err != nil {
		return nil, err
	}
	if len(req.Metadata) > 0 {
		return nil, r.because("metadata", "Anthropic metadata holds only user_id (send user)")
	}
	out := &anthropic.Request{Model: req.Model, MaxTokens: openAIMaxTokens(req), Temperature: req.Temperature, TopP: req.TopP, Stream: req.Stream}
	if out.MaxTokens == 0 {
		out.MaxTokens = opts.defaultMaxTokens()
	}
	if req.Temperature != nil && *req.Temperature > 1 {
		return nil, r.because("temperature", "Anthropic accepts 0 to 1")
	}
	if req.Stop != nil {
		out.StopSequences = req.Stop.Sequences()
	}
	if req.User != "" {
		out.Metadata = &anthropic.Metadata{UserID: req.User}
	}
	if thinks(req) {
		if err := refuseSamplingWithThinking(r, req.Temperature, req.TopP); err != nil {
			return nil, err
		}
		budget, err := thinkingBudget(r, req.ReasoningEffort, out.MaxTokens)
		if err != nil {
			return nil, err
		}
		out.Thinking = &anthropic.Thinking{Type: "enabled", BudgetTokens: budget}
	}
	switch req.ServiceTier {
	case "":
	case "auto":
		out.ServiceTier = "auto"
	case "default":
		out.ServiceTier = "standard_only"
	default:
		return nil, r.because("service_tier", "Anthropic tiers: auto, and default as standard_only")
	}
	if rf := req.ResponseFormat; rf != nil {
		tf, err := openAIFormatToConverse(r, rf) // same checks; reuse the schema text
		if err != nil {
			return nil, err
		}
		if tf != nil {
			schema := json.RawMessage(tf.Structure.JSONSchema.Schema)
			if schema, err = describeSchema(r, "response_format.json_schema.description", schema, tf.Structure.JSONSchema.Description); err != nil {
				return nil, err
			}
			out.OutputConfig = &anthropic.OutputConfig{Format: &anthropic.OutputFormat{Type: "json_schema", Schema: schema}}
		}
	}
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
		out.Tools = append(out.Tools, anthropic.Tool{Name: f.Name, Description: f.Description, InputSchema: objectOrEmpty(f.Parameters), Strict: f.Strict})
	}
	if c := req.ToolChoice; c != nil {
		if err := r.extra("tool_choice", c.Extra.Keys()); err != nil {
			return nil, err
		}
		switch {
		case c.Mode == "auto":
			out.ToolChoice = &anthropic.ToolChoice{Type: "auto"}
		case c.Mode == "none":
			out.ToolChoice = &anthropic.ToolChoice{Type: "none"}
		case c.Mode == "required":
			out.ToolChoice = &anthropic.ToolChoice{Type: "any"}
		case c.Type == "function" && c.Function != nil:
			out.ToolChoice = &anthropic.ToolChoice{Type: "tool", Name: c.Function.Name}
		case c.Type == "allowed_tools":
			return nil, r.because("tool_choice.type", allowedToolsReason)
		default:
			return nil, r.because("tool_choice", "expressible: none, auto, required, a named function")
		}
	}
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls {
		if out.ToolChoice == nil {
			out.ToolChoice = &anthropic.ToolChoice{Type: "auto"}
		}
		if out.ToolChoice.Type != "none" {
			out.ToolChoice.DisableParallelToolUse = ptr(true)
		}
	}
	var system []anthropic.Block
	if thinks(req) && out.ToolChoice != nil && (out.ToolChoice.Type == "any" || out.ToolChoice.Type == "tool") {
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
				system = append(system, anthropic.Block{Type: anthropic.BlockText, Text: t})
			}
		case openai.RoleUser:
			blocks, err := openAIPartsToAnthropic(r, p+".content", m.Content)
			if err != nil {
				return nil, err
			}
			out.Messages = appendAnthropic(out.Messages, anthropic.RoleUser, blocks)
		case openai.RoleAssistant:
			var blocks []anthropic.Block
			texts, err := openAIAssistantText(r, p, &m)
			if err != nil {
				return nil, err
			}
			for _, t := range texts {
				blocks = append(blocks, anthropic.Block{Type: anthropic.BlockText, Text: t})
			}
			for j, tc := range m.ToolCalls {
				input, err := openAIToolCallInput(r, at(p+".tool_calls", j), &tc)
				if err != nil {
					return nil, err
				}
				blocks = append(blocks, anthropic.Block{Type: anthropic.BlockToolUse, ID: tc.ID, Name: tc.Function.Name, Input: input})
			}
			if len(blocks) == 0 {
				return nil, r.because(p, "an assistant message needs content or tool calls")
			}
			out.Messages = appendAnthropic(out.Messages, anthropic.RoleAssistant, blocks)
		case openai.RoleTool:
			texts, err := openAIText(r, p+".content", m.Content)
			if err != nil {
				return nil, err
			}
			content := &anthropic.Content{Blocks: []anthropic.Block{}}
			for _, t := range texts {
				content.Blocks = append(content.Blocks, anthropic.Block{Type: anthropic.BlockText, Text: t})
			}
			out.Messages = appendAnthropic(out.Messages, anthropic.RoleUser, []anthropic.Block{{Type: anthropic.BlockToolResult, ToolUseID: m.ToolCallID, Content: content}})
		default:
			return nil, r.because(p+".role", "roles: system, developer, user, assistant, tool")
		}
	}
	if system != nil {
		out.System = &anthropic.System{Blocks: system}
		if len(system) == 1 {
			out.System = &anthropic.System{Text: system[0].Text}
		}
	}
	if out.Messages == nil {
		out.Messages = []anthropic.Message{}
	}
	opts.shapeAnthropic(out)
	return out, nil
}

func openAIPartsToAnthropic(r refuser, p string, c *openai.Content) ([]anthropic.Block, error) {
	if c == nil {
		return nil, r.because(p, "missing")
	}
	if !c.IsParts() {
		return []anthropic.Block{{Type: anthropic.BlockText, Text: c.Text}}, nil
	}
	var out []anthropic.Block
	for j, part := range c.Parts {
		q := at(p, j)
		if err := r.extra(q, part.Extra.Keys()); err != nil {
			return nil, err
		}
		switch part.Type {
		case openai.PartText:
			out = append(out, anthropic.Block{Type: anthropic.BlockText, Text: part.Text})
		case openai.PartImageURL:
			img := part.ImageURL
			if img == nil {
				return nil, r.because(q+".image_url", "missing")
			}
			if err := r.extra(q+".image_url", img.Extra.Keys()); err != nil {
				return nil, err
			}
			if img.Detail != "" && img.Detail != "auto" {
				return nil, r.field(q + ".image_url.detail")
			}
			if strings.HasPrefix(img.URL, "https://") {
				out = append(out, anthropic.Block{Type: anthropic.BlockImage, Source: &anthropic.Source{Type: "url", URL: img.URL}})
				continue
			}
			mt, data, ok := dataURL(img.URL)
			if _, known := imageFormat(mt); !ok || !known {
				return nil, r.because(q+".image_url.url", "an https URL or a data: URL of a png, jpeg, gif or webp image")
			}
			out = append(out, anthropic.Block{Type: anthropic.BlockImage, Source: &anthropic.Source{Type: "base64", MediaType: mt, Data: base64.StdEncoding.EncodeToString(data)}})
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
			switch {
			case ok && mt == "application/pdf":
				out = append(out, anthropic.Block{Type: anthropic.BlockDocument, Title: f.Filename, Source: &anthropic.Source{Type: "base64", MediaType: mt, Data: base64.StdEncoding.EncodeToString(data)}})
			case ok && mt == "text/plain":
				out = append(out, anthropic.Block{Type: anthropic.BlockDocument, Title: f.Filename, Source: &anthropic.Source{Type: "text", MediaType: mt, Data: string(data)}})
			default:
				return nil, r.because(q+".file.file_data", "a data: URL of a PDF or plain text document")
			}
		default:
			return nil, r.field(q + ".type")
		}
	}
	return out, nil
}

// appendAnthropic appends blocks as a turn of role, merging into the last
// message when it has the same role.
func appendAnthropic(msgs []anthropic.Message, role string, blocks []anthropic.Block) []anthropic.Message {
	if n := len(msgs); n > 0 && msgs[n-1].Role == role {
		last := &msgs[n-1]
		if !last.Content.IsBlocks() {
			last.Content = anthropic.Content{Blocks: []anthropic.Block{{Type: anthropic.BlockText, Text: last.Content.Text}}}
		}
		last.Content.Blocks = append(last.Content.Blocks, blocks...)
		return msgs
	}
	return append(msgs, anthropic.Message{Role: role, Content: anthropic.Content{Blocks: blocks}})
}

// anthropicFinish maps an Anthropic stop reason to an OpenAI finish reason.
func anthropicFinish(reason string) string {
	switch reason {
	case anthropic.StopMaxTokens, "model_context_window_exceeded":
		return openai.FinishLength
	case anthropic.StopToolUse:
		return openai.FinishToolCalls
	case anthropic.StopRefusal:
		return openai.FinishContentFilter
	}
	return openai.FinishStop
}

func anthropicUsageToOpenAI(input, output int64, cacheRead, cacheWrite *int64) *openai.Usage {
	cached := deref(cacheRead)
	prompt := input + cached + deref(cacheWrite)
	return &openai.Usage{
		PromptTokens: prompt, CompletionTokens: output, TotalTokens: prompt + output,
		PromptTokensDetails: &openai.PromptTokensDetails{CachedTokens: cached},
	}
}

// AnthropicToOpenAIResponse translates a Messages response to a Chat
// Completion. Text blocks join into content, tool_use blocks become
// tool_calls, thinking becomes reasoning_content (signatures and
// redacted_thinking have no place in Chat Completions and are left out).
// Server tool blocks and text with citations are refused: their results
// and sources cannot be shown.
func AnthropicToOpenAIResponse(resp *anthropic.Response, meta ResponseMeta) (*openai.ChatCompletion, error) {
	msg := openai.Message{Role: openai.RoleAssistant}
	var text, reasoning strings.Builder
	hasText, hasReasoning := false, false
	for i, b := range resp.Content {
		switch b.Type {
		case anthropic.BlockText:
			if hasCitations(b.Citations) {
				// A Chat Completions client cannot ask for citations.
				return nil, refuser(targetOpenAI).because(at("content", i)+".citations", "citations have no Chat Completions form")
			}
			text.WriteString(b.Text)
			hasText = true
		case anthropic.BlockToolUse:
			if !directCaller(b.Caller) {
				return nil, refuser(targetOpenAI).because(at("content", i)+".caller", "a tool call made from code execution has no Chat Completions form")
			}
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: b.ID, Type: "function", Function: openai.FunctionCall{Name: b.Name, Arguments: compactJSON(b.Input)}})
		case anthropic.BlockThinking:
			reasoning.WriteString(b.Thinking)
			hasReasoning = true
		case anthropic.BlockRedactedThinking:
		default:
			return nil, refuser(targetOpenAI).field(at("content", i) + ".type")
		}
	}
	if hasText || len(msg.ToolCalls) == 0 {
		msg.Content = openai.TextContent(text.String())
	}
	if hasReasoning {
		msg.ReasoningContent = ptr(reasoning.String())
	}
	u := resp.Usage
	return &openai.ChatCompletion{
		ID: meta.ID, Object: "chat.completion", Created: meta.Created, Model: meta.Model,
		Choices:     []openai.Choice{{Index: 0, Message: msg, FinishReason: anthropicFinish(deref(resp.StopReason))}},
		Usage:       anthropicUsageToOpenAI(u.InputTokens, u.OutputTokens, u.CacheReadInputTokens, u.CacheCreationInputTokens),
		ServiceTier: tierFromAnthropic(u.ServiceTier),
	}, nil
}

// AnthropicToOpenAIStream turns Messages stream events into Chat
// Completions chunks. Not safe for concurrent use; one per stream.
type AnthropicToOpenAIStream struct {
	meta       ResponseMeta
	toolIndex  map[int64]int64 // content block index -> tool_calls index
	input      int64
	cacheRead  *int64
	cacheWrite *int64
	tier       string // served tier, from message_start, in OpenAI's terms
}

// NewAnthropicToOpenAIStream returns a stream translator.
func NewAnthropicToOpenAIStream(meta ResponseMeta) *AnthropicToOpenAIStream {
	return &AnthropicToOpenAIStream{meta: meta, toolIndex: map[int64]int64{}}
}

func (s *AnthropicToOpenAIStream) chunk(d openai.Delta, finish *string) openai.ChatCompletionChunk {
	return openai.ChatCompletionChunk{ID: s.meta.ID, Object: "chat.completion.chunk", Created: s.meta.Created, Model: s.meta.Model,
		Choices: []openai.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}}}
}

// Event translates one event into zero or more chunks. An error event
// returns a *StreamError. message_delta yields the finish chunk and, when
// meta.IncludeUsage is set, the usage chunk.
func (s *AnthropicToOpenAIStream) Event(e *anthropic.Event) ([]openai.ChatCompletionChunk, error) {
	switch e.Type {
	case anthropic.EventMessageStart:
		if e.Message != nil {
			u := e.Message.Usage
			s.input, s.cacheRead, s.cacheWrite = u.InputTokens, u.CacheReadInputTokens, u.CacheCreationInputTokens
			s.tier = tierFromAnthropic(u.ServiceTier)
		}
		return []openai.ChatCompletionChunk{s.chunk(openai.Delta{Role: openai.RoleAssistant, Content: ptr("")}, nil)}, nil
	case anthropic.EventContentBlockStart:
		b := e.ContentBlock
		if b == nil || e.Index == nil {
			return nil, failAnswer("protocol", "content_block_start without a block")
		}
		switch b.Type {
		case anthropic.BlockToolUse:
			if !directCaller(b.Caller) {
				return nil, failAnswer("unsupported", "a tool call made from code execution has no Chat Completions form")
			}
			idx := int64(len(s.toolIndex))
			s.toolIndex[*e.Index] = idx
			return []openai.ChatCompletionChunk{s.chunk(openai.Delta{ToolCalls: []openai.ToolCall{{Index: ptr(idx), ID: b.ID, Type: "function", Function: openai.FunctionCall{Name: b.Name}}}}, nil)}, nil
		case anthropic.BlockText:
			if b.Text != "" {
				return []openai.ChatCompletionChunk{s.chunk(openai.Delta{Content: ptr(b.Text)}, nil)}, nil
			}
		case anthropic.BlockThinking, anthropic.BlockRedactedThinking:
		default:
			return nil, failAnswer("unsupported", "response block type has no Chat Completions form")
		}
		return nil, nil
	case anthropic.EventContentBlockDelta:
		d := e.Delta
		if d == nil || e.Index == nil {
			return nil, failAnswer("protocol", "content_block_delta without a delta")
		}
		switch d.Type {
		case anthropic.DeltaText:
			return []openai.ChatCompletionChunk{s.chunk(openai.Delta{Content: ptr(d.Text)}, nil)}, nil
		case anthropic.DeltaInputJSON:
			idx, ok := s.toolIndex[*e.Index]
			if !ok {
				return nil, failAnswer("protocol", "input_json_delta outside a tool_use block")
			}
			if deref(d.PartialJSON) == "" {
				return nil, nil
			}
			return []openai.ChatCompletionChunk{s.chunk(openai.Delta{ToolCalls: []openai.ToolCall{{Index: ptr(idx), Function: openai.FunctionCall{Arguments: deref(d.PartialJSON)}}}}, nil)}, nil
		case anthropic.DeltaThinking:
			return []openai.ChatCompletionChunk{s.chunk(openai.Delta{ReasoningContent: ptr(d.Thinking)}, nil)}, nil
		case anthropic.DeltaSignature:
			return nil, nil // signatures: left out, as documented above
		}
		return nil, failAnswer("unsupported", "delta type has no Chat Completions form")
	case anthropic.EventMessageDelta:
		var out []openai.ChatCompletionChunk
		if e.Delta != nil && e.Delta.StopReason != nil {
			out = append(out, s.chunk(openai.Delta{}, ptr(anthropicFinish(*e.Delta.StopReason))))
		}
		if s.meta.IncludeUsage && e.Usage != nil {
			u := e.Usage
			input := s.input
			if u.InputTokens != nil {
				input = *u.InputTokens
			}
			c := s.chunk(openai.Delta{}, nil)
			c.Choices = []openai.ChunkChoice{}
			c.Usage = anthropicUsageToOpenAI(input, u.OutputTokens, cmpOr(u.CacheReadInputTokens, s.cacheRead), cmpOr(u.CacheCreationInputTokens, s.cacheWrite))
			c.ServiceTier = s.tier // on the usage chunk, as OpenAI sends it
			out = append(out, c)
		}
		return out, nil
	case anthropic.EventError:
		se := &StreamError{Type: "api_error"}
		if e.Error != nil {
			se.Type, se.Message = e.Error.Type, e.Error.Message
		}
		return nil, se
	}
	return nil, nil
}
