package openai

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// ChatCompletionRequest is the body of POST /v1/chat/completions.
// Optional scalars are pointers: nil means the member was absent (or null).
type ChatCompletionRequest struct {
	Model                string             `json:"model"`
	Messages             []Message          `json:"messages"`
	Audio                *AudioOutput       `json:"audio,omitempty"`
	FrequencyPenalty     *float64           `json:"frequency_penalty,omitempty"`
	FunctionCall         json.RawMessage    `json:"function_call,omitempty"` // deprecated: "none", "auto" or {"name"}
	Functions            []FunctionDef      `json:"functions,omitempty"`     // deprecated form of Tools
	LogitBias            map[string]float64 `json:"logit_bias,omitempty"`
	Logprobs             *bool              `json:"logprobs,omitempty"`
	MaxCompletionTokens  *int64             `json:"max_completion_tokens,omitempty"`
	MaxTokens            *int64             `json:"max_tokens,omitempty"` // deprecated alias of MaxCompletionTokens
	Metadata             map[string]string  `json:"metadata,omitempty"`
	Modalities           []string           `json:"modalities,omitempty"`
	Moderation           json.RawMessage    `json:"moderation,omitempty"`
	N                    *int64             `json:"n,omitempty"`
	ParallelToolCalls    *bool              `json:"parallel_tool_calls,omitempty"`
	Prediction           *Prediction        `json:"prediction,omitempty"`
	PresencePenalty      *float64           `json:"presence_penalty,omitempty"`
	PromptCacheKey       string             `json:"prompt_cache_key,omitempty"`
	PromptCacheOptions   json.RawMessage    `json:"prompt_cache_options,omitempty"`
	PromptCacheRetention string             `json:"prompt_cache_retention,omitempty"`
	ReasoningEffort      string             `json:"reasoning_effort,omitempty"` // minimal, low, medium, high
	ResponseFormat       *ResponseFormat    `json:"response_format,omitempty"`
	SafetyIdentifier     string             `json:"safety_identifier,omitempty"`
	Seed                 *int64             `json:"seed,omitempty"`
	ServiceTier          string             `json:"service_tier,omitempty"`
	Stop                 *Stop              `json:"stop,omitempty"`
	Store                *bool              `json:"store,omitempty"`
	Stream               *bool              `json:"stream,omitempty"`
	StreamOptions        *StreamOptions     `json:"stream_options,omitempty"`
	Temperature          *float64           `json:"temperature,omitempty"`
	ToolChoice           *ToolChoice        `json:"tool_choice,omitempty"`
	Tools                []Tool             `json:"tools,omitempty"`
	TopLogprobs          *int64             `json:"top_logprobs,omitempty"`
	TopP                 *float64           `json:"top_p,omitempty"`
	User                 string             `json:"user,omitempty"`
	Verbosity            string             `json:"verbosity,omitempty"`
	WebSearchOptions     *WebSearchOptions  `json:"web_search_options,omitempty"`
	Extra                jsonx.Extra        `json:"-"`
}

// Message roles.
const (
	RoleSystem    = "system"
	RoleDeveloper = "developer"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
	RoleFunction  = "function"
)

// Message is one entry of messages, and the message of a response choice.
type Message struct {
	Role         string          `json:"role"`
	Content      *Content        `json:"content,omitempty"` // nil: absent or null (assistant turns with tool calls)
	Name         string          `json:"name,omitempty"`
	Refusal      *string         `json:"refusal,omitempty"`
	ToolCalls    []ToolCall      `json:"tool_calls,omitempty"`
	ToolCallID   string          `json:"tool_call_id,omitempty"` // role "tool"
	FunctionCall *FunctionCall   `json:"function_call,omitempty"`
	Audio        json.RawMessage `json:"audio,omitempty"`       // {"id"} on requests; audio output on responses
	Annotations  json.RawMessage `json:"annotations,omitempty"` // responses: url_citation list
	// ReasoningContent is the model's reasoning text on responses: not part
	// of the OpenAI API, but the member OpenAI-compatible servers (vLLM,
	// DeepSeek) use, and where translators put Claude's thinking.
	ReasoningContent *string     `json:"reasoning_content,omitempty"`
	Extra            jsonx.Extra `json:"-"`
}

// Content is a message's content: a string (Parts nil) or an array of parts.
type Content struct {
	Text  string
	Parts []ContentPart
}

// TextContent returns string content.
func TextContent(s string) *Content { return &Content{Text: s} }

// IsParts reports whether the content is an array of parts.
func (c *Content) IsParts() bool { return c != nil && c.Parts != nil }

// MarshalJSON encodes the string or the parts array.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Parts != nil {
		return json.Marshal(c.Parts)
	}
	return json.Marshal(c.Text)
}

// UnmarshalJSON accepts a string or an array of parts.
func (c *Content) UnmarshalJSON(b []byte) error {
	*c = Content{}
	if len(b) > 0 && b[0] == '[' {
		c.Parts = []ContentPart{}
		return json.Unmarshal(b, &c.Parts)
	}
	return json.Unmarshal(b, &c.Text)
}

// Content part types.
const (
	PartText       = "text"
	PartImageURL   = "image_url"
	PartInputAudio = "input_audio"
	PartFile       = "file"
	PartRefusal    = "refusal"
)

// ContentPart is one element of an array content.
type ContentPart struct {
	Type       string      `json:"type"`
	Text       string      `json:"text,omitempty"`
	Refusal    string      `json:"refusal,omitempty"`
	ImageURL   *ImageURL   `json:"image_url,omitempty"`
	InputAudio *InputAudio `json:"input_audio,omitempty"`
	File       *File       `json:"file,omitempty"`
	Extra      jsonx.Extra `json:"-"`
}

// ImageURL is an image by https URL or data: URL with base64 bytes.
type ImageURL struct {
	URL    string      `json:"url"`
	Detail string      `json:"detail,omitempty"` // auto, low, high
	Extra  jsonx.Extra `json:"-"`
}

// InputAudio is base64 audio input.
type InputAudio struct {
	Data   string      `json:"data"`
	Format string      `json:"format"` // wav, mp3
	Extra  jsonx.Extra `json:"-"`
}

// File is a file input by id or by base64 data.
type File struct {
	FileData string      `json:"file_data,omitempty"`
	FileID   string      `json:"file_id,omitempty"`
	Filename string      `json:"filename,omitempty"`
	Extra    jsonx.Extra `json:"-"`
}

// ToolCall is a tool call of an assistant message or, with Index set, a
// tool call delta of a stream chunk.
type ToolCall struct {
	Index    *int64       `json:"index,omitempty"` // stream deltas only
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"` // "function" (or "custom")
	Function FunctionCall `json:"function,omitzero"`
	Custom   *CustomCall  `json:"custom,omitempty"`
	Extra    jsonx.Extra  `json:"-"`
}

// FunctionCall is a function name and its JSON-encoded arguments.
type FunctionCall struct {
	Name      string      `json:"name,omitempty"`
	Arguments string      `json:"arguments"`
	Extra     jsonx.Extra `json:"-"`
}

// IsZero reports whether the call has neither name, arguments nor extra members.
func (f FunctionCall) IsZero() bool { return f.Name == "" && f.Arguments == "" && len(f.Extra) == 0 }

// CustomCall is a call of a custom (free-form input) tool.
type CustomCall struct {
	Name  string      `json:"name"`
	Input string      `json:"input"`
	Extra jsonx.Extra `json:"-"`
}

// Tool is an entry of tools.
type Tool struct {
	Type     string          `json:"type"` // "function" or "custom"
	Function *FunctionDef    `json:"function,omitempty"`
	Custom   json.RawMessage `json:"custom,omitempty"`
	Extra    jsonx.Extra     `json:"-"`
}

// FunctionDef declares a function tool.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"` // JSON Schema
	Strict      *bool           `json:"strict,omitempty"`
	Extra       jsonx.Extra     `json:"-"`
}

// ToolChoice is "none", "auto", "required" (Mode set) or an object naming a
// function (Type "function", Function set) or an allowed_tools object.
type ToolChoice struct {
	Mode         string              `json:"-"`
	Type         string              `json:"type,omitempty"`
	Function     *ToolChoiceFunction `json:"function,omitempty"`
	AllowedTools json.RawMessage     `json:"allowed_tools,omitempty"`
	Custom       json.RawMessage     `json:"custom,omitempty"`
	Extra        jsonx.Extra         `json:"-"`
}

// ToolChoiceFunction names the function a tool_choice forces.
type ToolChoiceFunction struct {
	Name  string      `json:"name"`
	Extra jsonx.Extra `json:"-"`
}

// MarshalJSON encodes the mode string or the object.
func (t ToolChoice) MarshalJSON() ([]byte, error) {
	if t.Mode != "" {
		return json.Marshal(t.Mode)
	}
	type plain ToolChoice
	return jsonx.MarshalObject(plain(t), t.Extra)
}

// UnmarshalJSON accepts a mode string or an object.
func (t *ToolChoice) UnmarshalJSON(b []byte) error {
	*t = ToolChoice{}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &t.Mode)
	}
	type plain ToolChoice
	return jsonx.UnmarshalObject(b, (*plain)(t), &t.Extra)
}

// Stop is stop: one string (List nil) or a list of up to 4 strings.
type Stop struct {
	Single string
	List   []string
}

// Sequences returns the stop sequences as a list.
func (s *Stop) Sequences() []string {
	if s == nil {
		return nil
	}
	if s.List != nil {
		return s.List
	}
	return []string{s.Single}
}

// MarshalJSON encodes the string or the list.
func (s Stop) MarshalJSON() ([]byte, error) {
	if s.List != nil {
		return json.Marshal(s.List)
	}
	return json.Marshal(s.Single)
}

// UnmarshalJSON accepts a string or a list of strings.
func (s *Stop) UnmarshalJSON(b []byte) error {
	*s = Stop{}
	if len(b) > 0 && b[0] == '[' {
		s.List = []string{}
		return json.Unmarshal(b, &s.List)
	}
	return json.Unmarshal(b, &s.Single)
}

// Response format types.
const (
	FormatText       = "text"
	FormatJSONObject = "json_object"
	FormatJSONSchema = "json_schema"
)

// ResponseFormat is response_format.
type ResponseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
	Extra      jsonx.Extra `json:"-"`
}

// JSONSchema is response_format.json_schema.
type JSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
	Extra       jsonx.Extra     `json:"-"`
}

// StreamOptions is stream_options.
type StreamOptions struct {
	IncludeUsage       *bool       `json:"include_usage,omitempty"`
	IncludeObfuscation *bool       `json:"include_obfuscation,omitempty"`
	Extra              jsonx.Extra `json:"-"`
}

// AudioOutput is audio: the voice and format of audio output.
type AudioOutput struct {
	Format string          `json:"format"`
	Voice  json.RawMessage `json:"voice"`
	Extra  jsonx.Extra     `json:"-"`
}

// Prediction is prediction: predicted output content.
type Prediction struct {
	Type    string      `json:"type"` // "content"
	Content *Content    `json:"content"`
	Extra   jsonx.Extra `json:"-"`
}

// WebSearchOptions is web_search_options.
type WebSearchOptions struct {
	SearchContextSize string          `json:"search_context_size,omitempty"`
	UserLocation      json.RawMessage `json:"user_location,omitempty"`
	Extra             jsonx.Extra     `json:"-"`
}
