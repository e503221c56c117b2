package translate

import (
	"encoding/json"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// OpenAIToResponsesStream translates Chat Completions stream chunks into
// Responses stream events: response.created and response.in_progress
// first; then per output item output_item.added, its parts and deltas, and
// output_item.done; and last response.completed (or response.incomplete
// when the output was cut by the token limit or a content filter) with the
// whole response and its usage. Items follow each other: one closes before
// the next opens, so output indices count up. Sequence numbers count every
// event from 0. Use one per stream; it is not safe for concurrent use.
type OpenAIToResponsesStream struct {
	resp     *openai.Response
	ids      itemIDs
	seq      int64
	out      []openai.ResponseStreamEvent
	started  bool
	done     bool
	open     *openItem
	seen     map[int64]bool // chat tool call indices already opened
	finish   string
	finished bool
	// encrypted says the client asked for reasoning encrypted_content;
	// carried holds the reasoning blocks of the open or next reasoning item.
	encrypted bool
	carried   []carriedReasoning
}

// openItem is the output item being streamed.
type openItem struct {
	kind      string // openai.ItemReasoning, ItemMessage, ItemFunctionCall
	index     int64
	id        string
	parts     []openai.ItemPart // message: closed parts
	part      string            // message: open part type, "" for none
	buf       strings.Builder   // open part text, summary text or arguments
	callID    string
	name      string
	chatIndex int64
}

// NewOpenAIToResponsesStream returns a stream translator for a response to
// req (whose settings the response objects echo). meta.ID names the
// response ("resp_...") and its items.
func NewOpenAIToResponsesStream(req *openai.ResponsesRequest, meta ResponseMeta) *OpenAIToResponsesStream {
	return &OpenAIToResponsesStream{resp: newResponse(req, meta), ids: itemIDs(meta.ID), seen: map[int64]bool{}, encrypted: wantsEncrypted(req)}
}

func (s *OpenAIToResponsesStream) emit(e openai.ResponseStreamEvent) {
	e.SequenceNumber = s.seq
	s.seq++
	s.out = append(s.out, e)
}

func (s *OpenAIToResponsesStream) flush() []openai.ResponseStreamEvent {
	out := s.out
	s.out = nil
	return out
}

// snapshot returns a copy of the response as it stands, for an event.
func (s *OpenAIToResponsesStream) snapshot() *openai.Response {
	r := *s.resp
	r.Output = append([]openai.Item{}, s.resp.Output...)
	return &r
}

func (s *OpenAIToResponsesStream) start() {
	if s.started {
		return
	}
	s.started = true
	s.emit(openai.ResponseStreamEvent{Type: openai.EventResponseCreated, Response: s.snapshot()})
	s.emit(openai.ResponseStreamEvent{Type: openai.EventResponseInProgress, Response: s.snapshot()})
}

// Chunk translates one chunk into zero or more events. A chunk with more
// than one choice, or a tool call delta for a call already finished,
// returns a *StreamError.
func (s *OpenAIToResponsesStream) Chunk(c *openai.ChatCompletionChunk) ([]openai.ResponseStreamEvent, error) {
	if s.done {
		return nil, nil
	}
	s.start()
	if c.ServiceTier != "" {
		s.resp.ServiceTier = c.ServiceTier // the served tier, in response.completed
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			return s.flush(), failAnswer("protocol", "chunk with a choice other than the first")
		}
		d := ch.Delta
		if t := deref(openAIReasoning(d.ReasoningContent, d.Extra)); t != "" {
			s.reasoningDelta(t)
		}
		if t := deref(d.Content); t != "" {
			s.partDelta(openai.PartOutputText, t)
		}
		if t := deref(d.Refusal); t != "" {
			s.partDelta(openai.PartOutputRefusal, t)
		}
		for _, tc := range d.ToolCalls {
			if err := s.toolDelta(&tc); err != nil {
				return s.flush(), err
			}
		}
		if ch.FinishReason != nil {
			s.finish, s.finished = *ch.FinishReason, true
			s.closeItem()
		}
	}
	if c.Usage != nil {
		s.resp.Usage = chatUsageToResponses(c.Usage)
		if s.finished {
			s.complete()
		}
	}
	return s.flush(), nil
}

func (s *OpenAIToResponsesStream) openNew(kind, prefix string, item openai.Item) {
	s.closeItem()
	idx := int64(len(s.resp.Output))
	s.open = &openItem{kind: kind, index: idx, id: s.ids.id(prefix, int(idx))}
	item.ID = s.open.id
	s.emit(openai.ResponseStreamEvent{Type: openai.EventOutputItemAdded, OutputIndex: ptr(idx), Item: &item})
}

// ensureReasoning opens a reasoning item unless one is open.
func (s *OpenAIToResponsesStream) ensureReasoning() {
	if s.open == nil || s.open.kind != openai.ItemReasoning {
		s.openNew(openai.ItemReasoning, "rs", openai.Item{Type: openai.ItemReasoning, Summary: []openai.ItemPart{}})
		s.emit(openai.ResponseStreamEvent{Type: openai.EventReasoningPartAdded, ItemID: s.open.id, OutputIndex: ptr(s.open.index),
			SummaryIndex: ptr(int64(0)), Part: &openai.ItemPart{Type: openai.PartSummaryText}})
	}
}

func (s *OpenAIToResponsesStream) reasoningDelta(t string) {
	s.ensureReasoning()
	s.open.buf.WriteString(t)
	s.emit(openai.ResponseStreamEvent{Type: openai.EventReasoningSummaryDelta, ItemID: s.open.id, OutputIndex: ptr(s.open.index),
		SummaryIndex: ptr(int64(0)), Delta: ptr(t)})
}

func (s *OpenAIToResponsesStream) partDelta(kind, t string) {
	if s.open == nil || s.open.kind != openai.ItemMessage {
		s.openNew(openai.ItemMessage, "msg", openai.Item{Type: openai.ItemMessage, Status: openai.StatusInProgress,
			Role: openai.RoleAssistant, Content: &openai.ItemContent{Parts: []openai.ItemPart{}}})
	}
	o := s.open
	if o.part != kind {
		s.closePart()
		o.part = kind
		s.emit(openai.ResponseStreamEvent{Type: openai.EventContentPartAdded, ItemID: o.id, OutputIndex: ptr(o.index),
			ContentIndex: ptr(int64(len(o.parts))), Part: &openai.ItemPart{Type: kind}})
	}
	o.buf.WriteString(t)
	e := openai.ResponseStreamEvent{Type: openai.EventOutputTextDelta, ItemID: o.id, OutputIndex: ptr(o.index),
		ContentIndex: ptr(int64(len(o.parts))), Delta: ptr(t), Logprobs: emptyList}
	if kind == openai.PartOutputRefusal {
		e.Type, e.Logprobs = openai.EventRefusalDelta, nil
	}
	s.emit(e)
}

var emptyList = []byte("[]")

func (s *OpenAIToResponsesStream) closePart() {
	o := s.open
	if o.part == "" {
		return
	}
	text := o.buf.String()
	o.buf.Reset()
	ci := ptr(int64(len(o.parts)))
	part := openai.ItemPart{Type: o.part}
	if o.part == openai.PartOutputRefusal {
		part.Refusal = text
		s.emit(openai.ResponseStreamEvent{Type: openai.EventRefusalDone, ItemID: o.id, OutputIndex: ptr(o.index), ContentIndex: ci, Refusal: ptr(text)})
	} else {
		part.Text, part.Annotations = text, []json.RawMessage{}
		s.emit(openai.ResponseStreamEvent{Type: openai.EventOutputTextDone, ItemID: o.id, OutputIndex: ptr(o.index), ContentIndex: ci, Text: ptr(text), Logprobs: emptyList})
	}
	s.emit(openai.ResponseStreamEvent{Type: openai.EventContentPartDone, ItemID: o.id, OutputIndex: ptr(o.index), ContentIndex: ci, Part: &part})
	o.parts = append(o.parts, part)
	o.part = ""
}

func (s *OpenAIToResponsesStream) toolDelta(tc *openai.ToolCall) error {
	idx := deref(tc.Index)
	if s.open == nil || s.open.kind != openai.ItemFunctionCall || s.open.chatIndex != idx {
		if s.seen[idx] {
			return failAnswer("protocol", "tool call delta for a call already finished")
		}
		s.seen[idx] = true
		callID := tc.ID
		if callID == "" {
			callID = s.ids.id("call", len(s.resp.Output))
		}
		s.openNew(openai.ItemFunctionCall, "fc", openai.Item{Type: openai.ItemFunctionCall, Status: openai.StatusInProgress,
			CallID: callID, Name: tc.Function.Name, Arguments: ptr("")})
		s.open.callID, s.open.name, s.open.chatIndex = callID, tc.Function.Name, idx
	}
	if a := tc.Function.Arguments; a != "" {
		s.open.buf.WriteString(a)
		s.emit(openai.ResponseStreamEvent{Type: openai.EventFunctionArgsDelta, ItemID: s.open.id, OutputIndex: ptr(s.open.index), Delta: ptr(a)})
	}
	return nil
}

// closeItem ends the open item, if any, and adds it to the output.
func (s *OpenAIToResponsesStream) closeItem() {
	o := s.open
	if o == nil {
		return
	}
	status, _ := finishStatus(s.finish)
	if !s.finished {
		status = openai.StatusIncomplete
	}
	item := openai.Item{Type: o.kind, ID: o.id}
	switch o.kind {
	case openai.ItemReasoning:
		text := o.buf.String()
		part := openai.ItemPart{Type: openai.PartSummaryText, Text: text}
		s.emit(openai.ResponseStreamEvent{Type: openai.EventReasoningSummaryDone, ItemID: o.id, OutputIndex: ptr(o.index), SummaryIndex: ptr(int64(0)), Text: ptr(text)})
		s.emit(openai.ResponseStreamEvent{Type: openai.EventReasoningPartDone, ItemID: o.id, OutputIndex: ptr(o.index), SummaryIndex: ptr(int64(0)), Part: &part})
		item.Summary = []openai.ItemPart{part}
		if s.encrypted && len(s.carried) > 0 {
			item.EncryptedContent = ptr(encodeReasoning(s.carried))
		}
		s.carried = nil
	case openai.ItemMessage:
		s.closePart()
		item.Status, item.Role, item.Content = status, openai.RoleAssistant, &openai.ItemContent{Parts: o.parts}
	case openai.ItemFunctionCall:
		args := o.buf.String()
		s.emit(openai.ResponseStreamEvent{Type: openai.EventFunctionArgsDone, ItemID: o.id, OutputIndex: ptr(o.index), Arguments: ptr(args), Name: o.name})
		item.Status, item.CallID, item.Name, item.Arguments = openai.StatusCompleted, o.callID, o.name, ptr(args)
	}
	s.emit(openai.ResponseStreamEvent{Type: openai.EventOutputItemDone, OutputIndex: ptr(o.index), Item: &item})
	s.resp.Output = append(s.resp.Output, item)
	s.open = nil
}

// complete ends the stream with response.completed or response.incomplete.
func (s *OpenAIToResponsesStream) complete() {
	if s.done {
		return
	}
	s.closeItem()
	s.done = true
	s.resp.Status, s.resp.IncompleteDetails = finishStatus(s.finish)
	typ := openai.EventResponseCompleted
	if s.resp.Status == openai.StatusIncomplete {
		typ = openai.EventResponseIncomplete
	}
	s.emit(openai.ResponseStreamEvent{Type: typ, Response: s.snapshot()})
}

// Finish returns the events that end the stream when the backend's stream
// has ended: response.completed (without usage if the backend sent none),
// or response.failed when it ended before a finish reason. After the final
// event it returns nothing.
func (s *OpenAIToResponsesStream) Finish() []openai.ResponseStreamEvent {
	if s.done {
		return nil
	}
	s.start()
	if s.finished {
		s.complete()
		return s.flush()
	}
	s.fail(&StreamError{Type: "server_error", Message: "the backend stream ended before the response finished"}, false)
	return s.flush()
}

// Fail returns the events that end the stream after err (a *StreamError
// from Chunk or a backend error): an error event and response.failed
// carrying the error. After the final event it returns nothing.
func (s *OpenAIToResponsesStream) Fail(err error) []openai.ResponseStreamEvent {
	if s.done {
		return nil
	}
	s.start()
	s.fail(err, true)
	return s.flush()
}

func (s *OpenAIToResponsesStream) fail(err error, errorEvent bool) {
	code, msg := "server_error", "the backend failed"
	if se, ok := err.(*StreamError); ok {
		code, msg = se.Type, se.Message
	}
	if len(msg) > 1000 {
		msg = msg[:1000] + "..."
	}
	s.closeItem()
	s.done = true
	if errorEvent {
		s.emit(openai.ResponseStreamEvent{Type: openai.EventError, Code: ptr(code), Message: msg, Param: json.RawMessage("null")})
	}
	s.resp.Status = openai.StatusFailed
	s.resp.Error = &openai.ResponseError{Code: code, Message: msg}
	s.emit(openai.ResponseStreamEvent{Type: openai.EventResponseFailed, Response: s.snapshot()})
}
