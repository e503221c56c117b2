package openai

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// Responses stream event types.
const (
	EventResponseCreated       = "response.created"
	EventResponseInProgress    = "response.in_progress"
	EventResponseCompleted     = "response.completed"
	EventResponseIncomplete    = "response.incomplete"
	EventResponseFailed        = "response.failed"
	EventOutputItemAdded       = "response.output_item.added"
	EventOutputItemDone        = "response.output_item.done"
	EventContentPartAdded      = "response.content_part.added"
	EventContentPartDone       = "response.content_part.done"
	EventOutputTextDelta       = "response.output_text.delta"
	EventOutputTextDone        = "response.output_text.done"
	EventRefusalDelta          = "response.refusal.delta"
	EventRefusalDone           = "response.refusal.done"
	EventFunctionArgsDelta     = "response.function_call_arguments.delta"
	EventFunctionArgsDone      = "response.function_call_arguments.done"
	EventReasoningPartAdded    = "response.reasoning_summary_part.added"
	EventReasoningPartDone     = "response.reasoning_summary_part.done"
	EventReasoningSummaryDelta = "response.reasoning_summary_text.delta"
	EventReasoningSummaryDone  = "response.reasoning_summary_text.done"
	EventError                 = "error"
)

// ResponseStreamEvent is one typed event of a streamed response: the data
// of a server-sent event whose event name is Type. Type selects the members
// used:
//   - response.created, .in_progress, .completed, .incomplete, .failed:
//     Response.
//   - response.output_item.added, .done: OutputIndex, Item.
//   - response.content_part.added, .done: ItemID, OutputIndex,
//     ContentIndex, Part.
//   - response.output_text.delta, .done: ItemID, OutputIndex, ContentIndex,
//     Delta or Text, Logprobs. response.refusal.delta, .done: Delta or
//     Refusal.
//   - response.function_call_arguments.delta, .done: ItemID, OutputIndex,
//     Delta or Arguments (and Name on done).
//   - response.reasoning_summary_part.added, .done and
//     response.reasoning_summary_text.delta, .done: ItemID, OutputIndex,
//     SummaryIndex, Part, Delta or Text.
//   - error: Code, Message, Param.
//
// Every event carries SequenceNumber, counting from 0 in a stream.
type ResponseStreamEvent struct {
	Type           string          `json:"type"`
	SequenceNumber int64           `json:"sequence_number"`
	Response       *Response       `json:"response,omitempty"`
	OutputIndex    *int64          `json:"output_index,omitempty"`
	ItemID         string          `json:"item_id,omitempty"`
	ContentIndex   *int64          `json:"content_index,omitempty"`
	SummaryIndex   *int64          `json:"summary_index,omitempty"`
	Item           *Item           `json:"item,omitempty"`
	Part           *ItemPart       `json:"part,omitempty"`
	Delta          *string         `json:"delta,omitempty"`
	Text           *string         `json:"text,omitempty"`
	Refusal        *string         `json:"refusal,omitempty"`
	Arguments      *string         `json:"arguments,omitempty"`
	Name           string          `json:"name,omitempty"`
	Logprobs       json.RawMessage `json:"logprobs,omitempty"`
	Code           *string         `json:"code,omitempty"`
	Message        string          `json:"message,omitempty"`
	Param          json.RawMessage `json:"param,omitempty"` // error: string or null
	Obfuscation    string          `json:"obfuscation,omitempty"`
	Extra          jsonx.Extra     `json:"-"`
}
