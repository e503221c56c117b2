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

// Dialect is an inference API wire format.
type Dialect int

// Dialects.
const (
	OpenAI    Dialect = iota + 1 // OpenAI Chat Completions
	Converse                     // Bedrock Converse and ConverseStream
	Anthropic                    // Anthropic Messages (/v1/messages or Bedrock InvokeModel)
)

func (d Dialect) String() string {
	switch d {
	case OpenAI:
		return "openai"
	case Converse:
		return "converse"
	case Anthropic:
		return "anthropic"
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

// ErrSameDialect is returned when asked to translate a dialect to itself:
// the gateway forwards those bytes unchanged.
var ErrSameDialect = errors.New("translate: same dialect; forward the bytes")

// DecodeError reports a body that does not decode as its dialect's schema.
// Its message names the dialect only, never body content.
type DecodeError struct {
	Dialect Dialect
	Err     error
}

func (e *DecodeError) Error() string {
	var te *json.UnmarshalTypeError
	if errors.As(e.Err, &te) && te.Field != "" && len(te.Field) <= 200 {
		// Value is "number 1e400" for a number: name its kind only, or a
		// number of a million digits would be echoed whole.
		kind, _, _ := strings.Cut(te.Value, " ")
		return "decode " + e.Dialect.String() + " body: " + te.Field + ": wrong type (" + kind + ")"
	}
	return "decode " + e.Dialect.String() + " body: malformed JSON"
}

// Field returns the path of the member whose value has the wrong type,
// such as "seed" or "inferenceConfig.maxTokens", or "" when the body is
// not JSON or the path is long.
func (e *DecodeError) Field() string {
	var te *json.UnmarshalTypeError
	if errors.As(e.Err, &te) && len(te.Field) <= 200 {
		return te.Field
	}
	return ""
}

// Unwrap returns the decoder's error, for logs.
func (e *DecodeError) Unwrap() error { return e.Err }

func decodeAs[T any](d Dialect, body []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(body, v); err != nil {
		return nil, &DecodeError{Dialect: d, Err: err}
	}
	return v, nil
}

// Request translates a client request body in dialect client into a body
// for a backend speaking dialect backend. model names the backend's model
// where the target body carries it (OpenAI, Anthropic /v1/messages);
// stream says whether the client asked for a stream (for Converse and
// Bedrock InvokeModel the operation says it, not the body).
// Errors: *DecodeError, *InvalidError, *UnsupportedError, ErrSameDialect.
func Request(client, backend Dialect, body []byte, model string, stream bool, opts Options) ([]byte, error) {
	var out any
	var err error
	switch {
	case client == backend:
		return nil, ErrSameDialect
	case client == OpenAI:
		req, derr := decodeAs[openai.ChatCompletionRequest](OpenAI, body)
		if derr != nil {
			return nil, derr
		}
		if req.ReasoningEffort == "" {
			if err := emptyEffort(body, "reasoning_effort"); err != nil {
				return nil, err
			}
		}
		if thinks(req) {
			// The rule an OpenAI deployment applies to the same body
			// (StripCarriedReasoning): a carried reasoning_content named
			// twice or in another case is refused by name, not read as
			// its last copy.
			if _, err := checkCarried(body); err != nil {
				return nil, err
			}
		}
		req.Model = model
		req.Stream = nil
		if stream {
			req.Stream = ptr(true)
		}
		// Claude's reasoning that a Responses request carries in
		// reasoning_content goes back in (responses_reasoning.go).
		if backend == Converse {
			var c *converse.Request
			if c, err = OpenAIToConverseRequest(req, opts); err == nil {
				err = restoreConverse(req, c)
			}
			if err == nil {
				err = refuseUnsignedToolTurnConverse(req, c, opts)
			}
			out = c
		} else {
			var a *anthropic.Request
			if a, err = OpenAIToAnthropicRequest(req, opts); err == nil {
				err = restoreAnthropic(req, a)
			}
			if err == nil {
				err = refuseUnsignedToolTurnAnthropic(req, a)
			}
			out = a
		}
	case client == Converse:
		req, derr := decodeAs[converse.Request](Converse, body)
		if derr != nil {
			return nil, derr
		}
		if backend == OpenAI {
			out, err = ConverseToOpenAIRequest(req, model, stream)
		} else {
			var a *anthropic.Request
			if a, err = ConverseToAnthropicRequest(req, opts); err == nil && !opts.AnthropicBedrock {
				a.Model = model
				if stream {
					a.Stream = ptr(true)
				}
			}
			out = a
		}
	case client == Anthropic:
		req, derr := decodeAs[anthropic.Request](Anthropic, body)
		if derr != nil {
			return nil, derr
		}
		req.Stream = nil
		if stream {
			req.Stream = ptr(true)
		}
		if backend == OpenAI {
			out, err = AnthropicToOpenAIRequest(req, model)
		} else {
			out, err = AnthropicToConverseRequest(req, opts)
		}
	default:
		return nil, fmt.Errorf("translate: unknown dialect %v", client)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// Response translates a non-streaming response body from a backend in
// dialect backend into dialect client. Errors: *AnswerError (holding the
// *DecodeError of an answer that does not decode, or the
// *UnsupportedError of one the client's dialect cannot show),
// ErrSameDialect.
func Response(backend, client Dialect, body []byte, meta ResponseMeta) ([]byte, error) {
	var out any
	var err error
	switch {
	case client == backend:
		return nil, ErrSameDialect
	case backend == OpenAI:
		resp, derr := decodeAs[openai.ChatCompletion](OpenAI, body)
		if derr != nil {
			return nil, answerError(backend, apiName(client), derr)
		}
		if client == Converse {
			out, err = OpenAIToConverseResponse(resp, meta)
		} else {
			out, err = OpenAIToAnthropicResponse(resp, meta)
		}
	case backend == Converse:
		resp, derr := decodeAs[converse.Response](Converse, body)
		if derr != nil {
			return nil, answerError(backend, apiName(client), derr)
		}
		if client == OpenAI {
			out, err = ConverseToOpenAIResponse(resp, meta)
		} else {
			out, err = ConverseToAnthropicResponse(resp, meta)
		}
	case backend == Anthropic:
		resp, derr := decodeAs[anthropic.Response](Anthropic, body)
		if derr != nil {
			return nil, answerError(backend, apiName(client), derr)
		}
		if client == OpenAI {
			out, err = AnthropicToOpenAIResponse(resp, meta)
		} else {
			out, err = AnthropicToConverseResponse(resp, meta)
		}
	default:
		return nil, fmt.Errorf("translate: unknown dialect %v", backend)
	}
	if err != nil {
		return nil, answerError(backend, apiName(client), err)
	}
	return json.Marshal(out)
}

// Event is one stream event as it travels on the wire, without framing:
//   - OpenAI: Type is empty and Data is one chunk (the data: of a server-sent
//     event); the terminating "data: [DONE]" is framing, not an Event.
//   - Anthropic: Type is the event name (message_start...) and Data the JSON.
//   - Converse: Type is the :event-type header and Data the frame payload.
type Event struct {
	Type string
	Data []byte
}

// Stream translates a backend's stream events into the client's dialect.
// Implementations are not safe for concurrent use; use one per stream.
type Stream interface {
	// Next translates one backend event into zero or more client events.
	// A backend error event yields a *StreamError.
	Next(e Event) ([]Event, error)
	// Finish returns the events that end the client's stream when the
	// backend's ended without them (OpenAI backends may omit usage).
	Finish() ([]Event, error)
}

// NewStream returns a translator of backend stream events into client
// events. Errors: ErrSameDialect, or an unknown dialect.
func NewStream(backend, client Dialect, meta ResponseMeta) (Stream, error) {
	switch {
	case client == backend:
		return nil, ErrSameDialect
	case backend == OpenAI && client == Converse:
		return &openAIStream{toConverse: NewOpenAIToConverseStream(meta)}, nil
	case backend == OpenAI && client == Anthropic:
		return &openAIStream{toAnthropic: NewOpenAIToAnthropicStream(meta)}, nil
	case backend == Converse && client == OpenAI:
		return &converseStream{toOpenAI: NewConverseToOpenAIStream(meta)}, nil
	case backend == Converse && client == Anthropic:
		return &converseStream{toAnthropic: NewConverseToAnthropicStream(meta)}, nil
	case backend == Anthropic && client == OpenAI:
		return &anthropicStream{toOpenAI: NewAnthropicToOpenAIStream(meta)}, nil
	case backend == Anthropic && client == Converse:
		return &anthropicStream{toConverse: NewAnthropicToConverseStream(meta)}, nil
	}
	return nil, fmt.Errorf("translate: no stream from %v to %v", backend, client)
}

func encodeConverse(evs []converse.Event) ([]Event, error) {
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		p, err := e.Payload()
		if err != nil {
			return nil, err
		}
		out = append(out, Event{Type: e.Type, Data: p})
	}
	return out, nil
}

func encodeAnthropic(evs []*anthropic.Event) ([]Event, error) {
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		p, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		out = append(out, Event{Type: e.Type, Data: p})
	}
	return out, nil
}

func encodeOpenAI(cs []openai.ChatCompletionChunk) ([]Event, error) {
	out := make([]Event, 0, len(cs))
	for i := range cs {
		p, err := json.Marshal(&cs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, Event{Data: p})
	}
	return out, nil
}

type openAIStream struct {
	toConverse  *OpenAIToConverseStream
	toAnthropic *OpenAIToAnthropicStream
}

func (s *openAIStream) Next(e Event) ([]Event, error) {
	c, err := decodeAs[openai.ChatCompletionChunk](OpenAI, e.Data)
	if err != nil {
		return nil, err
	}
	if s.toConverse != nil {
		evs, err := s.toConverse.Chunk(c)
		if err != nil {
			return nil, err
		}
		return encodeConverse(evs)
	}
	evs, err := s.toAnthropic.Chunk(c)
	if err != nil {
		return nil, err
	}
	return encodeAnthropic(evs)
}

func (s *openAIStream) Finish() ([]Event, error) {
	if s.toConverse != nil {
		return encodeConverse(s.toConverse.Finish())
	}
	return encodeAnthropic(s.toAnthropic.Finish())
}

type converseStream struct {
	toOpenAI    *ConverseToOpenAIStream
	toAnthropic *ConverseToAnthropicStream
}

func (s *converseStream) Next(e Event) ([]Event, error) {
	ce, err := converse.DecodeEvent(e.Type, e.Data)
	var ue *converse.UnknownEventError
	switch {
	case errors.As(err, &ue):
		// An event of a type added after this package: the stream's union
		// grows as Anthropic's does, whose clients are told to skip event
		// types they do not know. Content arrives in the known events.
		return nil, nil
	case err != nil:
		return nil, &DecodeError{Dialect: Converse, Err: err}
	}
	if s.toOpenAI != nil {
		cs, err := s.toOpenAI.Event(ce)
		if err != nil {
			return nil, err
		}
		return encodeOpenAI(cs)
	}
	evs, err := s.toAnthropic.Event(ce)
	if err != nil {
		return nil, err
	}
	return encodeAnthropic(evs)
}

func (s *converseStream) Finish() ([]Event, error) { return nil, nil }

type anthropicStream struct {
	toOpenAI   *AnthropicToOpenAIStream
	toConverse *AnthropicToConverseStream
}

func (s *anthropicStream) Next(e Event) ([]Event, error) {
	ae, err := decodeAs[anthropic.Event](Anthropic, e.Data)
	if err != nil {
		return nil, err
	}
	if s.toOpenAI != nil {
		cs, err := s.toOpenAI.Event(ae)
		if err != nil {
			return nil, err
		}
		return encodeOpenAI(cs)
	}
	evs, err := s.toConverse.Event(ae)
	if err != nil {
		return nil, err
	}
	return encodeConverse(evs)
}

func (s *anthropicStream) Finish() ([]Event, error) { return nil, nil }
