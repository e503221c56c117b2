package anthropic

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// BedrockVersion is the anthropic_version Bedrock InvokeModel bodies carry.
const BedrockVersion = "bedrock-2023-05-31"

// Request is a Messages request body.
type Request struct {
	Model             string          `json:"model,omitempty"`             // /v1/messages
	AnthropicVersion  string          `json:"anthropic_version,omitempty"` // Bedrock InvokeModel
	AnthropicBeta     []string        `json:"anthropic_beta,omitempty"`    // Bedrock InvokeModel
	MaxTokens         int64           `json:"max_tokens"`
	Messages          []Message       `json:"messages"`
	System            *System         `json:"system,omitempty"`
	Metadata          *Metadata       `json:"metadata,omitempty"`
	StopSequences     []string        `json:"stop_sequences,omitempty"`
	Stream            *bool           `json:"stream,omitempty"`
	Temperature       *float64        `json:"temperature,omitempty"`
	TopP              *float64        `json:"top_p,omitempty"`
	TopK              *int64          `json:"top_k,omitempty"`
	Thinking          *Thinking       `json:"thinking,omitempty"`
	ToolChoice        *ToolChoice     `json:"tool_choice,omitempty"`
	Tools             []Tool          `json:"tools,omitempty"`
	ServiceTier       string          `json:"service_tier,omitempty"`
	Container         json.RawMessage `json:"container,omitempty"`
	MCPServers        json.RawMessage `json:"mcp_servers,omitempty"`
	OutputFormat      *OutputFormat   `json:"output_format,omitempty"` // beta form of OutputConfig.Format
	OutputConfig      *OutputConfig   `json:"output_config,omitempty"`
	ContextManagement json.RawMessage `json:"context_management,omitempty"`
	Extra             jsonx.Extra     `json:"-"`
}

// Roles.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one turn.
type Message struct {
	Role    string      `json:"role"`
	Content Content     `json:"content"`
	Extra   jsonx.Extra `json:"-"`
}

// Content is a string (Blocks nil), an array of content blocks, or (Raw
// set) another JSON value: server tool result blocks carry objects here.
type Content struct {
	Text   string
	Blocks []Block
	Raw    json.RawMessage
}

// MarshalJSON encodes the raw value, the blocks or the string.
func (c Content) MarshalJSON() ([]byte, error) {
	switch {
	case c.Raw != nil:
		return c.Raw, nil
	case c.Blocks != nil:
		return json.Marshal(c.Blocks)
	}
	return json.Marshal(c.Text)
}

// UnmarshalJSON accepts a string, an array of blocks or any other value.
func (c *Content) UnmarshalJSON(b []byte) error {
	*c = Content{}
	switch {
	case len(b) > 0 && b[0] == '[':
		c.Blocks = []Block{}
		return json.Unmarshal(b, &c.Blocks)
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &c.Text)
	}
	c.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// System is system: a string (Blocks nil) or an array of text blocks.
type System = Content

// Block types.
const (
	BlockText             = "text"
	BlockImage            = "image"
	BlockDocument         = "document"
	BlockToolUse          = "tool_use"
	BlockToolResult       = "tool_result"
	BlockThinking         = "thinking"
	BlockRedactedThinking = "redacted_thinking"
	BlockServerToolUse    = "server_tool_use"
	BlockSearchResult     = "search_result"
)

// Block is a content block; Type says which members apply:
//   - text: Text, Citations
//   - image, document: Source (document also Title, Context, Citations)
//   - tool_use, server_tool_use: ID, Name, Input (tool_use in answers also
//     Caller: {"type":"direct"}, or the code execution tool that made the call)
//   - tool_result: ToolUseID, Content, IsError
//   - thinking: Thinking, Signature; redacted_thinking: Data
//
// Other types (web_search_tool_result...) keep their members in Extra.
type Block struct {
	Type         string          `json:"type"`
	Text         string          `json:"text,omitempty"`
	Source       *Source         `json:"source,omitempty"`
	Title        string          `json:"title,omitempty"`
	Context      string          `json:"context,omitempty"`
	Citations    json.RawMessage `json:"citations,omitempty"`
	ID           string          `json:"id,omitempty"`
	Name         string          `json:"name,omitempty"`
	Input        json.RawMessage `json:"input,omitempty"`
	Caller       json.RawMessage `json:"caller,omitempty"`
	ToolUseID    string          `json:"tool_use_id,omitempty"`
	Content      *Content        `json:"content,omitempty"`
	IsError      *bool           `json:"is_error,omitempty"`
	Thinking     string          `json:"thinking,omitempty"`
	Signature    string          `json:"signature,omitempty"`
	Data         string          `json:"data,omitempty"`
	CacheControl *CacheControl   `json:"cache_control,omitempty"`
	Extra        jsonx.Extra     `json:"-"`
}

// Source is an image or document source: base64 (MediaType, Data), url
// (URL), text (MediaType text/plain, Data), content (Content) or file
// (FileID). A search_result block's source is a string, held in Name.
type Source struct {
	Type      string          `json:"type"`
	MediaType string          `json:"media_type,omitempty"`
	Data      string          `json:"data,omitempty"`
	URL       string          `json:"url,omitempty"`
	FileID    string          `json:"file_id,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"`
	Name      string          `json:"-"`
	Extra     jsonx.Extra     `json:"-"`
}

// IsName reports whether the source is a string (search_result blocks).
func (s *Source) IsName() bool { return s != nil && s.Type == "" && s.Name != "" }

// UnmarshalJSON accepts a source object or a string.
func (s *Source) UnmarshalJSON(b []byte) error {
	*s = Source{}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &s.Name)
	}
	type plain Source
	return jsonx.UnmarshalObject(b, (*plain)(s), &s.Extra)
}

// MarshalJSON encodes the string or the object with the members of Extra.
func (s Source) MarshalJSON() ([]byte, error) {
	if s.Type == "" && s.Name != "" {
		return json.Marshal(s.Name)
	}
	type plain Source
	return jsonx.MarshalObject(plain(s), s.Extra)
}

// CacheControl marks a cache breakpoint. Type is "ephemeral".
type CacheControl struct {
	Type  string      `json:"type"`
	TTL   string      `json:"ttl,omitempty"` // 5m, 1h
	Extra jsonx.Extra `json:"-"`
}

// Metadata is metadata.
type Metadata struct {
	UserID string      `json:"user_id,omitempty"`
	Extra  jsonx.Extra `json:"-"`
}

// Thinking enables extended thinking: Type "enabled" with BudgetTokens,
// "adaptive", or "disabled". Display says how Claude returns its thinking
// text: "summarized", or "omitted" (empty thinking, signature kept).
type Thinking struct {
	Type         string      `json:"type"`
	BudgetTokens int64       `json:"budget_tokens,omitempty"`
	Display      string      `json:"display,omitempty"`
	Extra        jsonx.Extra `json:"-"`
}

// ToolChoice is tool_choice: Type auto, any, tool (Name) or none.
type ToolChoice struct {
	Type                   string      `json:"type"`
	Name                   string      `json:"name,omitempty"`
	DisableParallelToolUse *bool       `json:"disable_parallel_tool_use,omitempty"`
	Extra                  jsonx.Extra `json:"-"`
}

// Tool is a custom tool (Type "" or "custom", with Name and InputSchema) or a
// server tool (Type such as "web_search_20250305", members in Extra).
type Tool struct {
	Type         string          `json:"type,omitempty"`
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	Strict       *bool           `json:"strict,omitempty"`
	CacheControl *CacheControl   `json:"cache_control,omitempty"`
	Extra        jsonx.Extra     `json:"-"`
}

// IsCustom reports whether the tool is a client (custom) tool.
func (t Tool) IsCustom() bool { return t.Type == "" || t.Type == "custom" }

// OutputConfig is output_config: structured output format and effort
// (low, medium, high, max).
type OutputConfig struct {
	Format *OutputFormat `json:"format,omitempty"`
	Effort string        `json:"effort,omitempty"`
	Extra  jsonx.Extra   `json:"-"`
}

// OutputFormat is output_config.format (and the beta output_format) (structured outputs): Type "json_schema" with Schema.
type OutputFormat struct {
	Type   string          `json:"type"`
	Schema json.RawMessage `json:"schema,omitempty"`
	Extra  jsonx.Extra     `json:"-"`
}

// IsBlocks reports whether the content is an array of blocks.
func (c *Content) IsBlocks() bool { return c != nil && c.Blocks != nil }

// IsText reports whether the content is a string.
func (c *Content) IsText() bool { return c != nil && c.Blocks == nil && c.Raw == nil }
