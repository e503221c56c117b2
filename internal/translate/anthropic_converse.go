package translate

import (
	"encoding/base64"
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// AnthropicToConverseRequest translates a Messages request for a Converse
// backend. model, anthropic_version and stream are the caller's (Converse
// carries them in the URL). top_k, thinking and anthropic_beta, which
// Converse has no member for, travel in additionalModelRequestFields as
// opts.Family's model takes them (see anthropicModelFields).
// cache_control on a block, system block or tool becomes a cachePoint
// after it.
func AnthropicToConverseRequest(req *anthropic.Request, opts Options) (*converse.Request, error) {
	r := refuser(targetConverse)
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
	case req.Metadata != nil:
		return nil, r.field("metadata")
	case present(req.Container):
		return nil, r.field("container")
	case present(req.MCPServers):
		return nil, r.field("mcp_servers")
	case present(req.ContextManagement):
		return nil, r.field("context_management")
	}
	out := &converse.Request{}
	ic := converse.InferenceConfig{Temperature: req.Temperature, TopP: req.TopP, StopSequences: req.StopSequences}
	if req.MaxTokens > 0 {
		ic.MaxTokens = ptr(req.MaxTokens)
	}
	if ic.MaxTokens != nil || ic.Temperature != nil || ic.TopP != nil || ic.StopSequences != nil {
		out.InferenceConfig = &ic
	}
	fields, err := anthropicModelFields(r, req, opts.Family)
	if err != nil {
		return nil, err
	}
	out.AdditionalModelRequestFields = marshalFields(fields)
	switch req.ServiceTier {
	case "", "auto":
	case "standard_only":
		out.ServiceTier = &converse.ServiceTier{Type: "default"}
	default:
		return nil, r.because("service_tier", "expressible: auto, standard_only")
	}
	format, effort, err := anthropicOutput(r, req)
	if err != nil {
		return nil, err
	}
	if format != nil || effort != "" {
		out.OutputConfig = &converse.OutputConfig{Effort: effort}
		if format != nil {
			out.OutputConfig.TextFormat = &converse.OutputFormat{Type: "json_schema",
				Structure: converse.OutputStructure{JSONSchema: &converse.JSONSchemaDefinition{Schema: compactJSON(objectOrEmpty(format.Schema))}}}
		}
	}
	if len(req.Tools) > 0 {
		tc := &converse.ToolConfig{}
		for i, t := range req.Tools {
			p := at("tools", i)
			if !t.IsCustom() {
				return nil, r.because(p+".type", "server tools run only on Anthropic's API")
			}
			if err := r.extra(p, t.Extra.Keys()); err != nil {
				return nil, err
			}
			tc.Tools = append(tc.Tools, converse.Tool{ToolSpec: &converse.ToolSpec{Name: t.Name, Description: t.Description, Strict: t.Strict,
				InputSchema: converse.InputSchema{JSON: objectOrEmpty(t.InputSchema)}}})
			if t.CacheControl != nil {
				cp, err := cachePointFrom(r, p+".cache_control", t.CacheControl)
				if err != nil {
					return nil, err
				}
				tc.Tools = append(tc.Tools, converse.Tool{CachePoint: cp})
			}
		}
		out.ToolConfig = tc
	}
	if c := req.ToolChoice; c != nil {
		if err := r.extra("tool_choice", c.Extra.Keys()); err != nil {
			return nil, err
		}
		if c.DisableParallelToolUse != nil && *c.DisableParallelToolUse {
			return nil, r.field("tool_choice.disable_parallel_tool_use")
		}
		var choice *converse.ToolChoice
		switch c.Type {
		case "auto":
			choice = &converse.ToolChoice{Auto: &converse.Empty{}}
		case "any":
			choice = &converse.ToolChoice{Any: &converse.Empty{}}
		case "tool":
			choice = &converse.ToolChoice{Tool: &converse.SpecificTool{Name: c.Name}}
		default:
			return nil, r.because("tool_choice.type", "expressible: auto, any, tool")
		}
		if out.ToolConfig == nil {
			return nil, r.because("tool_choice", "no tools declared")
		}
		out.ToolConfig.ToolChoice = choice
	}
	if s := req.System; s != nil {
		if s.IsText() {
			out.System = []converse.SystemBlock{{Text: ptr(s.Text)}}
		}
		for i, b := range s.Blocks {
			p := at("system", i)
			if err := r.extra(p, b.Extra.Keys()); err != nil {
				return nil, err
			}
			if b.Type != anthropic.BlockText {
				return nil, r.because(p+".type", "system blocks must be text")
			}
			if hasCitations(b.Citations) {
				return nil, r.because(p+".citations", "a system prompt is not an answer and has no citations")
			}
			out.System = append(out.System, converse.SystemBlock{Text: ptr(b.Text)})
			if b.CacheControl != nil {
				cp, err := cachePointFrom(r, p+".cache_control", b.CacheControl)
				if err != nil {
					return nil, err
				}
				out.System = append(out.System, converse.SystemBlock{CachePoint: cp})
			}
		}
	}
	out.Messages = []converse.Message{}
	for i, m := range req.Messages {
		p := at("messages", i)
		if err := r.extra(p, m.Extra.Keys()); err != nil {
			return nil, err
		}
		if m.Role != anthropic.RoleUser && m.Role != anthropic.RoleAssistant {
			return nil, r.because(p+".role", "roles: user, assistant")
		}
		var blocks []converse.ContentBlock
		if m.Content.IsText() {
			blocks = []converse.ContentBlock{converse.TextBlock(m.Content.Text)}
		}
		for j, b := range m.Content.Blocks {
			if b.Type == anthropic.BlockThinking && b.Signature == "" && opts.Family == FamilyClaude {
				return nil, r.because(at(p+".content", j)+".signature", unsignedReasoningReason)
			}
			cb, err := anthropicBlockToConverse(r, at(p+".content", j), m.Role, &b)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, cb...)
		}
		out.Messages = appendConverse(out.Messages, m.Role, blocks)
	}
	return out, nil
}

// anthropicOutput reads the structured output format (output_config.format,
// or the beta output_format) and the effort of a Messages request.
func anthropicOutput(r refuser, req *anthropic.Request) (*anthropic.OutputFormat, string, error) {
	var format *anthropic.OutputFormat
	var effort string
	path := "output_format"
	if oc := req.OutputConfig; oc != nil {
		if err := r.extra("output_config", oc.Extra.Keys()); err != nil {
			return nil, "", err
		}
		if oc.Format != nil && req.OutputFormat != nil {
			return nil, "", r.because("output_format", "give output_config.format or output_format, not both")
		}
		format, effort, path = oc.Format, oc.Effort, "output_config.format"
	}
	if req.OutputFormat != nil {
		format, path = req.OutputFormat, "output_format"
	}
	if format != nil {
		if err := r.extra(path, format.Extra.Keys()); err != nil {
			return nil, "", err
		}
		if format.Type != "json_schema" {
			return nil, "", r.field(path + ".type")
		}
	}
	return format, effort, nil
}

func cachePointFrom(r refuser, p string, cc *anthropic.CacheControl) (*converse.CachePoint, error) {
	if err := r.extra(p, cc.Extra.Keys()); err != nil {
		return nil, err
	}
	if cc.Type != "ephemeral" {
		return nil, r.because(p+".type", "cache_control types: ephemeral")
	}
	return &converse.CachePoint{Type: "default", TTL: cc.TTL}, nil
}

// anthropicBlockToConverse converts one block, followed by a cachePoint
// when it carries cache_control.
//
// Text with citations on an assistant turn is the model's earlier answer
// sent back; it becomes a citationsContent block, the form Converse
// answered it in. On a user turn citations have no Converse form.
func anthropicBlockToConverse(r refuser, p, role string, b *anthropic.Block) ([]converse.ContentBlock, error) {
	if err := anthropicBlockExtra(r, p, b); err != nil {
		return nil, err
	}
	var cb converse.ContentBlock
	switch b.Type {
	case anthropic.BlockText:
		switch {
		case !hasCitations(b.Citations):
			cb.Text = ptr(b.Text)
		case role != anthropic.RoleAssistant:
			return nil, r.because(p+".citations", "only the model's own text (an assistant turn) can carry citations")
		default:
			cc, err := converseCitationsFrom(r, p+".citations", b.Text, b.Citations)
			if err != nil {
				return nil, err
			}
			cb.CitationsContent = cc
		}
	case anthropic.BlockImage:
		img, err := anthropicImageToConverse(r, p+".source", b.Source)
		if err != nil {
			return nil, err
		}
		cb.Image = img
	case anthropic.BlockDocument:
		s := b.Source
		if s == nil {
			return nil, r.because(p+".source", "missing")
		}
		if err := r.extra(p+".source", s.Extra.Keys()); err != nil {
			return nil, err
		}
		doc := &converse.DocumentBlock{Name: documentName(b.Title, 0), Context: b.Context}
		if !jsonx.IsNull(b.Citations) {
			doc.Citations = b.Citations
		}
		switch {
		case s.Type == "base64" && s.MediaType == "application/pdf":
			data, err := base64.StdEncoding.DecodeString(s.Data)
			if err != nil {
				return nil, r.because(p+".source.data", "invalid base64")
			}
			doc.Format, doc.Source.Bytes = "pdf", data
		case s.Type == "text":
			doc.Format, doc.Source.Bytes = "txt", []byte(s.Data)
		default:
			return nil, r.because(p+".source.type", "documents: base64 PDF or text")
		}
		cb.Document = doc
	case anthropic.BlockToolUse:
		cb.ToolUse = &converse.ToolUseBlock{ToolUseID: b.ID, Name: b.Name, Input: objectOrEmpty(b.Input)}
		if jsonx.IsNull(b.Input) {
			cb.ToolUse.Input = json.RawMessage(`{}`)
		}
	case anthropic.BlockToolResult:
		tr := &converse.ToolResultBlock{ToolUseID: b.ToolUseID, Content: []converse.ToolResultContent{}}
		if b.IsError != nil && *b.IsError {
			tr.Status = "error"
		}
		if c := b.Content; c != nil {
			if c.IsText() {
				tr.Content = append(tr.Content, converse.ToolResultContent{Text: ptr(c.Text)})
			}
			for k, rb := range c.Blocks {
				q := at(p+".content", k)
				if err := r.extra(q, rb.Extra.Keys()); err != nil {
					return nil, err
				}
				switch rb.Type {
				case anthropic.BlockText:
					if hasCitations(rb.Citations) {
						return nil, r.because(q+".citations", "Converse tool results carry no citations")
					}
					tr.Content = append(tr.Content, converse.ToolResultContent{Text: ptr(rb.Text)})
				case anthropic.BlockImage:
					img, err := anthropicImageToConverse(r, q+".source", rb.Source)
					if err != nil {
						return nil, err
					}
					tr.Content = append(tr.Content, converse.ToolResultContent{Image: img})
				default:
					return nil, r.because(q+".type", "tool results: text or image")
				}
				if rb.CacheControl != nil {
					return nil, r.because(q+".cache_control", "Converse has no cache point inside a tool result")
				}
			}
		}
		cb.ToolResult = tr
	case anthropic.BlockThinking:
		cb.ReasoningContent = &converse.ReasoningContent{ReasoningText: &converse.ReasoningText{Text: b.Thinking, Signature: b.Signature}}
	case anthropic.BlockRedactedThinking:
		data, err := base64.StdEncoding.DecodeString(b.Data)
		if err != nil {
			return nil, r.because(p+".data", "redacted thinking must be base64")
		}
		cb.ReasoningContent = &converse.ReasoningContent{RedactedContent: data}
	default:
		return nil, r.because(p+".type", "block types: text, image, document, tool_use, tool_result, thinking, redacted_thinking")
	}
	out := []converse.ContentBlock{cb}
	if b.CacheControl != nil {
		cp, err := cachePointFrom(r, p+".cache_control", b.CacheControl)
		if err != nil {
			return nil, err
		}
		out = append(out, converse.ContentBlock{CachePoint: cp})
	}
	return out, nil
}

// anthropicBlockExtra refuses the members of b this package does not know,
// except a tool_use block's caller when it says Claude called the tool
// itself (null or {"type":"direct"}): output metadata of an earlier answer
// that every translated tool call has. A caller naming a code execution
// tool is refused: the call belongs to a server container the target
// does not have.
func anthropicBlockExtra(r refuser, p string, b *anthropic.Block) error {
	if err := r.extra(p, b.Extra.Keys()); err != nil {
		return err
	}
	if !directCaller(b.Caller) {
		return r.because(p+".caller", "a tool call made from code execution; the target has no code execution")
	}
	return nil
}

// directCaller reports whether a tool_use caller is absent, null or
// {"type":"direct"}.
func directCaller(raw json.RawMessage) bool {
	if jsonx.IsNull(raw) {
		return true
	}
	var members map[string]json.RawMessage
	return json.Unmarshal(raw, &members) == nil && len(members) == 1 && string(members["type"]) == `"direct"`
}

func anthropicImageToConverse(r refuser, p string, s *anthropic.Source) (*converse.ImageBlock, error) {
	if s == nil {
		return nil, r.because(p, "missing")
	}
	if err := r.extra(p, s.Extra.Keys()); err != nil {
		return nil, err
	}
	if s.Type != "base64" {
		return nil, r.because(p+".type", "images must be base64; the gateway does not fetch URLs")
	}
	format, ok := imageFormat(s.MediaType)
	if !ok {
		return nil, r.field(p + ".media_type")
	}
	data, err := base64.StdEncoding.DecodeString(s.Data)
	if err != nil {
		return nil, r.because(p+".data", "invalid base64")
	}
	return &converse.ImageBlock{Format: format, Source: converse.Source{Bytes: data}}, nil
}

// converseStopToAnthropic maps a Converse stop reason to Anthropic's.
func converseStopToAnthropic(reason string) string {
	switch reason {
	case converse.StopGuardrailIntervened, converse.StopContentFiltered:
		return anthropic.StopRefusal
	case converse.StopMalformedModelOutput, converse.StopMalformedToolUse:
		return anthropic.StopEndTurn
	}
	return reason
}

// converseStopSequence reads the stop sequence Claude reported, which
// Converse returns only in additionalModelResponseFields.
func converseStopSequence(fields json.RawMessage) *string {
	var f struct {
		StopSequence *string `json:"stop_sequence"`
	}
	if json.Unmarshal(fields, &f) != nil {
		return nil
	}
	return f.StopSequence
}

func converseUsageToAnthropic(u converse.Usage) anthropic.Usage {
	return anthropic.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
		CacheReadInputTokens: u.CacheReadInputTokens, CacheCreationInputTokens: u.CacheWriteInputTokens,
		CacheCreation: cacheCreation(u.CacheDetails)}
}

// cacheCreation turns Converse's cache writes by TTL (usage.cacheDetails,
// [{"ttl":"1h","inputTokens":n}, ...]) into Anthropic's
// usage.cache_creation ({"ephemeral_1h_input_tokens":n, ...}). Details it
// cannot read, or a TTL Anthropic has no member for, are left to the total
// in cache_creation_input_tokens, which counts them all.
func cacheCreation(details json.RawMessage) json.RawMessage {
	var list []struct {
		TTL         string `json:"ttl"`
		InputTokens int64  `json:"inputTokens"`
	}
	if jsonx.IsNull(details) || json.Unmarshal(details, &list) != nil || len(list) == 0 {
		return nil
	}
	var out struct {
		OneHour  int64 `json:"ephemeral_1h_input_tokens"`
		FiveMins int64 `json:"ephemeral_5m_input_tokens"`
	}
	for _, d := range list {
		switch d.TTL {
		case "1h":
			out.OneHour += d.InputTokens
		case "5m":
			out.FiveMins += d.InputTokens
		default:
			return nil
		}
	}
	b, _ := json.Marshal(out)
	return b
}

// ConverseToAnthropicResponse translates a Converse response to a Messages
// response. citationsContent becomes a text block with its citations (see
// converse_citations.go). Block types Anthropic has no form for are
// refused.
func ConverseToAnthropicResponse(resp *converse.Response, meta ResponseMeta) (*anthropic.Response, error) {
	out := &anthropic.Response{ID: meta.ID, Type: "message", Role: anthropic.RoleAssistant, Model: meta.Model, Content: []anthropic.Block{},
		StopReason:   ptr(converseStopToAnthropic(resp.StopReason)),
		StopSequence: meta.stopSequence(converseStopToAnthropic(resp.StopReason), converseStopSequence(resp.AdditionalModelResponseFields)),
		Usage:        converseUsageToAnthropic(resp.Usage)}
	out.Usage.ServiceTier = anthropicTier(converseTier(resp.ServiceTier))
	if m := resp.Output.Message; m != nil {
		for i, b := range m.Content {
			switch {
			case b.Text != nil:
				out.Content = append(out.Content, anthropic.Block{Type: anthropic.BlockText, Text: *b.Text})
			case b.ToolUse != nil && b.ToolUse.Type != "":
				return nil, serverToolCall(refuser(targetAnthropic), at("output.message.content", i), b.ToolUse.Type)
			case b.ToolUse != nil:
				out.Content = append(out.Content, anthropic.Block{Type: anthropic.BlockToolUse, ID: b.ToolUse.ToolUseID, Name: b.ToolUse.Name, Input: objectOrEmpty(b.ToolUse.Input)})
			case b.ReasoningContent != nil && b.ReasoningContent.ReasoningText != nil:
				rt := b.ReasoningContent.ReasoningText
				out.Content = append(out.Content, anthropic.Block{Type: anthropic.BlockThinking, Thinking: rt.Text, Signature: rt.Signature})
			case b.ReasoningContent != nil && b.ReasoningContent.RedactedContent != nil:
				out.Content = append(out.Content, anthropic.Block{Type: anthropic.BlockRedactedThinking, Data: base64.StdEncoding.EncodeToString(b.ReasoningContent.RedactedContent)})
			case present(b.CitationsContent):
				cb, err := citationsBlock(refuser(targetAnthropic), at("output.message.content", i)+".citationsContent", b.CitationsContent, false)
				if err != nil {
					return nil, err
				}
				out.Content = append(out.Content, cb)
			default:
				return nil, refuser(targetAnthropic).field(at("output.message.content", i))
			}
		}
	}
	return out, nil
}

// ConverseToAnthropicStream turns ConverseStream events into Messages
// stream events. Not safe for concurrent use; one per stream. The final
// metadata event yields message_delta (stop reason, usage) and message_stop.
type ConverseToAnthropicStream struct {
	meta         ResponseMeta
	open         map[int64]bool
	stopReason   string
	stopSequence *string
}

// NewConverseToAnthropicStream returns a stream translator.
func NewConverseToAnthropicStream(meta ResponseMeta) *ConverseToAnthropicStream {
	return &ConverseToAnthropicStream{meta: meta, open: map[int64]bool{}}
}

func startEvent(idx int64, b anthropic.Block) *anthropic.Event {
	return &anthropic.Event{Type: anthropic.EventContentBlockStart, Index: ptr(idx), ContentBlock: &b}
}

func deltaEvent(idx int64, d anthropic.EventDelta) *anthropic.Event {
	return &anthropic.Event{Type: anthropic.EventContentBlockDelta, Index: ptr(idx), Delta: &d}
}

// Event translates one event into zero or more Messages events.
func (s *ConverseToAnthropicStream) Event(e converse.Event) ([]*anthropic.Event, error) {
	var out []*anthropic.Event
	// ensureOpen starts a block that Converse opened implicitly.
	ensureOpen := func(idx int64, b anthropic.Block) {
		if !s.open[idx] {
			s.open[idx] = true
			out = append(out, startEvent(idx, b))
		}
	}
	switch {
	case e.MessageStart != nil:
		out = append(out, &anthropic.Event{Type: anthropic.EventMessageStart, Message: &anthropic.Response{ID: s.meta.ID, Type: "message",
			Role: anthropic.RoleAssistant, Model: s.meta.Model, Content: []anthropic.Block{}}})
	case e.ContentBlockStart != nil:
		idx := e.ContentBlockStart.ContentBlockIndex
		tu := e.ContentBlockStart.Start.ToolUse
		if emptyStart(&e.ContentBlockStart.Start) {
			break // the deltas say what the block is
		}
		if err := strayMember(&e.ContentBlockStart.Start, nil, "Messages"); err != nil {
			return nil, err
		}
		if tu == nil {
			return nil, failAnswer("unsupported", "content block start "+startMember(&e.ContentBlockStart.Start)+" has no Messages form")
		}
		ensureOpen(idx, anthropic.Block{Type: anthropic.BlockToolUse, ID: tu.ToolUseID, Name: tu.Name, Input: json.RawMessage(`{}`)})
	case e.ContentBlockDelta != nil:
		idx, d := e.ContentBlockDelta.ContentBlockIndex, e.ContentBlockDelta.Delta
		if err := strayMember(nil, &d, "Messages"); err != nil {
			return nil, err
		}
		switch {
		case d.Text != nil:
			ensureOpen(idx, anthropic.Block{Type: anthropic.BlockText})
			out = append(out, deltaEvent(idx, anthropic.EventDelta{Type: anthropic.DeltaText, Text: *d.Text}))
		case d.ToolUse != nil:
			if !s.open[idx] {
				return nil, failAnswer("protocol", "tool input delta without a tool use start")
			}
			out = append(out, deltaEvent(idx, anthropic.EventDelta{Type: anthropic.DeltaInputJSON, PartialJSON: ptr(d.ToolUse.Input)}))
		case d.ReasoningContent != nil:
			rc := d.ReasoningContent
			switch {
			case rc.RedactedContent != nil:
				ensureOpen(idx, anthropic.Block{Type: anthropic.BlockRedactedThinking, Data: base64.StdEncoding.EncodeToString(rc.RedactedContent)})
			case rc.Text != nil:
				ensureOpen(idx, anthropic.Block{Type: anthropic.BlockThinking})
				out = append(out, deltaEvent(idx, anthropic.EventDelta{Type: anthropic.DeltaThinking, Thinking: *rc.Text}))
			case rc.Signature != nil:
				ensureOpen(idx, anthropic.Block{Type: anthropic.BlockThinking})
				out = append(out, deltaEvent(idx, anthropic.EventDelta{Type: anthropic.DeltaSignature, Signature: *rc.Signature}))
			}
		case present(d.Citation):
			c, err := citationDelta(d.Citation)
			if err != nil {
				return nil, err
			}
			ensureOpen(idx, anthropic.Block{Type: anthropic.BlockText})
			out = append(out, deltaEvent(idx, anthropic.EventDelta{Type: anthropic.DeltaCitations, Citation: c}))
		case emptyDelta(&d):
			// says nothing
		default:
			return nil, failAnswer("unsupported", "content block delta "+deltaMember(&d)+" has no Messages form")
		}
	case e.ContentBlockStop != nil:
		idx := e.ContentBlockStop.ContentBlockIndex
		if s.open[idx] {
			out = append(out, &anthropic.Event{Type: anthropic.EventContentBlockStop, Index: ptr(idx)})
		}
	case e.MessageStop != nil:
		s.stopReason = converseStopToAnthropic(e.MessageStop.StopReason)
		s.stopSequence = s.meta.stopSequence(s.stopReason, converseStopSequence(e.MessageStop.AdditionalModelResponseFields))
	case e.Metadata != nil:
		u := e.Metadata.Usage
		out = append(out,
			&anthropic.Event{Type: anthropic.EventMessageDelta, Delta: &anthropic.EventDelta{StopReason: ptr(s.stopReason), StopSequence: s.stopSequence},
				Usage: &anthropic.DeltaUsage{InputTokens: ptr(u.InputTokens), OutputTokens: u.OutputTokens, CacheReadInputTokens: u.CacheReadInputTokens, CacheCreationInputTokens: u.CacheWriteInputTokens}},
			&anthropic.Event{Type: anthropic.EventMessageStop})
	}
	return out, nil
}

// anthropicModelFields returns the additionalModelRequestFields of a
// Messages request's top_k, thinking and anthropic_beta for a model of
// family f: Claude's own members as Bedrock documents them for Claude;
// top_k as inferenceConfig.topK for Amazon Nova and as top_k for the
// Mistral models that list it; enabled thinking, with the effort of its
// budget (below 4096 tokens low, below 16384 medium, else high), as
// reasoningConfig for Amazon Nova 2 Lite and as reasoning_effort for
// OpenAI gpt-oss. What the family has no member for is refused by name.
// Thinking of type disabled asks for the default of every family that
// cannot reason, and is then not sent; gpt-oss always reasons, so it is
// refused there. A budget asking Nova for high is
// refused: Nova takes high only without a token limit, and max_tokens
// (which Messages requires) is one.
func anthropicModelFields(r refuser, req *anthropic.Request, f ConverseFamily) (map[string]any, error) {
	fields := map[string]any{}
	if req.TopK != nil {
		if err := topKFields(f, r, "top_k", *req.TopK, fields); err != nil {
			return nil, err
		}
	}
	if t := req.Thinking; t != nil {
		if err := r.extra("thinking", t.Extra.Keys()); err != nil {
			return nil, err
		}
		switch {
		case f == FamilyClaude:
			fields["thinking"] = t // display included: Bedrock hands the member to Claude as is
		case t.Display != "":
			return nil, r.because("thinking.display", noThinkingDisplay)
		case f == FamilyGPTOSS && t.Type == "disabled":
			return nil, r.because("thinking.type", gptOSSAlwaysReasons)
		case t.Type == "disabled":
		case (f == FamilyNovaReasoning || f == FamilyGPTOSS) && t.Type != "enabled":
			return nil, r.because("thinking.type", "this model takes thinking enabled (as its reasoning effort, from budget_tokens) or disabled")
		case f == FamilyNovaReasoning:
			effort := BudgetEffort(t.BudgetTokens)
			if effort == "high" && req.MaxTokens > 0 {
				return nil, r.because("thinking.budget_tokens", "a budget of 16384 tokens or more asks Amazon Nova for maxReasoningEffort high; "+
					noEffortHigh+", and max_tokens is one: ask for a budget below 16384 (medium)")
			}
			fields["reasoningConfig"] = novaReasoning(effort)
		case f == FamilyGPTOSS:
			fields["reasoning_effort"] = BudgetEffort(t.BudgetTokens)
		default:
			return nil, r.because("thinking", noReasoning(f))
		}
	}
	if len(req.AnthropicBeta) > 0 && f != FamilyClaude {
		return nil, r.because("anthropic_beta", "beta flags are Claude's; this model family takes none")
	}
	if len(req.AnthropicBeta) > 0 {
		fields["anthropic_beta"] = req.AnthropicBeta
	}
	return fields, nil
}
