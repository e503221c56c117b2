package converse

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// Request is the body of POST /model/{modelId}/converse and /converse-stream.
type Request struct {
	Messages                          []Message                  `json:"messages,omitempty"`
	System                            []SystemBlock              `json:"system,omitempty"`
	InferenceConfig                   *InferenceConfig           `json:"inferenceConfig,omitempty"`
	ToolConfig                        *ToolConfig                `json:"toolConfig,omitempty"`
	GuardrailConfig                   *GuardrailConfig           `json:"guardrailConfig,omitempty"`
	AdditionalModelRequestFields      json.RawMessage            `json:"additionalModelRequestFields,omitempty"`
	PromptVariables                   map[string]json.RawMessage `json:"promptVariables,omitempty"`
	AdditionalModelResponseFieldPaths []string                   `json:"additionalModelResponseFieldPaths,omitempty"`
	RequestMetadata                   map[string]string          `json:"requestMetadata,omitempty"`
	PerformanceConfig                 *PerformanceConfig         `json:"performanceConfig,omitempty"`
	ServiceTier                       *ServiceTier               `json:"serviceTier,omitempty"`
	OutputConfig                      *OutputConfig              `json:"outputConfig,omitempty"`
	Extra                             jsonx.Extra                `json:"-"`
}

// Roles.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one turn of the conversation.
type Message struct {
	Role    string         `json:"role"`
	Content []ContentBlock `json:"content"`
	Extra   jsonx.Extra    `json:"-"`
}

// ContentBlock is a union: exactly one member is set.
// Text is a pointer so that an empty text block keeps its member.
type ContentBlock struct {
	Text             *string           `json:"text,omitempty"`
	Image            *ImageBlock       `json:"image,omitempty"`
	Document         *DocumentBlock    `json:"document,omitempty"`
	Video            *VideoBlock       `json:"video,omitempty"`
	ToolUse          *ToolUseBlock     `json:"toolUse,omitempty"`
	ToolResult       *ToolResultBlock  `json:"toolResult,omitempty"`
	ReasoningContent *ReasoningContent `json:"reasoningContent,omitempty"`
	CachePoint       *CachePoint       `json:"cachePoint,omitempty"`
	GuardContent     json.RawMessage   `json:"guardContent,omitempty"`
	CitationsContent json.RawMessage   `json:"citationsContent,omitempty"`
	SearchResult     json.RawMessage   `json:"searchResult,omitempty"`
	Audio            json.RawMessage   `json:"audio,omitempty"`
	ToolAddition     json.RawMessage   `json:"toolAddition,omitempty"`
	ToolRemoval      json.RawMessage   `json:"toolRemoval,omitempty"`
	Extra            jsonx.Extra       `json:"-"`
}

// TextBlock returns a text content block.
func TextBlock(s string) ContentBlock { return ContentBlock{Text: &s} }

// Source is where image, document or video bytes come from: base64 Bytes,
// an S3Location, or (documents) inline Text or Content.
type Source struct {
	Bytes      []byte          `json:"bytes,omitempty"` // base64 on the wire
	S3Location *S3Location     `json:"s3Location,omitempty"`
	Text       *string         `json:"text,omitempty"`
	Content    json.RawMessage `json:"content,omitempty"`
	Extra      jsonx.Extra     `json:"-"`
}

// S3Location names an S3 object.
type S3Location struct {
	URI         string      `json:"uri"`
	BucketOwner string      `json:"bucketOwner,omitempty"`
	Extra       jsonx.Extra `json:"-"`
}

// ImageBlock is an image: format png, jpeg, gif or webp.
type ImageBlock struct {
	Format string      `json:"format"`
	Source Source      `json:"source"`
	Extra  jsonx.Extra `json:"-"`
}

// DocumentBlock is a document: format pdf, csv, doc, docx, xls, xlsx, html, txt or md.
type DocumentBlock struct {
	Format    string          `json:"format,omitempty"`
	Name      string          `json:"name"`
	Source    Source          `json:"source"`
	Context   string          `json:"context,omitempty"`
	Citations json.RawMessage `json:"citations,omitempty"`
	Extra     jsonx.Extra     `json:"-"`
}

// VideoBlock is a video.
type VideoBlock struct {
	Format string      `json:"format"`
	Source Source      `json:"source"`
	Extra  jsonx.Extra `json:"-"`
}

// ToolUseBlock is a tool call made by the model.
type ToolUseBlock struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	Type      string          `json:"type,omitempty"` // "server_tool_use" for server tools
	Extra     jsonx.Extra     `json:"-"`
}

// ToolResultBlock is the result of a tool call.
type ToolResultBlock struct {
	ToolUseID string              `json:"toolUseId"`
	Content   []ToolResultContent `json:"content"`
	Status    string              `json:"status,omitempty"` // success, error
	Type      string              `json:"type,omitempty"`
	Extra     jsonx.Extra         `json:"-"`
}

// ToolResultContent is a union: json, text, image, document, video or searchResult.
type ToolResultContent struct {
	JSON         json.RawMessage `json:"json,omitempty"`
	Text         *string         `json:"text,omitempty"`
	Image        *ImageBlock     `json:"image,omitempty"`
	Document     *DocumentBlock  `json:"document,omitempty"`
	Video        *VideoBlock     `json:"video,omitempty"`
	SearchResult json.RawMessage `json:"searchResult,omitempty"`
	Extra        jsonx.Extra     `json:"-"`
}

// ReasoningContent is a union: reasoningText or redactedContent.
type ReasoningContent struct {
	ReasoningText   *ReasoningText `json:"reasoningText,omitempty"`
	RedactedContent []byte         `json:"redactedContent,omitempty"` // base64 on the wire
	Extra           jsonx.Extra    `json:"-"`
}

// ReasoningText is the model's reasoning and the signature that verifies it.
type ReasoningText struct {
	Text      string      `json:"text"`
	Signature string      `json:"signature,omitempty"`
	Extra     jsonx.Extra `json:"-"`
}

// CachePoint marks the end of a cacheable prefix. Type is "default".
type CachePoint struct {
	Type  string      `json:"type"`
	TTL   string      `json:"ttl,omitempty"` // 5m, 1h
	Extra jsonx.Extra `json:"-"`
}

// SystemBlock is a union: text, guardContent or cachePoint.
type SystemBlock struct {
	Text         *string         `json:"text,omitempty"`
	GuardContent json.RawMessage `json:"guardContent,omitempty"`
	CachePoint   *CachePoint     `json:"cachePoint,omitempty"`
	Extra        jsonx.Extra     `json:"-"`
}

// InferenceConfig holds the common sampling parameters.
type InferenceConfig struct {
	MaxTokens     *int64      `json:"maxTokens,omitempty"`
	Temperature   *float64    `json:"temperature,omitempty"`
	TopP          *float64    `json:"topP,omitempty"`
	StopSequences []string    `json:"stopSequences,omitempty"`
	Extra         jsonx.Extra `json:"-"`
}

// ToolConfig declares tools and how the model must choose among them.
type ToolConfig struct {
	Tools      []Tool      `json:"tools"`
	ToolChoice *ToolChoice `json:"toolChoice,omitempty"`
	Extra      jsonx.Extra `json:"-"`
}

// Tool is a union: toolSpec, systemTool or cachePoint.
type Tool struct {
	ToolSpec   *ToolSpec       `json:"toolSpec,omitempty"`
	SystemTool json.RawMessage `json:"systemTool,omitempty"`
	CachePoint *CachePoint     `json:"cachePoint,omitempty"`
	Extra      jsonx.Extra     `json:"-"`
}

// ToolSpec declares a tool.
type ToolSpec struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	InputSchema InputSchema `json:"inputSchema"`
	Strict      *bool       `json:"strict,omitempty"`
	Extra       jsonx.Extra `json:"-"`
}

// InputSchema is a union with one member: json, a JSON Schema document.
type InputSchema struct {
	JSON  json.RawMessage `json:"json,omitempty"`
	Extra jsonx.Extra     `json:"-"`
}

// ToolChoice is a union: auto, any or tool.
type ToolChoice struct {
	Auto  *Empty        `json:"auto,omitempty"`
	Any   *Empty        `json:"any,omitempty"`
	Tool  *SpecificTool `json:"tool,omitempty"`
	Extra jsonx.Extra   `json:"-"`
}

// Empty is an object with no declared members ({}), kept whole.
type Empty struct {
	Extra jsonx.Extra `json:"-"`
}

// SpecificTool names the tool a toolChoice forces.
type SpecificTool struct {
	Name  string      `json:"name"`
	Extra jsonx.Extra `json:"-"`
}

// GuardrailConfig applies a guardrail.
type GuardrailConfig struct {
	GuardrailIdentifier  string      `json:"guardrailIdentifier,omitempty"`
	GuardrailVersion     string      `json:"guardrailVersion,omitempty"`
	Trace                string      `json:"trace,omitempty"`
	StreamProcessingMode string      `json:"streamProcessingMode,omitempty"`
	Extra                jsonx.Extra `json:"-"`
}

// PerformanceConfig selects latency-optimised inference ("standard" or "optimized").
type PerformanceConfig struct {
	Latency string      `json:"latency,omitempty"`
	Extra   jsonx.Extra `json:"-"`
}

// ServiceTier selects a processing tier (priority, default, flex, reserved).
type ServiceTier struct {
	Type  string      `json:"type"`
	Extra jsonx.Extra `json:"-"`
}

// OutputConfig shapes the output: structured text and reasoning effort.
type OutputConfig struct {
	TextFormat *OutputFormat `json:"textFormat,omitempty"`
	Effort     string        `json:"effort,omitempty"` // low, medium, high, xhigh, max
	Extra      jsonx.Extra   `json:"-"`
}

// OutputFormat constrains the text output. Type is "json_schema".
type OutputFormat struct {
	Type      string          `json:"type"`
	Structure OutputStructure `json:"structure"`
	Extra     jsonx.Extra     `json:"-"`
}

// OutputStructure is a union with one member: jsonSchema.
type OutputStructure struct {
	JSONSchema *JSONSchemaDefinition `json:"jsonSchema,omitempty"`
	Extra      jsonx.Extra           `json:"-"`
}

// JSONSchemaDefinition is a JSON Schema carried as a string.
type JSONSchemaDefinition struct {
	Schema      string      `json:"schema"`
	Name        string      `json:"name,omitempty"`
	Description string      `json:"description,omitempty"`
	Extra       jsonx.Extra `json:"-"`
}
