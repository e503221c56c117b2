package translate

import (
	"encoding/base64"

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
	if err := restoreConverse(pv.req, out); err != nil {
		return nil, pv.remap(err)
	}
	if err := refuseUnsignedToolTurnConverse(pv.req, out, opts); err != nil {
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
	return chatToResponses(req, chat, meta, converseReasoning(resp))
}

// ConverseToResponsesStream translates ConverseStream events into
// Responses stream events (see OpenAIToResponsesStream).
type ConverseToResponsesStream struct {
	chat *ConverseToOpenAIStream
	*OpenAIToResponsesStream
	blocks map[int64]int // reasoning block index -> index in carried
}

// NewConverseToResponsesStream returns a stream translator for a response
// to req.
func NewConverseToResponsesStream(req *openai.ResponsesRequest, meta ResponseMeta) *ConverseToResponsesStream {
	meta.IncludeUsage = true
	return &ConverseToResponsesStream{chat: NewConverseToOpenAIStream(meta), OpenAIToResponsesStream: NewOpenAIToResponsesStream(req, meta), blocks: map[int64]int{}}
}

// Event translates one event into zero or more events. The metadata event,
// which carries usage, completes the response.
func (s *ConverseToResponsesStream) Event(e converse.Event) ([]openai.ResponseStreamEvent, error) {
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

// carry records the reasoning of e for encrypted_content, and reports
// whether e carried redacted reasoning.
func (s *ConverseToResponsesStream) carry(e converse.Event) (redacted bool) {
	if !s.encrypted || e.ContentBlockDelta == nil || e.ContentBlockDelta.Delta.ReasoningContent == nil {
		return false
	}
	idx, rd := e.ContentBlockDelta.ContentBlockIndex, e.ContentBlockDelta.Delta.ReasoningContent
	if rd.RedactedContent != nil {
		s.carried = append(s.carried, carriedReasoning{Redacted: base64.StdEncoding.EncodeToString(rd.RedactedContent)})
		delete(s.blocks, idx)
		return true
	}
	i, ok := s.blocks[idx]
	if !ok || i >= len(s.carried) {
		i = len(s.carried)
		s.blocks[idx] = i
		s.carried = append(s.carried, carriedReasoning{})
	}
	s.carried[i].Text += deref(rd.Text)
	s.carried[i].Signature += deref(rd.Signature)
	return false
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
