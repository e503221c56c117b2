package converse

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// Stop reasons.
const (
	StopEndTurn                    = "end_turn"
	StopToolUse                    = "tool_use"
	StopMaxTokens                  = "max_tokens"
	StopStopSequence               = "stop_sequence"
	StopGuardrailIntervened        = "guardrail_intervened"
	StopContentFiltered            = "content_filtered"
	StopMalformedModelOutput       = "malformed_model_output"
	StopMalformedToolUse           = "malformed_tool_use"
	StopModelContextWindowExceeded = "model_context_window_exceeded"
)

// Response is the body of a Converse response.
type Response struct {
	Output                        Output             `json:"output"`
	StopReason                    string             `json:"stopReason"`
	Usage                         Usage              `json:"usage"`
	Metrics                       Metrics            `json:"metrics"`
	AdditionalModelResponseFields json.RawMessage    `json:"additionalModelResponseFields,omitempty"`
	Trace                         json.RawMessage    `json:"trace,omitempty"`
	PerformanceConfig             *PerformanceConfig `json:"performanceConfig,omitempty"`
	ServiceTier                   *ServiceTier       `json:"serviceTier,omitempty"`
	Extra                         jsonx.Extra        `json:"-"`
}

// Output is a union with one member: message.
type Output struct {
	Message *Message    `json:"message,omitempty"`
	Extra   jsonx.Extra `json:"-"`
}

// Usage is token usage. InputTokens excludes cache reads and writes.
type Usage struct {
	InputTokens           int64           `json:"inputTokens"`
	OutputTokens          int64           `json:"outputTokens"`
	TotalTokens           int64           `json:"totalTokens"`
	CacheReadInputTokens  *int64          `json:"cacheReadInputTokens,omitempty"`
	CacheWriteInputTokens *int64          `json:"cacheWriteInputTokens,omitempty"`
	CacheDetails          json.RawMessage `json:"cacheDetails,omitempty"`
	Extra                 jsonx.Extra     `json:"-"`
}

// Metrics holds latency.
type Metrics struct {
	LatencyMs int64       `json:"latencyMs"`
	Extra     jsonx.Extra `json:"-"`
}

// Stream event types: the :event-type header of each ConverseStream frame.
const (
	EventMessageStart      = "messageStart"
	EventContentBlockStart = "contentBlockStart"
	EventContentBlockDelta = "contentBlockDelta"
	EventContentBlockStop  = "contentBlockStop"
	EventMessageStop       = "messageStop"
	EventMetadata          = "metadata"
)

// MessageStart is the payload of a messageStart event.
type MessageStart struct {
	Role  string      `json:"role"`
	Extra jsonx.Extra `json:"-"`
}

// ContentBlockStart is the payload of a contentBlockStart event.
type ContentBlockStart struct {
	ContentBlockIndex int64       `json:"contentBlockIndex"`
	Start             BlockStart  `json:"start"`
	Extra             jsonx.Extra `json:"-"`
}

// BlockStart is a union: toolUse, toolResult or image.
type BlockStart struct {
	ToolUse    *ToolUseStart   `json:"toolUse,omitempty"`
	ToolResult json.RawMessage `json:"toolResult,omitempty"`
	Image      json.RawMessage `json:"image,omitempty"`
	Extra      jsonx.Extra     `json:"-"`
}

// ToolUseStart opens a tool call block.
type ToolUseStart struct {
	ToolUseID string      `json:"toolUseId"`
	Name      string      `json:"name"`
	Type      string      `json:"type,omitempty"`
	Extra     jsonx.Extra `json:"-"`
}

// ContentBlockDelta is the payload of a contentBlockDelta event.
type ContentBlockDelta struct {
	ContentBlockIndex int64       `json:"contentBlockIndex"`
	Delta             BlockDelta  `json:"delta"`
	Extra             jsonx.Extra `json:"-"`
}

// BlockDelta is a union: text, toolUse, reasoningContent, citation, toolResult or image.
type BlockDelta struct {
	Text             *string         `json:"text,omitempty"`
	ToolUse          *ToolUseDelta   `json:"toolUse,omitempty"`
	ReasoningContent *ReasoningDelta `json:"reasoningContent,omitempty"`
	Citation         json.RawMessage `json:"citation,omitempty"`
	ToolResult       json.RawMessage `json:"toolResult,omitempty"`
	Image            json.RawMessage `json:"image,omitempty"`
	Extra            jsonx.Extra     `json:"-"`
}

// ToolUseDelta carries a fragment of a tool call's JSON input.
type ToolUseDelta struct {
	Input string      `json:"input"`
	Extra jsonx.Extra `json:"-"`
}

// ReasoningDelta is a union: text, signature or redactedContent.
type ReasoningDelta struct {
	Text            *string     `json:"text,omitempty"`
	Signature       *string     `json:"signature,omitempty"`
	RedactedContent []byte      `json:"redactedContent,omitempty"`
	Extra           jsonx.Extra `json:"-"`
}

// ContentBlockStop is the payload of a contentBlockStop event.
type ContentBlockStop struct {
	ContentBlockIndex int64       `json:"contentBlockIndex"`
	Extra             jsonx.Extra `json:"-"`
}

// MessageStop is the payload of a messageStop event.
type MessageStop struct {
	StopReason                    string          `json:"stopReason"`
	AdditionalModelResponseFields json.RawMessage `json:"additionalModelResponseFields,omitempty"`
	Extra                         jsonx.Extra     `json:"-"`
}

// Metadata is the payload of the final metadata event.
type Metadata struct {
	Usage             Usage              `json:"usage"`
	Metrics           Metrics            `json:"metrics"`
	Trace             json.RawMessage    `json:"trace,omitempty"`
	PerformanceConfig *PerformanceConfig `json:"performanceConfig,omitempty"`
	ServiceTier       *ServiceTier       `json:"serviceTier,omitempty"`
	Extra             jsonx.Extra        `json:"-"`
}

// Event is one ConverseStream event: Type is the :event-type header and
// exactly the matching payload pointer is set.
type Event struct {
	Type              string
	MessageStart      *MessageStart
	ContentBlockStart *ContentBlockStart
	ContentBlockDelta *ContentBlockDelta
	ContentBlockStop  *ContentBlockStop
	MessageStop       *MessageStop
	Metadata          *Metadata
}

// DecodeEvent decodes the JSON payload of an event frame of the given type.
// It returns an error naming the type for an unknown event type.
func DecodeEvent(eventType string, payload []byte) (Event, error) {
	e := Event{Type: eventType}
	var v any
	switch eventType {
	case EventMessageStart:
		e.MessageStart = new(MessageStart)
		v = e.MessageStart
	case EventContentBlockStart:
		e.ContentBlockStart = new(ContentBlockStart)
		v = e.ContentBlockStart
	case EventContentBlockDelta:
		e.ContentBlockDelta = new(ContentBlockDelta)
		v = e.ContentBlockDelta
	case EventContentBlockStop:
		e.ContentBlockStop = new(ContentBlockStop)
		v = e.ContentBlockStop
	case EventMessageStop:
		e.MessageStop = new(MessageStop)
		v = e.MessageStop
	case EventMetadata:
		e.Metadata = new(Metadata)
		v = e.Metadata
	default:
		return e, &UnknownEventError{Type: eventType}
	}
	return e, json.Unmarshal(payload, v)
}

// Payload encodes the event's JSON payload.
func (e Event) Payload() ([]byte, error) {
	switch {
	case e.MessageStart != nil:
		return json.Marshal(e.MessageStart)
	case e.ContentBlockStart != nil:
		return json.Marshal(e.ContentBlockStart)
	case e.ContentBlockDelta != nil:
		return json.Marshal(e.ContentBlockDelta)
	case e.ContentBlockStop != nil:
		return json.Marshal(e.ContentBlockStop)
	case e.MessageStop != nil:
		return json.Marshal(e.MessageStop)
	case e.Metadata != nil:
		return json.Marshal(e.Metadata)
	}
	return nil, &UnknownEventError{Type: e.Type}
}

// UnknownEventError reports an event type this package does not know.
type UnknownEventError struct{ Type string }

func (e *UnknownEventError) Error() string {
	t := e.Type
	if len(t) > 64 {
		t = t[:64] + "..."
	}
	return "converse: unknown stream event type " + `"` + t + `"`
}

// ErrorResponse is the JSON body of an error response; its type travels in
// the X-Amzn-ErrorType header (or :exception-type in a stream).
type ErrorResponse struct {
	Message string      `json:"message"`
	Extra   jsonx.Extra `json:"-"`
}

// Exception types: the :exception-type of an in-stream error frame (whose
// payload is an ErrorResponse) and, capitalised, the X-Amzn-ErrorType of an
// error response.
const (
	ExceptionInternalServer     = "internalServerException"
	ExceptionModelStreamError   = "modelStreamErrorException"
	ExceptionValidation         = "validationException"
	ExceptionThrottling         = "throttlingException"
	ExceptionServiceUnavailable = "serviceUnavailableException"
)
