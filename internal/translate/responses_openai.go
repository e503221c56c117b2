package translate

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// The Responses API (POST /v1/responses) is served by translating through
// Chat Completions: a Responses request becomes a Chat Completions request,
// which goes to an OpenAI backend as is or through the Chat translators to
// Converse and Anthropic, so every mechanism those choose (structured
// output, reasoning budgets, tool results, caching) applies unchanged.
// Responses back, and stream events, take the same path in reverse.
// A refusal names the member's path in the Responses request ("input[3]
// .content[0].file_id", "text.format"), whichever step refused it.
//
// Meridian is stateless and stores nothing:
//   - previous_response_id, conversation, background and prompt (a stored
//     template) are refused: they need responses or prompts stored server
//     side. item_reference input items are refused for the same reason.
//   - store is accepted (the API's default is true) and ignored: nothing is
//     stored and the response says "store": false.
//   - include "reasoning.encrypted_content" is accepted: Claude's reasoning
//     comes back in encrypted_content and goes back to Claude from it: the
//     Chat body carries it on the assistant message it belongs to, and the
//     translators to Converse and Anthropic put it back (see
//     responses_reasoning.go); other reasoning items sent as input are
//     dropped.
//   - top_logprobs is accepted and not sent: logprobs show only with include
//     "message.output_text.logprobs", which is refused.
//   - reasoning.summary is accepted: the backend's reasoning text, when it
//     returns one, is the summary.

// chatPivot is a Responses request as a Chat Completions request, with the
// source path of each message for refusals.
type chatPivot struct {
	req   *openai.ChatCompletionRequest
	paths []msgPath
	calls map[[2]int]string // (message, tool call) -> source path
	// reasoning maps a message that carries reasoning items' blocks (its
	// reasoning_content) to the encrypted_content of the item a refusal
	// of them names: the first that holds a block without a signature,
	// else the first.
	reasoning map[int]string
}

// msgPath is a message's source path and what its content member is called
// there ("" when the source path is the content itself).
type msgPath struct {
	path, content string
}

const noStorage = "Meridian does not store responses; send the whole conversation in input"

// responsesToChat builds the Chat Completions request. r names the backend
// API the pivot heads for, in refusals.
func responsesToChat(r refuser, req *openai.ResponsesRequest) (*chatPivot, error) {
	dropNulls(req) // a null member counts as absent
	if err := refuseResponsesCommon(r, req); err != nil {
		return nil, err
	}
	out := &openai.ChatCompletionRequest{
		Model: req.Model, Stream: req.Stream, MaxCompletionTokens: req.MaxOutputTokens,
		Temperature: req.Temperature, TopP: req.TopP, ParallelToolCalls: req.ParallelToolCalls,
		Metadata: req.Metadata, User: req.User, ServiceTier: req.ServiceTier,
		PromptCacheKey: req.PromptCacheKey, PromptCacheRetention: req.PromptCacheRetention,
		SafetyIdentifier: req.SafetyIdentifier,
	}
	if req.Stream != nil && *req.Stream {
		so := &openai.StreamOptions{IncludeUsage: ptr(true)}
		if req.StreamOptions != nil {
			if err := r.extra("stream_options", req.StreamOptions.Extra.Keys()); err != nil {
				return nil, err
			}
			so.IncludeObfuscation = req.StreamOptions.IncludeObfuscation
		}
		out.StreamOptions = so
	}
	if r != targetConverse {
		// metadata belongs to the response object, which echoes it. Only
		// Converse has a request member of the same meaning (requestMetadata,
		// for invocation logs); Chat Completions takes metadata only with
		// store, and Anthropic's holds only user_id.
		out.Metadata = nil
	}
	if t := req.Text; t != nil {
		if err := r.extra("text", t.Extra.Keys()); err != nil {
			return nil, err
		}
		out.Verbosity = t.Verbosity
		if f := t.Format; f != nil {
			if err := r.extra("text.format", f.Extra.Keys()); err != nil {
				return nil, err
			}
			if f.Type != openai.FormatJSONSchema {
				for _, m := range []struct {
					name string
					set  bool
				}{{"name", f.Name != ""}, {"description", f.Description != ""}, {"schema", present(f.Schema)}, {"strict", f.Strict != nil}} {
					if m.set {
						return nil, r.because("text.format."+m.name, "a member of the json_schema type only")
					}
				}
			}
			switch f.Type {
			case openai.FormatText:
			case openai.FormatJSONObject:
				out.ResponseFormat = &openai.ResponseFormat{Type: openai.FormatJSONObject}
			case openai.FormatJSONSchema:
				if jsonx.IsNull(f.Schema) {
					return nil, r.because("text.format.schema", "missing")
				}
				out.ResponseFormat = &openai.ResponseFormat{Type: openai.FormatJSONSchema, JSONSchema: &openai.JSONSchema{
					Name: f.Name, Description: f.Description, Schema: f.Schema, Strict: f.Strict}}
			default:
				return nil, r.because("text.format.type", "expressible: text, json_object, json_schema")
			}
		}
	}
	if rc := req.Reasoning; rc != nil {
		if err := r.extra("reasoning", rc.Extra.Keys()); err != nil {
			return nil, err
		}
		for _, s := range []struct{ name, v string }{{"reasoning.summary", rc.Summary}, {"reasoning.generate_summary", rc.GenerateSummary}} {
			switch s.v {
			case "", "auto", "concise", "detailed":
			default:
				return nil, r.because(s.name, "expressible: auto, concise, detailed")
			}
		}
		if err := checkEffort("reasoning.effort", rc.Effort); err != nil {
			return nil, err
		}
		switch {
		case rc.Effort == "none" && r != targetOpenAI:
		default:
			out.ReasoningEffort = rc.Effort
		}
	}
	for i, t := range req.Tools {
		p := at("tools", i)
		if t.Type != "function" {
			return nil, r.because(p+".type", "only function tools")
		}
		if err := r.extra(p, t.Extra.Keys()); err != nil {
			return nil, err
		}
		out.Tools = append(out.Tools, openai.Tool{Type: "function", Function: &openai.FunctionDef{
			Name: t.Name, Description: t.Description, Parameters: t.Parameters, Strict: t.Strict}})
	}
	if c := req.ToolChoice; c != nil {
		tc, err := responsesToolChoice(r, c)
		if err != nil {
			return nil, err
		}
		out.ToolChoice = tc
	}
	pv := &chatPivot{req: out, calls: map[[2]int]string{}, reasoning: map[int]string{}}
	add := func(m openai.Message, p msgPath) {
		out.Messages = append(out.Messages, m)
		pv.paths = append(pv.paths, p)
	}
	// Claude's reasoning carried by reasoning items goes to the assistant
	// message the next assistant item lands in (see responses_reasoning.go).
	var pending []carriedReasoning
	var pendingAt string // the item a refusal of pending names (chatPivot.reasoning)
	pendingUnsigned := false
	carried := map[int][]carriedReasoning{}
	// A message can take reasoning twice (a function_call merges into the
	// assistant message before it): the path a refusal names is the first
	// batch's unless a later one holds an unsigned block and it does not.
	var unsignedAt map[int]bool
	land := func(k int) {
		if len(pending) > 0 {
			carried[k] = append(carried[k], pending...)
			if _, ok := pv.reasoning[k]; !ok || (pendingUnsigned && !unsignedAt[k]) {
				pv.reasoning[k] = pendingAt
				if pendingUnsigned {
					if unsignedAt == nil {
						unsignedAt = map[int]bool{}
					}
					unsignedAt[k] = true
				}
			}
			pending, pendingAt, pendingUnsigned = nil, "", false
		}
	}
	if req.Instructions != "" {
		add(openai.Message{Role: openai.RoleSystem, Content: openai.TextContent(req.Instructions)}, msgPath{"instructions", ""})
	}
	if req.Input == nil {
		return nil, r.because("input", "missing")
	}
	if req.Input.Items == nil {
		add(openai.Message{Role: openai.RoleUser, Content: openai.TextContent(req.Input.Text)}, msgPath{"input", ""})
		return pv, nil
	}
	for i, it := range req.Input.Items {
		p := at("input", i)
		if err := r.extra(p, it.Extra.Keys()); err != nil {
			return nil, err
		}
		if err := refuseStrayItem(r, p, &it); err != nil {
			return nil, err
		}
		switch it.Type {
		case "", openai.ItemMessage:
			m, err := responsesMessage(r, p, &it)
			if err != nil {
				return nil, err
			}
			add(m, msgPath{p, ".content"})
			if m.Role == openai.RoleAssistant {
				land(len(out.Messages) - 1)
			}
		case openai.ItemFunctionCall:
			if it.CallID == "" || it.Name == "" {
				return nil, r.because(p, "a function_call needs call_id and name")
			}
			tc := openai.ToolCall{ID: it.CallID, Type: "function", Function: openai.FunctionCall{Name: it.Name, Arguments: deref(it.Arguments)}}
			if n := len(out.Messages); n == 0 || out.Messages[n-1].Role != openai.RoleAssistant || out.Messages[n-1].Refusal != nil {
				add(openai.Message{Role: openai.RoleAssistant}, msgPath{p, ".content"})
			}
			k := len(out.Messages) - 1
			land(k)
			pv.calls[[2]int{k, len(out.Messages[k].ToolCalls)}] = p
			out.Messages[k].ToolCalls = append(out.Messages[k].ToolCalls, tc)
		case openai.ItemFunctionCallOutput:
			if it.CallID == "" || it.Output == nil {
				return nil, r.because(p, "a function_call_output needs call_id and output")
			}
			c, err := responsesToolOutput(r, p+".output", it.Output)
			if err != nil {
				return nil, err
			}
			add(openai.Message{Role: openai.RoleTool, ToolCallID: it.CallID, Content: c}, msgPath{p, ".output"})
		case openai.ItemReasoning:
			// Kept only when it carries Claude's blocks (see
			// responses_reasoning.go); otherwise dropped. Content with
			// Meridian's prefix that does not decode is refused.
			blocks, _, err := decodeReasoning(deref(it.EncryptedContent))
			if err != nil {
				return nil, invalid(p+".encrypted_content", badReasoning)
			}
			if len(blocks) > 0 {
				unsigned := slices.ContainsFunc(blocks, func(b carriedReasoning) bool { return b.Redacted == "" && b.Signature == "" })
				if pendingAt == "" || (unsigned && !pendingUnsigned) {
					pendingAt, pendingUnsigned = p+".encrypted_content", unsigned
				}
			}
			pending = append(pending, blocks...)
		case openai.ItemReference:
			return nil, r.because(p+".type", noStorage)
		default:
			return nil, r.because(p+".type", "expressible items: message, function_call, function_call_output, reasoning")
		}
	}
	if !slices.ContainsFunc(out.Messages, func(m openai.Message) bool {
		return m.Role != openai.RoleSystem && m.Role != openai.RoleDeveloper
	}) {
		return nil, r.because("input", "no message to answer")
	}
	if thinks(out) {
		for k, blocks := range carried {
			out.Messages[k].ReasoningContent = ptr(encodeReasoning(blocks))
		}
	}
	return pv, nil
}

// responsesToolChoice translates tool_choice into Chat's: a mode as it
// is, {"type":"function","name"} as Chat's named function, and
// {"type":"allowed_tools","mode","tools"} as Chat's
// {"type":"allowed_tools","allowed_tools":{"mode","tools"}} with each tool
// in Chat's function form. The type is read first, so that a member of
// another type is named as such rather than as unknown. A choice of
// another type names a tool of a type that cannot be declared here (tools
// other than function are refused), and is refused at tool_choice.type.
func responsesToolChoice(r refuser, c *openai.ResponseToolChoice) (*openai.ToolChoice, error) {
	if c.Mode != "" {
		return &openai.ToolChoice{Mode: c.Mode}, nil
	}
	switch c.Type {
	case "function":
		for _, k := range c.Extra.Keys() {
			if !jsonx.IsNull(c.Extra[k]) {
				return nil, r.because("tool_choice."+k, "not a member of function tool choices")
			}
		}
		if c.Name == "" {
			return nil, r.because("tool_choice.name", "missing")
		}
		return &openai.ToolChoice{Type: "function", Function: &openai.ToolChoiceFunction{Name: c.Name}}, nil
	case "allowed_tools":
		return responsesAllowedTools(r, c)
	case "":
		if c.Name == "" && len(c.Extra) == 0 {
			// "" or {}: neither a mode nor a tool choice.
			return nil, r.because("tool_choice", "expressible: none, auto, required, or an object with type function or allowed_tools")
		}
		return nil, r.because("tool_choice.type", "missing")
	}
	return nil, r.because("tool_choice.type", "expressible: function, allowed_tools; a tool choice names a declared tool, and only function tools can be declared")
}

// allowedToolsReason is why Converse and Anthropic refuse an allowed_tools
// tool choice (Chat's, or the Responses one translated to it): there the
// model sees every tool and may call only those listed; neither API has
// such a choice, and offering only the listed tools would change what the
// model sees.
const allowedToolsReason = "allowed_tools: this API cannot show the model every tool and let it call only some; send only the allowed tools in tools, with tool_choice auto or required"

// responsesAllowedTools translates an allowed_tools tool choice.
func responsesAllowedTools(r refuser, c *openai.ResponseToolChoice) (*openai.ToolChoice, error) {
	if c.Name != "" {
		return nil, r.because("tool_choice.name", "not a member of allowed_tools tool choices")
	}
	type chatTool struct {
		Type     string                    `json:"type"`
		Function openai.ToolChoiceFunction `json:"function"`
	}
	var allowed struct {
		Mode  string     `json:"mode"`
		Tools []chatTool `json:"tools"`
	}
	for _, k := range c.Extra.Keys() {
		v := c.Extra[k]
		if jsonx.IsNull(v) {
			continue // null counts as absent
		}
		switch k {
		case "mode":
			if json.Unmarshal(v, &allowed.Mode) != nil || (allowed.Mode != "auto" && allowed.Mode != "required") {
				return nil, r.because("tool_choice.mode", "expressible: auto, required")
			}
		case "tools":
			var tools []map[string]json.RawMessage
			if json.Unmarshal(v, &tools) != nil || tools == nil {
				return nil, r.because("tool_choice.tools", "a list of tools")
			}
			allowed.Tools = make([]chatTool, 0, len(tools))
			for i, t := range tools {
				p := at("tool_choice.tools", i)
				var typ, name string
				if json.Unmarshal(t["type"], &typ) != nil || typ != "function" {
					return nil, r.because(p+".type", "only function tools")
				}
				if json.Unmarshal(t["name"], &name) != nil || name == "" {
					return nil, r.because(p+".name", "missing")
				}
				for _, tk := range slices.Sorted(maps.Keys(t)) {
					if tk != "type" && tk != "name" && !jsonx.IsNull(t[tk]) {
						return nil, r.because(p+"."+tk, "not a member of function tools")
					}
				}
				allowed.Tools = append(allowed.Tools, chatTool{Type: "function", Function: openai.ToolChoiceFunction{Name: name}})
			}
		default:
			return nil, r.because("tool_choice."+k, "not a member of allowed_tools tool choices")
		}
	}
	switch {
	case allowed.Mode == "":
		return nil, r.because("tool_choice.mode", "missing")
	case allowed.Tools == nil:
		return nil, r.because("tool_choice.tools", "missing")
	}
	b, err := json.Marshal(allowed)
	if err != nil {
		return nil, err
	}
	return &openai.ToolChoice{Type: "allowed_tools", AllowedTools: b}, nil
}

// refuseResponsesCommon refuses the members no backend can serve statelessly.
func refuseResponsesCommon(r refuser, req *openai.ResponsesRequest) error {
	if err := r.extra("", req.Extra.Keys()); err != nil {
		return err
	}
	switch {
	case req.PreviousResponseID != "":
		return r.because("previous_response_id", noStorage)
	case req.Conversation != nil && !jsonx.IsNull(req.Conversation):
		return r.because("conversation", noStorage)
	case req.Background != nil && *req.Background:
		return r.because("background", "Meridian does not store responses, so it cannot run one in the background")
	case req.Prompt != nil && !jsonx.IsNull(req.Prompt):
		return r.because("prompt", "stored prompt templates are not available; send instructions and input")
	case req.MaxToolCalls != nil:
		return r.field("max_tool_calls")
	}
	switch req.Truncation {
	case "", "disabled":
	default:
		return r.because("truncation", "only disabled: Meridian does not drop input items")
	}
	for i, inc := range req.Include {
		if inc != "reasoning.encrypted_content" {
			return r.because(at("include", i), "expressible: reasoning.encrypted_content")
		}
	}
	// top_logprobs shows only with include "message.output_text.logprobs",
	// refused above, so it is accepted and not sent.
	return nil
}

// responsesMessage converts a message item; parts keep their indices.
func responsesMessage(r refuser, p string, it *openai.Item) (openai.Message, error) {
	m := openai.Message{Role: it.Role}
	switch it.Role {
	case openai.RoleUser, openai.RoleSystem, openai.RoleDeveloper, openai.RoleAssistant:
	default:
		return m, r.because(p+".role", "expressible: user, system, developer, assistant")
	}
	switch {
	case it.CallID != "" || it.Name != "" || it.Arguments != nil || it.Output != nil || it.Summary != nil || it.EncryptedContent != nil:
		return m, r.because(p, "member of another item type")
	case it.Content == nil:
		return m, r.because(p+".content", "missing")
	case !it.Content.IsParts():
		m.Content = openai.TextContent(it.Content.Text)
		return m, nil
	}
	parts := make([]openai.ContentPart, 0, len(it.Content.Parts))
	for j, part := range it.Content.Parts {
		q := at(p+".content", j)
		if err := r.extra(q, part.Extra.Keys()); err != nil {
			return m, err
		}
		if err := refuseStrayItemPart(r, q, &part); err != nil {
			return m, err
		}
		if it.Role == openai.RoleAssistant {
			switch part.Type {
			case openai.PartOutputText, openai.PartInputText:
				parts = append(parts, openai.ContentPart{Type: openai.PartText, Text: part.Text})
			case openai.PartOutputRefusal:
				m.Refusal = ptr(part.Refusal)
			default:
				return m, r.because(q+".type", "expressible in assistant messages: output_text, refusal")
			}
			continue
		}
		switch part.Type {
		case openai.PartInputText:
			parts = append(parts, openai.ContentPart{Type: openai.PartText, Text: part.Text})
		case openai.PartInputImage:
			switch {
			case part.FileID != "":
				return m, r.because(q+".file_id", "Meridian does not store files; send image_url")
			case part.ImageURL == "":
				return m, r.because(q+".image_url", "missing")
			}
			parts = append(parts, openai.ContentPart{Type: openai.PartImageURL, ImageURL: &openai.ImageURL{URL: part.ImageURL, Detail: part.Detail}})
		case openai.PartInputFile:
			switch {
			case part.FileURL != "":
				return m, r.because(q+".file_url", "send file_data")
			case part.FileData == "" && part.FileID == "":
				return m, r.because(q+".file_data", "missing")
			}
			parts = append(parts, openai.ContentPart{Type: openai.PartFile, File: &openai.File{FileData: part.FileData, FileID: part.FileID, Filename: part.Filename}})
		default:
			return m, r.because(q+".type", "expressible: input_text, input_image, input_file")
		}
	}
	if len(parts) > 0 || m.Refusal == nil {
		m.Content = &openai.Content{Parts: parts}
	}
	return m, nil
}

// responsesToolOutput converts a function_call_output's output: a string or
// input_text parts.
func responsesToolOutput(r refuser, p string, c *openai.ItemContent) (*openai.Content, error) {
	if !c.IsParts() {
		return openai.TextContent(c.Text), nil
	}
	parts := make([]openai.ContentPart, 0, len(c.Parts))
	for j, part := range c.Parts {
		q := at(p, j)
		if err := r.extra(q, part.Extra.Keys()); err != nil {
			return nil, err
		}
		if err := refuseStrayItemPart(r, q, &part); err != nil {
			return nil, err
		}
		if part.Type != openai.PartInputText {
			return nil, r.because(q+".type", "only input_text in a function call output")
		}
		parts = append(parts, openai.ContentPart{Type: openai.PartText, Text: part.Text})
	}
	return &openai.Content{Parts: parts}, nil
}

// chatRenames maps Chat Completions request paths to Responses ones.
var chatRenames = []struct{ chat, responses string }{
	{"max_completion_tokens", "max_output_tokens"},
	{"max_tokens", "max_output_tokens"},
	{"response_format.json_schema", "text.format"},
	{"response_format", "text.format"},
	{"reasoning_effort", "reasoning.effort"},
	{"verbosity", "text.verbosity"},
	{"stream_options", "stream_options"},
}

// partRenames maps Chat content part member paths to Responses ones.
var partRenames = strings.NewReplacer(".image_url.url", ".image_url", ".image_url.detail", ".detail",
	".file.file_data", ".file_data", ".file.file_id", ".file_id", ".file.filename", ".filename")

// remap rewrites the field path of an *UnsupportedError from the Chat
// pivot's request to the Responses request.
func (pv *chatPivot) remap(err error) error {
	var ue *UnsupportedError
	if !errors.As(err, &ue) {
		return err
	}
	out := *ue
	out.Field = pv.path(ue.Field)
	return &out
}

func (pv *chatPivot) path(f string) string {
	if rest, ok := strings.CutPrefix(f, "messages["); ok {
		end := strings.IndexByte(rest, ']')
		k, err := strconv.Atoi(rest[:max(end, 0)])
		if end < 0 || err != nil || k < 0 || k >= len(pv.paths) {
			return f
		}
		tail := rest[end+1:]
		if t, ok := strings.CutPrefix(tail, ".tool_calls["); ok {
			e := strings.IndexByte(t, ']')
			j, err := strconv.Atoi(t[:max(e, 0)])
			if p, ok := pv.calls[[2]int{k, j}]; e >= 0 && err == nil && ok {
				return p + strings.Replace(t[e+1:], ".function", "", 1)
			}
		}
		if item, ok := pv.reasoning[k]; ok && tail == ".reasoning_content" {
			return item
		}
		mp := pv.paths[k]
		if t, ok := strings.CutPrefix(tail, ".content"); ok {
			return mp.path + mp.content + partRenames.Replace(t)
		}
		return mp.path + tail
	}
	if strings.HasPrefix(f, "tools[") {
		return strings.Replace(f, ".function", "", 1)
	}
	for _, rn := range chatRenames {
		if t, ok := strings.CutPrefix(f, rn.chat); ok && (t == "" || t[0] == '.') {
			return rn.responses + t
		}
	}
	return f
}

// ResponsesToOpenAIRequest translates a Responses request into a Chat
// Completions request for an OpenAI(-compatible) backend, keeping Model
// and Stream (a stream asks for its usage chunk). Claude's reasoning is
// not sent: Chat Completions takes no reasoning input (the body a front
// end routes, ResponsesChatRequest's, carries it for the other dialects,
// and WithoutCarriedReasoning removes it for this one).
func ResponsesToOpenAIRequest(req *openai.ResponsesRequest) (*openai.ChatCompletionRequest, error) {
	pv, err := responsesToChat(refuser(targetOpenAI), req)
	if err != nil {
		return nil, err
	}
	for i := range pv.req.Messages {
		if m := &pv.req.Messages[i]; m.ReasoningContent != nil && strings.HasPrefix(*m.ReasoningContent, reasoningPrefix) {
			m.ReasoningContent = nil
		}
	}
	return pv.req, nil
}
