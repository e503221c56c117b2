package translate

import (
	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// ResponsesToAnthropicRequest translates a Responses request into an
// Anthropic Messages request through the Chat Completions pivot (see
// responses_openai.go), keeping Model and Stream unless
// opts.AnthropicBedrock. Refusals name the member's path in the Responses
// request.
func ResponsesToAnthropicRequest(req *openai.ResponsesRequest, opts Options) (*anthropic.Request, error) {
	pv, err := responsesToChat(refuser(targetAnthropic), req)
	if err != nil {
		return nil, err
	}
	out, err := OpenAIToAnthropicRequest(pv.req, opts)
	if err != nil {
		return nil, pv.remap(err)
	}
	if err := restoreAnthropic(pv.req, out); err != nil {
		return nil, pv.remap(err)
	}
	if err := refuseUnsignedToolTurnAnthropic(pv.req, out); err != nil {
		return nil, pv.remap(err)
	}
	return out, nil
}

// AnthropicToResponsesResponse translates a Messages response into a
// Responses response object for req (see OpenAIToResponsesResponse):
// thinking becomes a reasoning item, without its signature.
func AnthropicToResponsesResponse(req *openai.ResponsesRequest, resp *anthropic.Response, meta ResponseMeta) (*openai.Response, error) {
	chat, err := AnthropicToOpenAIResponse(resp, meta)
	if err != nil {
		return nil, err
	}
	return chatToResponses(req, chat, meta, anthropicReasoning(resp.Content))
}

// AnthropicToResponsesStream translates Messages stream events into
// Responses stream events (see OpenAIToResponsesStream).
type AnthropicToResponsesStream struct {
	chat *AnthropicToOpenAIStream
	*OpenAIToResponsesStream
	blocks map[int64]int // thinking block index -> index in carried
}

// NewAnthropicToResponsesStream returns a stream translator for a response
// to req.
func NewAnthropicToResponsesStream(req *openai.ResponsesRequest, meta ResponseMeta) *AnthropicToResponsesStream {
	meta.IncludeUsage = true
	return &AnthropicToResponsesStream{chat: NewAnthropicToOpenAIStream(meta), OpenAIToResponsesStream: NewOpenAIToResponsesStream(req, meta), blocks: map[int64]int{}}
}

// Event translates one event into zero or more events. message_delta, which
// carries the stop reason and usage, completes the response; an error event
// returns a *StreamError (end the stream with Fail).
func (s *AnthropicToResponsesStream) Event(e *anthropic.Event) ([]openai.ResponseStreamEvent, error) {
	chunks, err := s.chat.Event(e)
	if err != nil {
		return nil, err
	}
	redacted := s.carry(e)
	out, err := chunksToResponses(s.OpenAIToResponsesStream, chunks)
	if err == nil && redacted && !s.done {
		// Redacted reasoning has no text: open its item here.
		s.start()
		s.ensureReasoning()
		out = append(out, s.flush()...)
	}
	return out, err
}

// carry records the reasoning blocks of e for encrypted_content, and
// reports whether e started a redacted_thinking block.
func (s *AnthropicToResponsesStream) carry(e *anthropic.Event) (redacted bool) {
	if !s.encrypted || e.Index == nil {
		return false
	}
	switch {
	case e.Type == anthropic.EventContentBlockStart && e.ContentBlock != nil:
		switch b := e.ContentBlock; b.Type {
		case anthropic.BlockThinking:
			s.blocks[*e.Index] = len(s.carried)
			s.carried = append(s.carried, carriedReasoning{Text: b.Thinking, Signature: b.Signature})
		case anthropic.BlockRedactedThinking:
			s.carried = append(s.carried, carriedReasoning{Redacted: b.Data})
			return true
		}
	case e.Type == anthropic.EventContentBlockDelta && e.Delta != nil:
		i, ok := s.blocks[*e.Index]
		if !ok || i >= len(s.carried) {
			return false
		}
		switch e.Delta.Type {
		case anthropic.DeltaThinking:
			s.carried[i].Text += e.Delta.Thinking
		case anthropic.DeltaSignature:
			s.carried[i].Signature += e.Delta.Signature
		}
	}
	return false
}
