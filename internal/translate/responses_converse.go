package translate

import (
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// ResponsesToConverseRequest translates a Responses request into a Converse
// request through the Chat Completions pivot (see responses_openai.go).
// Refusals name the member's path in the Responses request.
func ResponsesToConverseRequest(req *openai.ResponsesRequest, opts Options) (*converse.Request, error) {
	pv, err := responsesToChat(refuser(targetConverse), req)
	if err != nil {
		return nil, err
	}
	out, err := OpenAIToConverseRequest(pv.req, opts)
	if err != nil {
		return nil, pv.remap(err)
	}
	return out, nil
}

// ConverseToResponsesResponse translates a Converse response into a
// Responses response object for req (see OpenAIToResponsesResponse).
func ConverseToResponsesResponse(req *openai.ResponsesRequest, resp *converse.Response, meta ResponseMeta) (*openai.Response, error) {
	chat, err := ConverseToOpenAIResponse(resp, meta)
	if err != nil {
		return nil, err
	}
	return OpenAIToResponsesResponse(req, chat, meta)
}

// ConverseToResponsesStream translates ConverseStream events into
// Responses stream events (see OpenAIToResponsesStream).
type ConverseToResponsesStream struct {
	chat *ConverseToOpenAIStream
	*OpenAIToResponsesStream
}

// NewConverseToResponsesStream returns a stream translator for a response
// to req.
func NewConverseToResponsesStream(req *openai.ResponsesRequest, meta ResponseMeta) *ConverseToResponsesStream {
	meta.IncludeUsage = true
	return &ConverseToResponsesStream{chat: NewConverseToOpenAIStream(meta), OpenAIToResponsesStream: NewOpenAIToResponsesStream(req, meta)}
}

// Event translates one event into zero or more events. The metadata event,
// which carries usage, completes the response.
func (s *ConverseToResponsesStream) Event(e converse.Event) ([]openai.ResponseStreamEvent, error) {
	chunks, err := s.chat.Event(e)
	if err != nil {
		return nil, err
	}
	return chunksToResponses(s.OpenAIToResponsesStream, chunks)
}

func chunksToResponses(s *OpenAIToResponsesStream, chunks []openai.ChatCompletionChunk) ([]openai.ResponseStreamEvent, error) {
	var out []openai.ResponseStreamEvent
	for i := range chunks {
		evs, err := s.Chunk(&chunks[i])
		out = append(out, evs...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
