package anthropic

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// Stop reasons.
const (
	StopEndTurn      = "end_turn"
	StopMaxTokens    = "max_tokens"
	StopStopSequence = "stop_sequence"
	StopToolUse      = "tool_use"
	StopPauseTurn    = "pause_turn"
	StopRefusal      = "refusal"
)

// Response is a Messages response (type "message"); in a stream's
// message_start event it arrives with empty Content and no stop reason.
type Response struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Role         string          `json:"role"`
	Model        string          `json:"model"`
	Content      []Block         `json:"content"`
	StopReason   *string         `json:"stop_reason"`
	StopSequence *string         `json:"stop_sequence"`
	Usage        Usage           `json:"usage"`
	Container    json.RawMessage `json:"container,omitempty"`
	Extra        jsonx.Extra     `json:"-"`
}

// Usage is token usage. InputTokens excludes cache reads and writes.
type Usage struct {
	InputTokens              int64           `json:"input_tokens"`
	OutputTokens             int64           `json:"output_tokens"`
	CacheCreationInputTokens *int64          `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     *int64          `json:"cache_read_input_tokens,omitempty"`
	CacheCreation            json.RawMessage `json:"cache_creation,omitempty"`
	ServerToolUse            json.RawMessage `json:"server_tool_use,omitempty"`
	ServiceTier              string          `json:"service_tier,omitempty"`
	Extra                    jsonx.Extra     `json:"-"`
}

// Stream event types.
const (
	EventMessageStart      = "message_start"
	EventContentBlockStart = "content_block_start"
	EventContentBlockDelta = "content_block_delta"
	EventContentBlockStop  = "content_block_stop"
	EventMessageDelta      = "message_delta"
	EventMessageStop       = "message_stop"
	EventPing              = "ping"
	EventError             = "error"
)

// Delta types of content_block_delta.
const (
	DeltaText      = "text_delta"
	DeltaInputJSON = "input_json_delta"
	DeltaThinking  = "thinking_delta"
	DeltaSignature = "signature_delta"
	DeltaCitations = "citations_delta"
)

// Event is one streaming event; Type says which members apply:
//   - message_start: Message
//   - content_block_start: Index, ContentBlock
//   - content_block_delta: Index, Delta
//   - content_block_stop: Index
//   - message_delta: MessageDelta (as "delta"), Usage
//   - message_stop, ping: none
//   - error: Error
type Event struct {
	Type         string      `json:"type"`
	Message      *Response   `json:"message,omitempty"`
	Index        *int64      `json:"index,omitempty"`
	ContentBlock *Block      `json:"content_block,omitempty"`
	Delta        *EventDelta `json:"delta,omitempty"`
	Usage        *DeltaUsage `json:"usage,omitempty"`
	Error        *ErrorBody  `json:"error,omitempty"`
	Extra        jsonx.Extra `json:"-"`
}

// EventDelta is the delta of content_block_delta (Type set) or of
// message_delta (StopReason, StopSequence).
type EventDelta struct {
	Type         string          `json:"type,omitempty"`
	Text         string          `json:"text,omitempty"`
	PartialJSON  *string         `json:"partial_json,omitempty"`
	Thinking     string          `json:"thinking,omitempty"`
	Signature    string          `json:"signature,omitempty"`
	Citation     json.RawMessage `json:"citation,omitempty"`
	StopReason   *string         `json:"stop_reason,omitempty"`
	StopSequence *string         `json:"stop_sequence,omitempty"`
	Extra        jsonx.Extra     `json:"-"`
}

// DeltaUsage is the cumulative usage of a message_delta event.
type DeltaUsage struct {
	InputTokens              *int64          `json:"input_tokens,omitempty"`
	OutputTokens             int64           `json:"output_tokens"`
	CacheCreationInputTokens *int64          `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     *int64          `json:"cache_read_input_tokens,omitempty"`
	ServerToolUse            json.RawMessage `json:"server_tool_use,omitempty"`
	Extra                    jsonx.Extra     `json:"-"`
}

// ErrorResponse is the body of an error response: {"type":"error","error":{...}}.
type ErrorResponse struct {
	Type  string      `json:"type"`
	Error ErrorBody   `json:"error"`
	Extra jsonx.Extra `json:"-"`
}

// ErrorBody is the error object: Type such as invalid_request_error,
// authentication_error, permission_error, not_found_error,
// request_too_large, rate_limit_error, api_error, overloaded_error.
type ErrorBody struct {
	Type    string      `json:"type"`
	Message string      `json:"message"`
	Extra   jsonx.Extra `json:"-"`
}
