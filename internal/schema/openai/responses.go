package openai

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// ResponsesRequest is the body of POST /v1/responses (the Responses API).
// Optional scalars are pointers: nil means the member was absent (or null).
type ResponsesRequest struct {
	Model                string              `json:"model"`
	Input                *ResponseInput      `json:"input,omitempty"`
	Instructions         string              `json:"instructions,omitempty"`
	Tools                []ResponseTool      `json:"tools,omitempty"`
	ToolChoice           *ResponseToolChoice `json:"tool_choice,omitempty"`
	ParallelToolCalls    *bool               `json:"parallel_tool_calls,omitempty"`
	Text                 *TextConfig         `json:"text,omitempty"`
	Reasoning            *ReasoningConfig    `json:"reasoning,omitempty"`
	MaxOutputTokens      *int64              `json:"max_output_tokens,omitempty"`
	MaxToolCalls         *int64              `json:"max_tool_calls,omitempty"`
	Temperature          *float64            `json:"temperature,omitempty"`
	TopP                 *float64            `json:"top_p,omitempty"`
	TopLogprobs          *int64              `json:"top_logprobs,omitempty"`
	Metadata             map[string]string   `json:"metadata,omitempty"`
	Store                *bool               `json:"store,omitempty"` // the API's default is true
	Stream               *bool               `json:"stream,omitempty"`
	StreamOptions        *StreamOptions      `json:"stream_options,omitempty"`
	PreviousResponseID   string              `json:"previous_response_id,omitempty"`
	Conversation         json.RawMessage     `json:"conversation,omitempty"` // id string or {"id"}
	Background           *bool               `json:"background,omitempty"`
	Prompt               json.RawMessage     `json:"prompt,omitempty"`     // stored prompt template reference
	Truncation           string              `json:"truncation,omitempty"` // auto, disabled
	User                 string              `json:"user,omitempty"`
	ServiceTier          string              `json:"service_tier,omitempty"`
	Include              []string            `json:"include,omitempty"`
	PromptCacheKey       string              `json:"prompt_cache_key,omitempty"`
	PromptCacheRetention string              `json:"prompt_cache_retention,omitempty"`
	SafetyIdentifier     string              `json:"safety_identifier,omitempty"`
	Extra                jsonx.Extra         `json:"-"`
}

// ResponseInput is input: a string (Items nil) or a list of items.
type ResponseInput struct {
	Text  string
	Items []Item
}

// MarshalJSON encodes the string or the item list.
func (in ResponseInput) MarshalJSON() ([]byte, error) {
	if in.Items != nil {
		return json.Marshal(in.Items)
	}
	return json.Marshal(in.Text)
}

// UnmarshalJSON accepts a string or a list of items.
func (in *ResponseInput) UnmarshalJSON(b []byte) error {
	*in = ResponseInput{}
	if len(b) > 0 && b[0] == '[' {
		in.Items = []Item{}
		return json.Unmarshal(b, &in.Items)
	}
	return json.Unmarshal(b, &in.Text)
}

// Item types, of input and output items.
const (
	ItemMessage            = "message"
	ItemFunctionCall       = "function_call"
	ItemFunctionCallOutput = "function_call_output"
	ItemReasoning          = "reasoning"
	ItemReference          = "item_reference"
)

// Item statuses, and response statuses.
const (
	StatusInProgress = "in_progress"
	StatusCompleted  = "completed"
	StatusIncomplete = "incomplete"
	StatusFailed     = "failed"
)

// Item is an input item or an output item. Type selects the members used:
//   - "message" (Type may be empty on input when Role is set): Role, Content,
//     Status, ID; an assistant message also Phase (commentary or
//     final_answer).
//   - "function_call": CallID, Name, Arguments, Status, ID.
//   - "function_call_output": CallID, Output, ID, Status.
//   - "reasoning": ID, Summary, Content (reasoning_text parts),
//     EncryptedContent, Status.
//   - "item_reference": ID.
//
// Other item types (built-in tool calls) keep their members in Extra.
type Item struct {
	Type             string       `json:"type,omitempty"`
	ID               string       `json:"id,omitempty"`
	Status           string       `json:"status,omitempty"`
	Role             string       `json:"role,omitempty"`
	Content          *ItemContent `json:"content,omitempty"`
	Phase            string       `json:"phase,omitempty"`
	CallID           string       `json:"call_id,omitempty"`
	Name             string       `json:"name,omitempty"`
	Arguments        *string      `json:"arguments,omitempty"`
	Output           *ItemContent `json:"output,omitempty"`
	Summary          []ItemPart   `json:"summary,omitzero"` // a non-nil empty list encodes as []
	EncryptedContent *string      `json:"encrypted_content,omitempty"`
	Extra            jsonx.Extra  `json:"-"`
}

// UnmarshalJSON decodes the object and keeps undeclared members in Extra.
func (v *Item) UnmarshalJSON(b []byte) error {
	type plain Item
	return jsonx.UnmarshalObject(b, (*plain)(v), &v.Extra)
}

// MarshalJSON encodes the object with the members of Extra, and the
// members its type requires even when empty: a message's content, a
// function call's arguments, a reasoning item's summary.
func (v Item) MarshalJSON() ([]byte, error) {
	type plain Item
	b, err := jsonx.MarshalObject(plain(v), v.Extra)
	if err != nil {
		return nil, err
	}
	switch v.Type {
	case ItemMessage:
		b = jsonx.Ensure(b, "content", "[]")
	case ItemFunctionCall:
		b = jsonx.Ensure(b, "arguments", `""`)
	case ItemReasoning:
		b = jsonx.Ensure(b, "summary", "[]")
	}
	return b, nil
}

// ItemContent is an item's content or a function call output: a string
// (Parts nil) or a list of parts.
type ItemContent struct {
	Text  string
	Parts []ItemPart
}

// IsParts reports whether the content is a list of parts.
func (c *ItemContent) IsParts() bool { return c != nil && c.Parts != nil }

// MarshalJSON encodes the string or the parts.
func (c ItemContent) MarshalJSON() ([]byte, error) {
	if c.Parts != nil {
		return json.Marshal(c.Parts)
	}
	return json.Marshal(c.Text)
}

// UnmarshalJSON accepts a string or a list of parts.
func (c *ItemContent) UnmarshalJSON(b []byte) error {
	*c = ItemContent{}
	if len(b) > 0 && b[0] == '[' {
		c.Parts = []ItemPart{}
		return json.Unmarshal(b, &c.Parts)
	}
	return json.Unmarshal(b, &c.Text)
}

// Part types of item content, summaries and reasoning content.
const (
	PartInputText     = "input_text"
	PartInputImage    = "input_image"
	PartInputFile     = "input_file"
	PartOutputText    = "output_text"
	PartOutputRefusal = "refusal"
	PartSummaryText   = "summary_text"
	PartReasoningText = "reasoning_text"
)

// ItemPart is one content part: input_text, input_image, input_file,
// output_text, refusal, summary_text or reasoning_text.
type ItemPart struct {
	Type        string            `json:"type"`
	Text        string            `json:"text,omitempty"`
	Refusal     string            `json:"refusal,omitempty"`
	ImageURL    string            `json:"image_url,omitempty"` // input_image: https or data: URL
	FileID      string            `json:"file_id,omitempty"`
	FileData    string            `json:"file_data,omitempty"` // input_file: data: URL or base64
	FileURL     string            `json:"file_url,omitempty"`
	Filename    string            `json:"filename,omitempty"`
	Detail      string            `json:"detail,omitempty"`     // input_image: auto, low, high
	Annotations []json.RawMessage `json:"annotations,omitzero"` // output_text
	Logprobs    json.RawMessage   `json:"logprobs,omitempty"`   // output_text
	Extra       jsonx.Extra       `json:"-"`
}

// UnmarshalJSON decodes the object and keeps undeclared members in Extra.
func (v *ItemPart) UnmarshalJSON(b []byte) error {
	type plain ItemPart
	return jsonx.UnmarshalObject(b, (*plain)(v), &v.Extra)
}

// MarshalJSON encodes the object with the members of Extra, with the text
// of text parts, the refusal of refusal parts and the annotations of
// output_text present even when empty.
func (v ItemPart) MarshalJSON() ([]byte, error) {
	type plain ItemPart
	b, err := jsonx.MarshalObject(plain(v), v.Extra)
	if err != nil {
		return nil, err
	}
	switch v.Type {
	case PartOutputText:
		b = jsonx.Ensure(jsonx.Ensure(b, "text", `""`), "annotations", "[]")
	case PartInputText, PartSummaryText, PartReasoningText:
		b = jsonx.Ensure(b, "text", `""`)
	case PartOutputRefusal:
		b = jsonx.Ensure(b, "refusal", `""`)
	}
	return b, nil
}

// ResponseTool is an entry of tools. Function tools use Name, Description,
// Parameters and Strict; built-in tools (web_search, file_search, mcp...)
// keep their members in Extra.
type ResponseTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
	Extra       jsonx.Extra     `json:"-"`
}

// ResponseToolChoice is "none", "auto", "required" (Mode set) or an object:
// {"type":"function","name"}, {"type":"allowed_tools",...} or a built-in
// tool type.
type ResponseToolChoice struct {
	Mode  string      `json:"-"`
	Type  string      `json:"type,omitempty"`
	Name  string      `json:"name,omitempty"`
	Extra jsonx.Extra `json:"-"`
}

// MarshalJSON encodes the mode string or the object.
func (t ResponseToolChoice) MarshalJSON() ([]byte, error) {
	if t.Mode != "" {
		return json.Marshal(t.Mode)
	}
	type plain ResponseToolChoice
	return jsonx.MarshalObject(plain(t), t.Extra)
}

// UnmarshalJSON accepts a mode string or an object.
func (t *ResponseToolChoice) UnmarshalJSON(b []byte) error {
	*t = ResponseToolChoice{}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &t.Mode)
	}
	type plain ResponseToolChoice
	return jsonx.UnmarshalObject(b, (*plain)(t), &t.Extra)
}

// TextConfig is text: the output format and verbosity.
type TextConfig struct {
	Format    *TextFormat `json:"format,omitempty"`
	Verbosity string      `json:"verbosity,omitempty"` // low, medium, high
	Extra     jsonx.Extra `json:"-"`
}

// TextFormat is text.format: {"type":"text"}, {"type":"json_object"} or
// {"type":"json_schema","name","schema","description","strict"} (the
// schema members sit beside type, unlike Chat's response_format).
type TextFormat struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
	Extra       jsonx.Extra     `json:"-"`
}

// ReasoningConfig is reasoning.
type ReasoningConfig struct {
	Effort          string      `json:"effort,omitempty"`           // none, minimal, low, medium, high
	Summary         string      `json:"summary,omitempty"`          // auto, concise, detailed
	GenerateSummary string      `json:"generate_summary,omitempty"` // deprecated alias of Summary
	Extra           jsonx.Extra `json:"-"`
}

// Response is the response object (object "response"): the body of a
// non-streaming response and the response member of lifecycle events.
// Members the API sends as null when unset are pointers without omitempty.
type Response struct {
	ID                 string              `json:"id"`
	Object             string              `json:"object"` // "response"
	CreatedAt          int64               `json:"created_at"`
	Status             string              `json:"status"`
	Error              *ResponseError      `json:"error"`
	IncompleteDetails  *IncompleteDetails  `json:"incomplete_details"`
	Instructions       json.RawMessage     `json:"instructions"` // string, item list or null
	MaxOutputTokens    *int64              `json:"max_output_tokens"`
	Model              string              `json:"model"`
	Output             []Item              `json:"output"`
	ParallelToolCalls  bool                `json:"parallel_tool_calls"`
	PreviousResponseID *string             `json:"previous_response_id"`
	Reasoning          *ReasoningConfig    `json:"reasoning,omitempty"`
	ServiceTier        string              `json:"service_tier,omitempty"`
	Store              *bool               `json:"store,omitempty"`
	Temperature        *float64            `json:"temperature"`
	Text               *TextConfig         `json:"text,omitempty"`
	ToolChoice         *ResponseToolChoice `json:"tool_choice,omitempty"`
	Tools              []ResponseTool      `json:"tools"`
	TopP               *float64            `json:"top_p"`
	Truncation         string              `json:"truncation,omitempty"`
	Usage              *ResponseUsage      `json:"usage,omitempty"`
	User               string              `json:"user,omitempty"`
	Metadata           map[string]string   `json:"metadata"`
	Extra              jsonx.Extra         `json:"-"`
}

// ResponseError is a failed response's error.
type ResponseError struct {
	Code    string      `json:"code"` // server_error, rate_limit_exceeded, invalid_prompt...
	Message string      `json:"message"`
	Extra   jsonx.Extra `json:"-"`
}

// Incomplete reasons.
const (
	IncompleteMaxOutputTokens = "max_output_tokens"
	IncompleteContentFilter   = "content_filter"
)

// IncompleteDetails says why a response is incomplete.
type IncompleteDetails struct {
	Reason string      `json:"reason"`
	Extra  jsonx.Extra `json:"-"`
}

// ResponseUsage is a response's token usage. InputTokens includes cached
// tokens and OutputTokens includes reasoning tokens.
type ResponseUsage struct {
	InputTokens         int64               `json:"input_tokens"`
	InputTokensDetails  InputTokensDetails  `json:"input_tokens_details"`
	OutputTokens        int64               `json:"output_tokens"`
	OutputTokensDetails OutputTokensDetails `json:"output_tokens_details"`
	TotalTokens         int64               `json:"total_tokens"`
	Extra               jsonx.Extra         `json:"-"`
}

// InputTokensDetails breaks down input tokens.
type InputTokensDetails struct {
	CachedTokens int64       `json:"cached_tokens"`
	Extra        jsonx.Extra `json:"-"`
}

// OutputTokensDetails breaks down output tokens.
type OutputTokensDetails struct {
	ReasoningTokens int64       `json:"reasoning_tokens"`
	Extra           jsonx.Extra `json:"-"`
}
