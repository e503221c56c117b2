package translate

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

var extraType = reflect.TypeFor[jsonx.Extra]()

// firstUnknown returns the JSON path of the first member, at any depth of
// v, that its schema type does not declare (held in an Extra field), or "".
// Fields without a json tag (the string-or-array unions) share their
// parent's path.
func firstUnknown(v any) string {
	return unknownIn(reflect.ValueOf(v), "")
}

func unknownIn(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return unknownIn(v.Elem(), path)
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "" // []byte and json.RawMessage are values, not schema
		}
		for i := range v.Len() {
			if p := unknownIn(v.Index(i), at(path, i)); p != "" {
				return p
			}
		}
	case reflect.Map:
		if v.Type() == extraType {
			if v.Len() == 0 {
				return ""
			}
			keys := v.Interface().(jsonx.Extra).Keys()
			return join(path, keys[0])
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag, hasTag := f.Tag.Lookup("json")
			name, _, _ := strings.Cut(tag, ",")
			switch {
			case f.Type == extraType:
				name = ""
			case name == "-":
				continue
			case !hasTag:
				name = ""
			}
			if p := unknownIn(v.Field(i), join(path, name)); p != "" {
				return p
			}
		}
	}
	return ""
}

func join(path, name string) string {
	switch {
	case name == "":
		return path
	case path == "":
		return name
	}
	return path + "." + name
}

// refuseUnknown refuses the first undeclared member anywhere in req.
func refuseUnknown(r refuser, req any) error {
	dropNulls(req)
	if p := firstUnknown(req); p != "" {
		return r.because(p, "unknown member")
	}
	return nil
}

// knownBlockTypes are the Messages content block types the translators
// understand; other types carry members of their own (in Extra).
var knownBlockTypes = map[string]bool{
	anthropic.BlockText: true, anthropic.BlockImage: true, anthropic.BlockDocument: true,
	anthropic.BlockToolUse: true, anthropic.BlockToolResult: true,
	anthropic.BlockThinking: true, anthropic.BlockRedactedThinking: true,
}

// refuseAnthropicKinds refuses server tools and block types the target
// cannot express by their type, before unknown members inside them would
// be reported.
func refuseAnthropicKinds(r refuser, req *anthropic.Request) error {
	for i, t := range req.Tools {
		if !t.IsCustom() {
			return r.because(at("tools", i)+".type", "server tools run only on Anthropic's API")
		}
	}
	dropNulls(req)
	if err := anthropicMembers(r, req); err != nil {
		return err
	}
	if req.System != nil && req.System.Raw != nil {
		return r.field("system")
	}
	if c := req.ToolChoice; c != nil {
		if allowed, ok := anthropicToolChoiceMembers[c.Type]; ok {
			if err := refuseMembers(r, "tool_choice", c.Type+" tool choices", allowed, []member{
				{"name", c.Name != ""}, {"disable_parallel_tool_use", c.DisableParallelToolUse != nil},
			}); err != nil {
				return err
			}
		}
	}
	if th := req.Thinking; th != nil && th.Type != "enabled" && th.BudgetTokens != 0 {
		return r.because("thinking.budget_tokens", "a member of enabled thinking only")
	}
	if req.System != nil {
		for i := range req.System.Blocks {
			if err := refuseStray(r, at("system", i), &req.System.Blocks[i]); err != nil {
				return err
			}
		}
	}
	for i, m := range req.Messages {
		p := at("messages", i) + ".content"
		if m.Content.Raw != nil {
			return r.field(p)
		}
		for j, b := range m.Content.Blocks {
			if !knownBlockTypes[b.Type] {
				return r.field(at(p, j) + ".type")
			}
			if b.Content != nil && b.Content.Raw != nil {
				return r.field(at(p, j) + ".content")
			}
			if b.Source.IsName() {
				return r.field(at(p, j) + ".source")
			}
			if err := refuseStray(r, at(p, j), &b); err != nil {
				return err
			}
			if b.Type != anthropic.BlockToolResult || b.Content == nil {
				continue
			}
			for k := range b.Content.Blocks {
				if err := refuseStray(r, at(at(p, j)+".content", k), &b.Content.Blocks[k]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// anthropicToolChoiceMembers are the members each tool_choice type
// defines besides type.
var anthropicToolChoiceMembers = map[string][]string{
	"auto": {"disable_parallel_tool_use"}, "any": {"disable_parallel_tool_use"},
	"tool": {"name", "disable_parallel_tool_use"}, "none": {},
}

// blockMembers are the members each Messages block type defines besides
// type; Anthropic refuses any other. A member of another type (a signature
// on a text block, a url beside base64 data) would otherwise be decoded
// into the shared Block and silently left behind by the translators.
var blockMembers = map[string][]string{
	anthropic.BlockText:             {"text", "citations", "cache_control"},
	anthropic.BlockImage:            {"source", "cache_control"},
	anthropic.BlockDocument:         {"source", "title", "context", "citations", "cache_control"},
	anthropic.BlockToolUse:          {"id", "name", "input", "caller", "cache_control"},
	anthropic.BlockToolResult:       {"tool_use_id", "content", "is_error", "cache_control"},
	anthropic.BlockThinking:         {"thinking", "signature"}, // thinking blocks take no cache_control
	anthropic.BlockRedactedThinking: {"data"},
}

// sourceMembers are the members each source type defines besides type.
var sourceMembers = map[string][]string{
	"base64":  {"media_type", "data"},
	"text":    {"media_type", "data"},
	"url":     {"url"},
	"content": {"content"},
	"file":    {"file_id"},
}

// refuseStray refuses the first member of block b (at path p), or of its
// source, that its type does not define. Blocks and sources of types the
// table does not list are left to the translators, which refuse them by
// type.
func refuseStray(r refuser, p string, b *anthropic.Block) error {
	allowed, ok := blockMembers[b.Type]
	if !ok {
		return nil
	}
	if err := refuseMembers(r, p, b.Type+" blocks", allowed, []member{
		{"text", b.Text != ""}, {"source", b.Source != nil}, {"title", b.Title != ""}, {"context", b.Context != ""},
		{"citations", !jsonx.IsNull(b.Citations)}, {"id", b.ID != ""}, {"name", b.Name != ""}, {"input", !jsonx.IsNull(b.Input)}, {"caller", !jsonx.IsNull(b.Caller)},
		{"tool_use_id", b.ToolUseID != ""}, {"content", b.Content != nil}, {"is_error", b.IsError != nil},
		{"thinking", b.Thinking != ""}, {"signature", b.Signature != ""}, {"data", b.Data != ""}, {"cache_control", b.CacheControl != nil},
	}); err != nil || b.Source == nil {
		return err
	}
	s := b.Source
	if allowed, ok = sourceMembers[s.Type]; !ok {
		return nil
	}
	return refuseMembers(r, p+".source", s.Type+" sources", allowed, []member{
		{"media_type", s.MediaType != ""}, {"data", s.Data != ""}, {"url", s.URL != ""}, {"file_id", s.FileID != ""}, {"content", !jsonx.IsNull(s.Content)},
	})
}

// member is a declared member of a union-like type and whether a body set
// it, for refuseMembers.
type member struct {
	name string
	set  bool
}

// refuseMembers refuses the first member set that allowed does not list,
// at path p: the member of another variant (a text part's image_url), which
// a translator reading the variant's own members would leave behind.
func refuseMembers(r refuser, p, variant string, allowed []string, members []member) error {
	for _, m := range members {
		if m.set && !slices.Contains(allowed, m.name) {
			return r.because(p+"."+m.name, "not a member of "+variant)
		}
	}
	return nil
}

// partMembers are the members each Chat Completions content part type
// defines besides type.
var partMembers = map[string][]string{
	openai.PartText: {"text"}, openai.PartImageURL: {"image_url"}, openai.PartInputAudio: {"input_audio"},
	openai.PartFile: {"file"}, openai.PartRefusal: {"refusal"},
}

// refuseStrayParts refuses a member of a message's content part that the
// part's type does not define. Parts of other types are refused by type.
func refuseStrayParts(r refuser, req *openai.ChatCompletionRequest) error {
	for i, m := range req.Messages {
		if !m.Content.IsParts() {
			continue
		}
		for j, part := range m.Content.Parts {
			allowed, ok := partMembers[part.Type]
			if !ok {
				continue
			}
			if err := refuseMembers(r, at(at("messages", i)+".content", j), part.Type+" parts", allowed, []member{
				{"text", part.Text != ""}, {"refusal", part.Refusal != ""}, {"image_url", part.ImageURL != nil},
				{"input_audio", part.InputAudio != nil}, {"file", part.File != nil},
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// itemMembers are the members each Responses input item type defines
// besides type (a message's type may be left out).
var itemMembers = map[string][]string{
	"":                            {"id", "status", "role", "content", "phase"},
	openai.ItemMessage:            {"id", "status", "role", "content", "phase"},
	openai.ItemFunctionCall:       {"id", "status", "call_id", "name", "arguments"},
	openai.ItemFunctionCallOutput: {"id", "status", "call_id", "output"},
	openai.ItemReasoning:          {"id", "status", "summary", "content", "encrypted_content"},
	openai.ItemReference:          {"id"},
}

// refuseStrayItem refuses a member of input item it (at path p) that its
// type does not define. Items of other types are refused by type.
func refuseStrayItem(r refuser, p string, it *openai.Item) error {
	allowed, ok := itemMembers[it.Type]
	if !ok {
		return nil
	}
	variant := it.Type + " items"
	if it.Type == "" {
		variant = "message items"
	}
	if err := refuseMembers(r, p, variant, allowed, []member{
		{"id", it.ID != ""}, {"status", it.Status != ""}, {"role", it.Role != ""}, {"content", it.Content != nil},
		{"call_id", it.CallID != ""}, {"name", it.Name != ""}, {"arguments", it.Arguments != nil}, {"output", it.Output != nil},
		{"summary", it.Summary != nil}, {"encrypted_content", it.EncryptedContent != nil}, {"phase", it.Phase != ""},
	}); err != nil {
		return err
	}
	// phase labels an earlier assistant message as commentary (between
	// tool calls) or the final answer. Other models have no such label and
	// read the message's text as it is: output metadata, not instruction.
	switch {
	case it.Phase == "":
	case it.Role != openai.RoleAssistant:
		return r.because(p+".phase", "only an assistant message has a phase")
	case it.Phase != "commentary" && it.Phase != "final_answer":
		return r.because(p+".phase", "expressible: commentary, final_answer")
	}
	return nil
}

// itemPartMembers are the members each Responses content part type
// defines besides type.
var itemPartMembers = map[string][]string{
	openai.PartInputText:     {"text"},
	openai.PartInputImage:    {"image_url", "file_id", "detail"},
	openai.PartInputFile:     {"file_id", "file_data", "file_url", "filename"},
	openai.PartOutputText:    {"text", "annotations", "logprobs"},
	openai.PartOutputRefusal: {"refusal"},
	openai.PartSummaryText:   {"text"},
	openai.PartReasoningText: {"text"},
}

// refuseStrayItemPart refuses a member of content part ip (at path q) that
// its type does not define. Parts of other types are refused by type.
func refuseStrayItemPart(r refuser, q string, ip *openai.ItemPart) error {
	allowed, ok := itemPartMembers[ip.Type]
	if !ok {
		return nil
	}
	return refuseMembers(r, q, ip.Type+" parts", allowed, []member{
		{"text", ip.Text != ""}, {"refusal", ip.Refusal != ""}, {"image_url", ip.ImageURL != ""}, {"file_id", ip.FileID != ""},
		{"file_data", ip.FileData != ""}, {"file_url", ip.FileURL != ""}, {"filename", ip.Filename != ""}, {"detail", ip.Detail != ""},
		{"annotations", ip.Annotations != nil}, {"logprobs", !jsonx.IsNull(ip.Logprobs)},
	})
}

// refuseUnion refuses the second member set of a union at path p: Bedrock
// takes exactly one, and a translator reading the first would leave the
// others behind.
func refuseUnion(r refuser, p string, members []member) error {
	first := ""
	for _, m := range members {
		switch {
		case !m.set:
		case first == "":
			first = m.name
		default:
			// The client's own API refuses a union with two members: its
			// mistake, whatever the target (InvalidError).
			return invalid(join(p, m.name), "a union member beside "+first)
		}
	}
	return nil
}

// refuseConverseUnions refuses a Converse union with more than one member
// anywhere in req: content blocks, system blocks, tools, the tool choice,
// tool result content, reasoning content and image, document and video
// sources.
func refuseConverseUnions(r refuser, req *converse.Request) error {
	for i, b := range req.System {
		if err := refuseUnion(r, at("system", i), []member{{"text", b.Text != nil}, {"guardContent", present(b.GuardContent)}, {"cachePoint", b.CachePoint != nil}}); err != nil {
			return err
		}
	}
	if tc := req.ToolConfig; tc != nil {
		for i, t := range tc.Tools {
			if err := refuseUnion(r, at("toolConfig.tools", i), []member{{"toolSpec", t.ToolSpec != nil}, {"systemTool", present(t.SystemTool)}, {"cachePoint", t.CachePoint != nil}}); err != nil {
				return err
			}
		}
		if c := tc.ToolChoice; c != nil {
			if err := refuseUnion(r, "toolConfig.toolChoice", []member{{"auto", c.Auto != nil}, {"any", c.Any != nil}, {"tool", c.Tool != nil}}); err != nil {
				return err
			}
		}
	}
	for i, m := range req.Messages {
		for j, b := range m.Content {
			p := at(at("messages", i)+".content", j)
			if err := refuseUnion(r, p, []member{
				{"text", b.Text != nil}, {"image", b.Image != nil}, {"document", b.Document != nil}, {"video", b.Video != nil},
				{"toolUse", b.ToolUse != nil}, {"toolResult", b.ToolResult != nil}, {"reasoningContent", b.ReasoningContent != nil},
				{"cachePoint", b.CachePoint != nil}, {"guardContent", present(b.GuardContent)}, {"citationsContent", present(b.CitationsContent)},
				{"searchResult", present(b.SearchResult)}, {"audio", present(b.Audio)}, {"toolAddition", present(b.ToolAddition)}, {"toolRemoval", present(b.ToolRemoval)},
			}); err != nil {
				return err
			}
			if err := refuseSources(r, p, b.Image, b.Document, b.Video); err != nil {
				return err
			}
			if rc := b.ReasoningContent; rc != nil {
				if err := refuseUnion(r, p+".reasoningContent", []member{{"reasoningText", rc.ReasoningText != nil}, {"redactedContent", rc.RedactedContent != nil}}); err != nil {
					return err
				}
			}
			if tr := b.ToolResult; tr != nil {
				for k, c := range tr.Content {
					q := at(p+".toolResult.content", k)
					if err := refuseUnion(r, q, []member{{"json", present(c.JSON)}, {"text", c.Text != nil}, {"image", c.Image != nil},
						{"document", c.Document != nil}, {"video", c.Video != nil}, {"searchResult", present(c.SearchResult)}}); err != nil {
						return err
					}
					if err := refuseSources(r, q, c.Image, c.Document, c.Video); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// refuseSources refuses an image, document or video (at most one is set)
// of the block at p whose source has more than one member.
func refuseSources(r refuser, p string, img *converse.ImageBlock, doc *converse.DocumentBlock, vid *converse.VideoBlock) error {
	var s *converse.Source
	switch {
	case img != nil:
		p, s = p+".image.source", &img.Source
	case doc != nil:
		p, s = p+".document.source", &doc.Source
	case vid != nil:
		p, s = p+".video.source", &vid.Source
	default:
		return nil
	}
	return refuseUnion(r, p, []member{{"bytes", s.Bytes != nil}, {"s3Location", s.S3Location != nil}, {"text", s.Text != nil}, {"content", present(s.Content)}})
}

// present reports whether a JSON member holds a value: absent and null
// are the same.
func present(raw json.RawMessage) bool { return !jsonx.IsNull(raw) }
