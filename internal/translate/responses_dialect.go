package translate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// The byte-level seam for a client speaking the OpenAI Responses API
// (POST /v1/responses) to a backend in any dialect. Decode errors of the
// client's body say dialect "openai".

// DecodeResponsesRequest decodes a Responses request body.
// Errors: *DecodeError.
func DecodeResponsesRequest(body []byte) (*openai.ResponsesRequest, error) {
	return decodeAs[openai.ResponsesRequest](OpenAI, body)
}

// ResponsesChatRequest returns the Chat Completions body that a front end
// routes for a Responses request (ResponsesToOpenAIRequest's translation),
// save that an assistant message may carry Claude's reasoning in
// reasoning_content (see responses_reasoning.go), which
// Request puts back for Converse and Anthropic and WithoutCarriedReasoning
// removes for OpenAI. With it comes
// path, which names a member of that body by its path in the Responses
// request ("messages[2].content[1].image_url.url" as
// "input[1].content[1].image_url"): a front end that routes the Chat body
// renames with it the field a refusal names, whichever step downstream
// (another dialect's translator, a region over the link) made it. path
// returns a name it cannot place unchanged. It holds the source paths of
// the messages only, not the body. Errors: *DecodeError,
// *UnsupportedError.
func ResponsesChatRequest(body []byte, model string, stream bool) ([]byte, func(string) string, error) {
	req, err := decodeResponsesFor(body, model, stream)
	if err != nil {
		return nil, nil, err
	}
	pv, err := responsesToChat(refuser(targetOpenAI), req)
	if err != nil {
		return nil, nil, err
	}
	b, err := json.Marshal(pv.req)
	if err != nil {
		return nil, nil, err
	}
	paths := &chatPivot{paths: pv.paths, calls: pv.calls, reasoning: pv.reasoning}
	return b, paths.path, nil
}

// decodeResponsesFor decodes a Responses request body with model and
// stream set as the gateway routes it.
func decodeResponsesFor(body []byte, model string, stream bool) (*openai.ResponsesRequest, error) {
	req, err := DecodeResponsesRequest(body)
	if err != nil {
		return nil, err
	}
	if req.Reasoning == nil || req.Reasoning.Effort == "" {
		if err := emptyEffort(body, "reasoning.effort"); err != nil {
			return nil, err
		}
	}
	req.Model, req.Stream = model, nil
	if stream {
		req.Stream = ptr(true)
	}
	return req, nil
}

// ResponsesResponse translates a non-streaming backend response body into
// a Responses response object for req (its settings are echoed).
// meta.ID should be a "resp_" id; meta.Created is created_at.
// Errors: *AnswerError (holding a *DecodeError or *UnsupportedError).
func ResponsesResponse(backend Dialect, req *openai.ResponsesRequest, body []byte, meta ResponseMeta) ([]byte, error) {
	var out *openai.Response
	var err error
	switch backend {
	case OpenAI:
		resp, derr := decodeAs[openai.ChatCompletion](OpenAI, body)
		if derr != nil {
			return nil, answerError(backend, targetResponses, derr)
		}
		out, err = OpenAIToResponsesResponse(req, resp, meta)
	case Converse:
		resp, derr := decodeAs[converse.Response](Converse, body)
		if derr != nil {
			return nil, answerError(backend, targetResponses, derr)
		}
		out, err = ConverseToResponsesResponse(req, resp, meta)
	case Anthropic:
		resp, derr := decodeAs[anthropic.Response](Anthropic, body)
		if derr != nil {
			return nil, answerError(backend, targetResponses, derr)
		}
		out, err = AnthropicToResponsesResponse(req, resp, meta)
	default:
		return nil, fmt.Errorf("translate: unknown dialect %v", backend)
	}
	if err != nil {
		return nil, answerError(backend, targetResponses, err)
	}
	return json.Marshal(out)
}

// ResponsesStream is a Stream whose client events are Responses stream
// events: Event.Type is the event name (the SSE "event:" line) and
// Event.Data its JSON. Besides Next and Finish it has Fail, which ends the
// client's stream after an error (a *StreamError from Next, or a backend
// failure after the first byte) with an error event and response.failed.
type ResponsesStream struct {
	backend Dialect
	s       *OpenAIToResponsesStream
	conv    *ConverseToResponsesStream
	anth    *AnthropicToResponsesStream
}

var _ Stream = (*ResponsesStream)(nil)

// NewResponsesStream returns a translator of backend stream events into
// Responses stream events for a response to req.
func NewResponsesStream(backend Dialect, req *openai.ResponsesRequest, meta ResponseMeta) (*ResponsesStream, error) {
	rs := &ResponsesStream{backend: backend}
	switch backend {
	case OpenAI:
		rs.s = NewOpenAIToResponsesStream(req, meta)
	case Converse:
		rs.conv = NewConverseToResponsesStream(req, meta)
		rs.s = rs.conv.OpenAIToResponsesStream
	case Anthropic:
		rs.anth = NewAnthropicToResponsesStream(req, meta)
		rs.s = rs.anth.OpenAIToResponsesStream
	default:
		return nil, fmt.Errorf("translate: no stream from %v to Responses", backend)
	}
	return rs, nil
}

// Next translates one backend event (framed as for NewStream).
func (rs *ResponsesStream) Next(e Event) ([]Event, error) {
	var evs []openai.ResponseStreamEvent
	var err error
	switch rs.backend {
	case OpenAI:
		c, derr := decodeAs[openai.ChatCompletionChunk](OpenAI, e.Data)
		if derr != nil {
			return nil, derr
		}
		evs, err = rs.s.Chunk(c)
	case Converse:
		ce, derr := converse.DecodeEvent(e.Type, e.Data)
		if derr != nil {
			return nil, &DecodeError{Dialect: Converse, Err: derr}
		}
		evs, err = rs.conv.Event(ce)
	default:
		ae, derr := decodeAs[anthropic.Event](Anthropic, e.Data)
		if derr != nil {
			return nil, derr
		}
		evs, err = rs.anth.Event(ae)
	}
	out, eerr := encodeResponses(evs)
	if err != nil {
		return out, responsesStreamError(err)
	}
	return out, eerr
}

// responsesStreamError names the client's API in a failure of this
// package's own on a Responses stream: the events go through Chat
// Completions' translators, whose reasons say what has no "Chat
// Completions form", but the client reads the Responses API.
func responsesStreamError(err error) error {
	var se *StreamError
	if !errors.As(err, &se) || !se.Own || !strings.Contains(se.Message, "Chat Completions form") {
		return err
	}
	return &StreamError{Type: se.Type, Message: strings.ReplaceAll(se.Message, "Chat Completions form", targetResponses+" form"), Own: true}
}

// Finish returns the events that end the stream (see
// OpenAIToResponsesStream.Finish).
func (rs *ResponsesStream) Finish() ([]Event, error) { return encodeResponses(rs.s.Finish()) }

// Fail returns the events that end the stream after err.
func (rs *ResponsesStream) Fail(err error) ([]Event, error) { return encodeResponses(rs.s.Fail(err)) }

func encodeResponses(evs []openai.ResponseStreamEvent) ([]Event, error) {
	out := make([]Event, 0, len(evs))
	for i := range evs {
		p, err := json.Marshal(&evs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, Event{Type: evs[i].Type, Data: p})
	}
	return out, nil
}
