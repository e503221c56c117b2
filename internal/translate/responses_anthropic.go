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
	return OpenAIToResponsesResponse(req, chat, meta)
}

// AnthropicToResponsesStream translates Messages stream events into
// Responses stream events (see OpenAIToResponsesStream).
type AnthropicToResponsesStream struct {
	chat *AnthropicToOpenAIStream
	*OpenAIToResponsesStream
}

// NewAnthropicToResponsesStream returns a stream translator for a response
// to req.
func NewAnthropicToResponsesStream(req *openai.ResponsesRequest, meta ResponseMeta) *AnthropicToResponsesStream {
	meta.IncludeUsage = true
	return &AnthropicToResponsesStream{chat: NewAnthropicToOpenAIStream(meta), OpenAIToResponsesStream: NewOpenAIToResponsesStream(req, meta)}
}

// Event translates one event into zero or more events. message_delta, which
// carries the stop reason and usage, completes the response; an error event
// returns a *StreamError (end the stream with Fail).
func (s *AnthropicToResponsesStream) Event(e *anthropic.Event) ([]openai.ResponseStreamEvent, error) {
	chunks, err := s.chat.Event(e)
	if err != nil {
		return nil, err
	}
	return chunksToResponses(s.OpenAIToResponsesStream, chunks)
}
