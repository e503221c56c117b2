package translate

import (
	"encoding/base64"
	"encoding/json"
	"slices"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// ConverseToAnthropicRequest translates a Converse request for an Anthropic
// Messages backend. The caller sets Model and Stream for /v1/messages; with
// opts.AnthropicBedrock the body carries anthropic_version for Bedrock
// InvokeModel. A cachePoint becomes
// cache_control on the block, system block or tool before it.
// additionalModelRequestFields merge into the body, as Bedrock does for
// Claude: a member that conflicts with a translated one, or that the
// Messages API does not define, is refused.
func ConverseToAnthropicRequest(req *converse.Request, opts Options) (*anthropic.Request, error) {
	r := refuser(targetAnthropic)
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
	case req.RequestMetadata != nil:
		return nil, r.field("requestMetadata")
	case req.PerformanceConfig != nil && (req.PerformanceConfig.Latency != "standard" || len(req.PerformanceConfig.Extra) > 0):
		return nil, r.field("performanceConfig")
	}
	out := &anthropic.Request{MaxTokens: opts.defaultMaxTokens()}
	if ic := req.InferenceConfig; ic != nil {
		if err := r.extra("inferenceConfig", ic.Extra.Keys()); err != nil {
			return nil, err
		}
		if ic.MaxTokens != nil {
			out.MaxTokens = *ic.MaxTokens
		}
		out.Temperature, out.TopP, out.StopSequences = ic.Temperature, ic.TopP, ic.StopSequences
	}
	if st := req.ServiceTier; st != nil {
		if st.Type != "default" || len(st.Extra) > 0 {
			return nil, r.because("serviceTier", "Anthropic tiers: default as standard_only")
		}
		out.ServiceTier = "standard_only"
	}
	if oc := req.OutputConfig; oc != nil {
		if err := r.extra("outputConfig", oc.Extra.Keys()); err != nil {
			return nil, err
		}
		if oc.Effort != "" {
			out.OutputConfig = &anthropic.OutputConfig{Effort: oc.Effort}
		}
		if tf := oc.TextFormat; tf != nil {
			js := tf.Structure.JSONSchema
			if len(tf.Extra) > 0 || len(tf.Structure.Extra) > 0 || tf.Type != "json_schema" || js == nil || len(js.Extra) > 0 {
				return nil, r.field("outputConfig.textFormat")
			}
			if !json.Valid([]byte(js.Schema)) {
				return nil, r.because("outputConfig.textFormat.structure.jsonSchema.schema", "not valid JSON")
			}
			if out.OutputConfig == nil {
				out.OutputConfig = &anthropic.OutputConfig{}
			}
			schema, err := describeSchema(r, "outputConfig.textFormat.structure.jsonSchema.description", json.RawMessage(js.Schema), js.Description)
			if err != nil {
				return nil, err
			}
			out.OutputConfig.Format = &anthropic.OutputFormat{Type: "json_schema", Schema: schema}
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
			switch {
			case t.ToolSpec != nil:
				ts := t.ToolSpec
				if err := r.extra(p+".toolSpec", ts.Extra.Keys()); err != nil {
					return nil, err
				}
				if err := r.extra(p+".toolSpec.inputSchema", ts.InputSchema.Extra.Keys()); err != nil {
					return nil, err
				}
				out.Tools = append(out.Tools, anthropic.Tool{Name: ts.Name, Description: ts.Description, InputSchema: objectOrEmpty(ts.InputSchema.JSON), Strict: ts.Strict})
			case t.CachePoint != nil:
				if len(out.Tools) == 0 {
					return nil, r.because(p+".cachePoint", "a cache point must follow a tool")
				}
				cc, err := cacheControlFrom(r, p+".cachePoint", t.CachePoint)
				if err != nil {
					return nil, err
				}
				out.Tools[len(out.Tools)-1].CacheControl = cc
			default:
				return nil, r.because(p+".systemTool", "Bedrock system tools run on Bedrock only")
			}
		}
		if c := tc.ToolChoice; c != nil {
			if err := r.extra("toolConfig.toolChoice", c.Extra.Keys()); err != nil {
				return nil, err
			}
			switch {
			case c.Auto != nil:
				out.ToolChoice = &anthropic.ToolChoice{Type: "auto"}
			case c.Any != nil:
				out.ToolChoice = &anthropic.ToolChoice{Type: "any"}
			case c.Tool != nil:
				out.ToolChoice = &anthropic.ToolChoice{Type: "tool", Name: c.Tool.Name}
			}
		}
	}
	var system []anthropic.Block
	for i, b := range req.System {
		p := at("system", i)
		if err := r.extra(p, b.Extra.Keys()); err != nil {
			return nil, err
		}
		switch {
		case b.Text != nil:
			system = append(system, anthropic.Block{Type: anthropic.BlockText, Text: *b.Text})
		case b.CachePoint != nil:
			if len(system) == 0 {
				return nil, r.because(p+".cachePoint", "a cache point must follow a block")
			}
			cc, err := cacheControlFrom(r, p+".cachePoint", b.CachePoint)
			if err != nil {
				return nil, err
			}
			system[len(system)-1].CacheControl = cc
		default:
			return nil, r.because(p+".guardContent", "guardrails run on Bedrock only")
		}
	}
	if system != nil {
		out.System = &anthropic.System{Blocks: system}
	}
	out.Messages = []anthropic.Message{}
	for i, m := range req.Messages {
		p := at("messages", i)
		if err := r.extra(p, m.Extra.Keys()); err != nil {
			return nil, err
		}
		if m.Role != converse.RoleUser && m.Role != converse.RoleAssistant {
			return nil, r.because(p+".role", "roles: user, assistant")
		}
		blocks := []anthropic.Block{}
		for j, b := range m.Content {
			q := at(p+".content", j)
			if b.CachePoint != nil {
				if len(blocks) == 0 {
					return nil, r.because(q+".cachePoint", "a cache point must follow a block")
				}
				cc, err := cacheControlFrom(r, q+".cachePoint", b.CachePoint)
				if err != nil {
					return nil, err
				}
				blocks[len(blocks)-1].CacheControl = cc
				continue
			}
			ab, err := converseBlockToAnthropic(r, q, m.Role, &b)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, ab)
		}
		out.Messages = appendAnthropic(out.Messages, m.Role, blocks)
	}
	if !jsonx.IsNull(req.AdditionalModelRequestFields) {
		merged, err := mergeFields(r, out, req.AdditionalModelRequestFields)
		if err != nil {
			return nil, err
		}
		out = merged
	}
	opts.shapeAnthropic(out)
	return out, nil
}

// mergeFields merges additionalModelRequestFields into the body.
func mergeFields(r refuser, req *anthropic.Request, fields json.RawMessage) (*anthropic.Request, error) {
	var add map[string]json.RawMessage
	if err := json.Unmarshal(fields, &add); err != nil {
		return nil, r.because("additionalModelRequestFields", "must be a JSON object")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(add))
	for k := range add {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if _, dup := m[k]; dup {
			return nil, r.because("additionalModelRequestFields."+k, "conflicts with a translated member")
		}
		m[k] = add[k]
	}
	body, _ = json.Marshal(m)
	out := new(anthropic.Request)
	if err := json.Unmarshal(body, out); err != nil {
		return nil, r.because("additionalModelRequestFields", "a member does not fit the Messages API")
	}
	if len(out.Extra) > 0 {
		return nil, r.because("additionalModelRequestFields."+out.Extra.Keys()[0], "not a Messages API member")
	}
	return out, nil
}

func cacheControlFrom(r refuser, p string, cp *converse.CachePoint) (*anthropic.CacheControl, error) {
	if err := r.extra(p, cp.Extra.Keys()); err != nil {
		return nil, err
	}
	if cp.Type != "default" {
		return nil, r.field(p + ".type")
	}
	return &anthropic.CacheControl{Type: "ephemeral", TTL: cp.TTL}, nil
}

func converseImageToAnthropic(r refuser, p string, img *converse.ImageBlock) (*anthropic.Source, error) {
	if err := r.extra(p, img.Extra.Keys()); err != nil {
		return nil, err
	}
	if err := r.extra(p+".source", img.Source.Extra.Keys()); err != nil {
		return nil, err
	}
	if img.Source.Bytes == nil {
		return nil, r.because(p+".source", "images must be bytes; S3 locations are readable only by Bedrock")
	}
	return &anthropic.Source{Type: "base64", MediaType: imageMediaType(img.Format), Data: base64.StdEncoding.EncodeToString(img.Source.Bytes)}, nil
}

// converseBlockToAnthropic converts one content block of a message in
// role. A citationsContent block on an assistant turn is an earlier cited
// answer sent back: it becomes the text block with citations Claude
// answered it as.
func converseBlockToAnthropic(r refuser, p, role string, b *converse.ContentBlock) (anthropic.Block, error) {
	if err := r.extra(p, b.Extra.Keys()); err != nil {
		return anthropic.Block{}, err
	}
	switch {
	case b.Text != nil:
		return anthropic.Block{Type: anthropic.BlockText, Text: *b.Text}, nil
	case b.Image != nil:
		src, err := converseImageToAnthropic(r, p+".image", b.Image)
		if err != nil {
			return anthropic.Block{}, err
		}
		return anthropic.Block{Type: anthropic.BlockImage, Source: src}, nil
	case b.Document != nil:
		d := b.Document
		if err := r.extra(p+".document", d.Extra.Keys()); err != nil {
			return anthropic.Block{}, err
		}
		if err := r.extra(p+".document.source", d.Source.Extra.Keys()); err != nil {
			return anthropic.Block{}, err
		}
		out := anthropic.Block{Type: anthropic.BlockDocument, Title: d.Name, Context: d.Context}
		if !jsonx.IsNull(d.Citations) {
			out.Citations = d.Citations
		}
		switch {
		case d.Format == "pdf" && d.Source.Bytes != nil:
			out.Source = &anthropic.Source{Type: "base64", MediaType: "application/pdf", Data: base64.StdEncoding.EncodeToString(d.Source.Bytes)}
		case (d.Format == "txt" || d.Format == "md") && d.Source.Bytes != nil:
			out.Source = &anthropic.Source{Type: "text", MediaType: "text/plain", Data: string(d.Source.Bytes)}
		case d.Source.Text != nil:
			out.Source = &anthropic.Source{Type: "text", MediaType: "text/plain", Data: *d.Source.Text}
		default:
			return anthropic.Block{}, r.because(p+".document", "documents: PDF or text bytes")
		}
		return out, nil
	case b.ToolUse != nil:
		tu := b.ToolUse
		if err := r.extra(p+".toolUse", tu.Extra.Keys()); err != nil {
			return anthropic.Block{}, err
		}
		if tu.Type != "" {
			return anthropic.Block{}, r.because(p+".toolUse.type", serverToolUse)
		}
		return anthropic.Block{Type: anthropic.BlockToolUse, ID: tu.ToolUseID, Name: tu.Name, Input: objectOrEmpty(tu.Input)}, nil
	case b.ToolResult != nil:
		tr := b.ToolResult
		if err := r.extra(p+".toolResult", tr.Extra.Keys()); err != nil {
			return anthropic.Block{}, err
		}
		if tr.Type != "" {
			return anthropic.Block{}, r.because(p+".toolResult.type", "a server tool's result has no Messages form")
		}
		if err := toolResultStatus(r, p, tr.Status); err != nil {
			return anthropic.Block{}, err
		}
		out := anthropic.Block{Type: anthropic.BlockToolResult, ToolUseID: tr.ToolUseID, Content: &anthropic.Content{Blocks: []anthropic.Block{}}}
		if tr.Status == "error" {
			out.IsError = ptr(true)
		}
		for k, c := range tr.Content {
			q := at(p+".toolResult.content", k)
			if err := r.extra(q, c.Extra.Keys()); err != nil {
				return anthropic.Block{}, err
			}
			switch {
			case c.Text != nil:
				out.Content.Blocks = append(out.Content.Blocks, anthropic.Block{Type: anthropic.BlockText, Text: *c.Text})
			case present(c.JSON):
				out.Content.Blocks = append(out.Content.Blocks, anthropic.Block{Type: anthropic.BlockText, Text: compactJSON(c.JSON)})
			case c.Image != nil:
				src, err := converseImageToAnthropic(r, q+".image", c.Image)
				if err != nil {
					return anthropic.Block{}, err
				}
				out.Content.Blocks = append(out.Content.Blocks, anthropic.Block{Type: anthropic.BlockImage, Source: src})
			default:
				return anthropic.Block{}, r.because(q, "tool results: text, json or image")
			}
		}
		return out, nil
	case b.ReasoningContent != nil:
		rc := b.ReasoningContent
		if err := r.extra(p+".reasoningContent", rc.Extra.Keys()); err != nil {
			return anthropic.Block{}, err
		}
		if rc.ReasoningText != nil {
			if err := r.extra(p+".reasoningContent.reasoningText", rc.ReasoningText.Extra.Keys()); err != nil {
				return anthropic.Block{}, err
			}
			if rc.ReasoningText.Signature == "" {
				// An Anthropic deployment serves Claude.
				return anthropic.Block{}, r.because(p+".reasoningContent.reasoningText.signature", unsignedReasoningReason)
			}
			return anthropic.Block{Type: anthropic.BlockThinking, Thinking: rc.ReasoningText.Text, Signature: rc.ReasoningText.Signature}, nil
		}
		return anthropic.Block{Type: anthropic.BlockRedactedThinking, Data: base64.StdEncoding.EncodeToString(rc.RedactedContent)}, nil
	case b.Video != nil:
		return anthropic.Block{}, r.because(p+".video", "Messages takes no video")
	case present(b.GuardContent):
		return anthropic.Block{}, r.because(p+".guardContent", "guardrails run on Bedrock only")
	case present(b.CitationsContent) && role == converse.RoleAssistant:
		return citationsBlock(r, p+".citationsContent", b.CitationsContent, true)
	case present(b.CitationsContent):
		return anthropic.Block{}, r.because(p+".citationsContent", "only the model's own text (an assistant turn) can carry citations")
	case present(b.SearchResult):
		return anthropic.Block{}, r.because(p+".searchResult", "no Messages form is carried for search result blocks")
	case present(b.Audio):
		return anthropic.Block{}, r.because(p+".audio", "Messages takes no audio")
	case present(b.ToolAddition):
		return anthropic.Block{}, r.because(p+".toolAddition", "Messages cannot change the tools mid-conversation")
	case present(b.ToolRemoval):
		return anthropic.Block{}, r.because(p+".toolRemoval", "Messages cannot change the tools mid-conversation")
	}
	return anthropic.Block{}, r.because(p, "empty content block")
}

// anthropicStopToConverse maps an Anthropic stop reason to Converse's.
func anthropicStopToConverse(reason string) string {
	switch reason {
	case anthropic.StopRefusal:
		return converse.StopContentFiltered
	case anthropic.StopPauseTurn, "":
		return converse.StopEndTurn
	}
	return reason
}

func anthropicUsageToConverse(input, output int64, cacheRead, cacheWrite *int64) converse.Usage {
	return converse.Usage{InputTokens: input, OutputTokens: output, TotalTokens: input + output + deref(cacheRead) + deref(cacheWrite),
		CacheReadInputTokens: cacheRead, CacheWriteInputTokens: cacheWrite}
}

// AnthropicToConverseResponse translates a Messages response to a Converse
// response. Block types Converse has no form for are refused.
func AnthropicToConverseResponse(resp *anthropic.Response, meta ResponseMeta) (*converse.Response, error) {
	msg := &converse.Message{Role: converse.RoleAssistant, Content: []converse.ContentBlock{}}
	for i, b := range resp.Content {
		switch b.Type {
		case anthropic.BlockText, anthropic.BlockToolUse, anthropic.BlockThinking, anthropic.BlockRedactedThinking:
			cb, err := anthropicBlockToConverse(refuser(targetConverse), at("content", i), anthropic.RoleAssistant, &b)
			if err != nil {
				return nil, err
			}
			msg.Content = append(msg.Content, cb...)
		default:
			return nil, refuser(targetConverse).field(at("content", i) + ".type")
		}
	}
	u := resp.Usage
	out := &converse.Response{Output: converse.Output{Message: msg}, StopReason: anthropicStopToConverse(deref(resp.StopReason)),
		Usage:   anthropicUsageToConverse(u.InputTokens, u.OutputTokens, u.CacheReadInputTokens, u.CacheCreationInputTokens),
		Metrics: converse.Metrics{LatencyMs: meta.LatencyMs}, ServiceTier: openAITierToConverse(tierFromAnthropic(u.ServiceTier))}
	if resp.StopSequence != nil {
		out.AdditionalModelResponseFields, _ = json.Marshal(map[string]string{"stop_sequence": *resp.StopSequence})
	}
	return out, nil
}

// AnthropicToConverseStream turns Messages stream events into ConverseStream
// events. Not safe for concurrent use; one per stream. message_delta yields
// messageStop; message_stop yields metadata with the usage.
type AnthropicToConverseStream struct {
	meta                  ResponseMeta
	input, output         int64
	cacheRead, cacheWrite *int64
	tier                  *converse.ServiceTier // served tier, from message_start
}

// NewAnthropicToConverseStream returns a stream translator.
func NewAnthropicToConverseStream(meta ResponseMeta) *AnthropicToConverseStream {
	return &AnthropicToConverseStream{meta: meta}
}

func blockDelta(idx int64, d converse.BlockDelta) converse.Event {
	return converse.Event{Type: converse.EventContentBlockDelta, ContentBlockDelta: &converse.ContentBlockDelta{ContentBlockIndex: idx, Delta: d}}
}

// Event translates one event into zero or more ConverseStream events. An
// error event returns a *StreamError.
func (s *AnthropicToConverseStream) Event(e *anthropic.Event) ([]converse.Event, error) {
	idx := deref(e.Index)
	switch e.Type {
	case anthropic.EventMessageStart:
		if e.Message != nil {
			u := e.Message.Usage
			s.input, s.output, s.cacheRead, s.cacheWrite = u.InputTokens, u.OutputTokens, u.CacheReadInputTokens, u.CacheCreationInputTokens
			s.tier = openAITierToConverse(tierFromAnthropic(u.ServiceTier))
		}
		return []converse.Event{{Type: converse.EventMessageStart, MessageStart: &converse.MessageStart{Role: converse.RoleAssistant}}}, nil
	case anthropic.EventContentBlockStart:
		b := e.ContentBlock
		if b == nil {
			return nil, failAnswer("protocol", "content_block_start without a block")
		}
		switch b.Type {
		case anthropic.BlockToolUse:
			if !directCaller(b.Caller) {
				return nil, failAnswer("unsupported", "a tool call made from code execution has no Converse form")
			}
			return []converse.Event{{Type: converse.EventContentBlockStart, ContentBlockStart: &converse.ContentBlockStart{ContentBlockIndex: idx,
				Start: converse.BlockStart{ToolUse: &converse.ToolUseStart{ToolUseID: b.ID, Name: b.Name}}}}}, nil
		case anthropic.BlockText:
			if b.Text != "" {
				return []converse.Event{blockDelta(idx, converse.BlockDelta{Text: ptr(b.Text)})}, nil
			}
		case anthropic.BlockThinking:
			if b.Thinking != "" {
				return []converse.Event{blockDelta(idx, converse.BlockDelta{ReasoningContent: &converse.ReasoningDelta{Text: ptr(b.Thinking)}})}, nil
			}
		case anthropic.BlockRedactedThinking:
			data, err := base64.StdEncoding.DecodeString(b.Data)
			if err != nil {
				return nil, failAnswer("protocol", "redacted thinking is not base64")
			}
			return []converse.Event{blockDelta(idx, converse.BlockDelta{ReasoningContent: &converse.ReasoningDelta{RedactedContent: data}})}, nil
		default:
			return nil, failAnswer("unsupported", "response block type has no Converse form")
		}
		return nil, nil
	case anthropic.EventContentBlockDelta:
		d := e.Delta
		if d == nil {
			return nil, failAnswer("protocol", "content_block_delta without a delta")
		}
		switch d.Type {
		case anthropic.DeltaText:
			return []converse.Event{blockDelta(idx, converse.BlockDelta{Text: ptr(d.Text)})}, nil
		case anthropic.DeltaInputJSON:
			if deref(d.PartialJSON) == "" {
				return nil, nil
			}
			return []converse.Event{blockDelta(idx, converse.BlockDelta{ToolUse: &converse.ToolUseDelta{Input: *d.PartialJSON}})}, nil
		case anthropic.DeltaThinking:
			return []converse.Event{blockDelta(idx, converse.BlockDelta{ReasoningContent: &converse.ReasoningDelta{Text: ptr(d.Thinking)}})}, nil
		case anthropic.DeltaSignature:
			return []converse.Event{blockDelta(idx, converse.BlockDelta{ReasoningContent: &converse.ReasoningDelta{Signature: ptr(d.Signature)}})}, nil
		case anthropic.DeltaCitations:
			c, err := converseCitationDelta(d.Citation)
			if err != nil {
				return nil, err
			}
			return []converse.Event{blockDelta(idx, converse.BlockDelta{Citation: c})}, nil
		}
		return nil, failAnswer("unsupported", "delta type has no Converse form")
	case anthropic.EventContentBlockStop:
		return []converse.Event{{Type: converse.EventContentBlockStop, ContentBlockStop: &converse.ContentBlockStop{ContentBlockIndex: idx}}}, nil
	case anthropic.EventMessageDelta:
		if u := e.Usage; u != nil {
			s.output = u.OutputTokens
			if u.InputTokens != nil {
				s.input = *u.InputTokens
			}
			s.cacheRead = cmpOr(u.CacheReadInputTokens, s.cacheRead)
			s.cacheWrite = cmpOr(u.CacheCreationInputTokens, s.cacheWrite)
		}
		if e.Delta == nil || e.Delta.StopReason == nil {
			return nil, nil
		}
		ms := &converse.MessageStop{StopReason: anthropicStopToConverse(*e.Delta.StopReason)}
		if e.Delta.StopSequence != nil {
			ms.AdditionalModelResponseFields, _ = json.Marshal(map[string]string{"stop_sequence": *e.Delta.StopSequence})
		}
		return []converse.Event{{Type: converse.EventMessageStop, MessageStop: ms}}, nil
	case anthropic.EventMessageStop:
		return []converse.Event{{Type: converse.EventMetadata, Metadata: &converse.Metadata{
			Usage: anthropicUsageToConverse(s.input, s.output, s.cacheRead, s.cacheWrite), Metrics: converse.Metrics{LatencyMs: s.meta.LatencyMs},
			ServiceTier: s.tier}}}, nil
	case anthropic.EventError:
		se := &StreamError{Type: "api_error"}
		if e.Error != nil {
			se.Type, se.Message = e.Error.Type, e.Error.Message
		}
		return nil, se
	}
	return nil, nil
}
