// Package dialect converts between the inference dialects at the edges of
// the request path: the client's dialect a front end speaks and the
// backend's a deployment speaks. It wraps the pure translators of package
// translate with the inference package's types and errors, so front ends
// and backends share one mapping without front ends importing backends
// (docs/architecture.md, "Package map and layering"). It performs no I/O.
package dialect

import (
	"errors"
	"net/http"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// WireDialect returns the translator's name of d, or false for a dialect
// that is never translated (another family's InvokeModel body).
func WireDialect(d inference.Dialect) (translate.Dialect, bool) {
	switch d {
	case inference.DialectOpenAIChat:
		return translate.OpenAI, true
	case inference.DialectConverse:
		return translate.Converse, true
	case inference.DialectAnthropic:
		return translate.Anthropic, true
	}
	return 0, false
}

// maxRefusalMessage bounds a translator's refusal message.
const maxRefusalMessage = 1024

// TranslateError maps a translator's error to the client's 400: a field
// the target API cannot express is named, never dropped. The message
// quotes no caller text but the field's path, which UnsupportedError
// bounds, so its reason (fixed text saying what works) is kept whole up
// to maxRefusalMessage.
//
// An *translate.AnswerError (the backend's answer could not be shown, so
// the upstream was called and the request was not at fault) is not a 400:
// it is AnswerError's upstream error, whatever it wraps.
func TranslateError(err error) *inference.Error {
	var ae *translate.AnswerError
	if errors.As(err, &ae) {
		return AnswerError(err)
	}
	var ue *translate.UnsupportedError
	if errors.As(err, &ue) {
		return &inference.Error{Kind: inference.KindInvalidRequest, Code: "unsupported_field", Param: inference.Clip(ue.Field, inference.EchoLimit),
			Message: inference.Clip(ue.Error(), maxRefusalMessage), Err: err}
	}
	var ie *translate.InvalidError
	if errors.As(err, &ie) {
		return &inference.Error{Kind: inference.KindInvalidRequest, Code: "invalid_value", Param: inference.Clip(ie.Field, inference.EchoLimit),
			Message: inference.Clip(ie.Error(), 2*inference.EchoLimit), Err: err}
	}
	var de *translate.DecodeError
	if errors.As(err, &de) {
		return &inference.Error{Kind: inference.KindInvalidRequest, Param: de.Field(), Message: de.Error(), Err: err}
	}
	return &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: err}
}

// Refusal is TranslateError for a translation to a deployment's dialect,
// made after routing: a field the deployment cannot express (an
// *UnsupportedError) is marked Unfit, so the gateway tries another
// destination that may carry it and answers this 400 only when none can
// (inference.Error.Refused). A malformed body (*DecodeError) or a value
// the client's API does not define (*InvalidError, such as
// reasoning_effort "bogus") stays a plain 400, answered at once: no
// destination would take it.
func Refusal(err error) *inference.Error {
	e := TranslateError(err)
	var ue *translate.UnsupportedError
	if errors.As(err, &ue) {
		e.Unfit = true
	}
	return e
}

// Request returns req's body translated for a backend speaking
// target, with model set where the target body carries one.
func Request(req *inference.Request, target translate.Dialect, model string, stream bool, opts translate.Options) ([]byte, error) {
	from, ok := WireDialect(req.Dialect)
	if !ok {
		return nil, inference.Invalid("", "this InvokeModel body is not an Anthropic Messages body (it has no anthropic_version) and only an Amazon Bedrock deployment can serve it as is")
	}
	if target == translate.Converse && from == translate.OpenAI {
		// OpenAI's metadata, checked by OpenAI's limits at the peek,
		// becomes requestMetadata, which Bedrock holds to narrower ones:
		// refused here by name rather than by the upstream.
		if err := inference.ValidateMetadata(req.Metadata); err != nil {
			return nil, inference.Invalid("metadata", "metadata "+err.Error()+": a model served through the Bedrock Converse API takes it as requestMetadata, within Bedrock's limits")
		}
	}
	body, err := translate.Request(from, target, req.Body, model, stream, opts)
	if err != nil {
		return nil, Refusal(err)
	}
	return body, nil
}

// TranslateResponse returns a backend's answer (resp.Body, in
// resp.Dialect) in the client's dialect.
func TranslateResponse(resp *inference.Response, client inference.Dialect, meta translate.ResponseMeta) ([]byte, error) {
	from, ok1 := WireDialect(resp.Dialect)
	to, ok2 := WireDialect(client)
	if !ok1 || !ok2 {
		return nil, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: errors.New("answer in " + resp.Dialect.String() + " cannot be shown as " + client.String())}
	}
	out, err := translate.Response(from, to, resp.Body, meta)
	if err != nil {
		return nil, AnswerError(err)
	}
	return out, nil
}

// AnswerError maps a translator's error about an answer: the model said
// something the client's API cannot show.
func AnswerError(err error) *inference.Error {
	var ae *translate.AnswerError
	if errors.As(err, &ae) {
		// Its message names the deployment's API and the client's. The
		// same request would get the same answer again: the OpenAI and
		// Anthropic SDKs, which retry a 5xx, are told not to (each try
		// is sent upstream and charged).
		return &inference.Error{Kind: inference.KindUpstream, Message: inference.Clip(ae.Error(), maxRefusalMessage), Err: err,
			Header: http.Header{"X-Should-Retry": {"false"}}}
	}
	var se *translate.StreamError
	if errors.As(err, &se) {
		return &inference.Error{Kind: inference.KindUpstream, Message: MidAnswer(se), Err: err}
	}
	var ue *translate.UnsupportedError
	if errors.As(err, &ue) {
		return &inference.Error{Kind: inference.KindUpstream, Message: inference.Clip(ue.Error(), 2*inference.EchoLimit), Err: err}
	}
	return &inference.Error{Kind: inference.KindUpstream, Message: "the model sent an answer that cannot be translated", Err: err}
}

// MidAnswer is the client's message for an answer that failed part way:
// the translator's reason when the translator failed it (clipped), the
// error type only when the backend reported it (a backend's message may
// name things of its account).
func MidAnswer(se *translate.StreamError) string {
	if se.Translator() {
		return "the model failed mid-answer (" + se.Type + ": " + inference.Clip(se.Message, 200) + ")"
	}
	return "the model failed mid-answer (" + inference.Clip(se.Type, 64) + ")"
}

// StreamTranslator turns a backend's events into the client's dialect.
type StreamTranslator struct {
	tr   translate.Stream
	from inference.Dialect
}

// NewStreamTranslator returns a translator of events in dialect from into
// client's.
func NewStreamTranslator(from, client inference.Dialect, meta translate.ResponseMeta) (*StreamTranslator, error) {
	f, ok1 := WireDialect(from)
	c, ok2 := WireDialect(client)
	if !ok1 || !ok2 {
		return nil, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: errors.New("stream in " + from.String() + " cannot be shown as " + client.String())}
	}
	tr, err := translate.NewStream(f, c, meta)
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: err}
	}
	return &StreamTranslator{tr: tr, from: from}, nil
}

// Next translates one backend event into zero or more client events.
func (t *StreamTranslator) Next(ev *inference.Event) ([]translate.Event, error) {
	e := translate.Event{Type: ev.Name, Data: ev.Raw}
	if t.from == inference.DialectAnthropic {
		// InvokeModel chunks carry the Anthropic event's type inside.
		if f := inference.Field(ev.Raw, "type"); len(f) >= 2 {
			e.Type = string(f[1 : len(f)-1])
		}
	}
	out, err := t.tr.Next(e)
	if err != nil {
		return nil, AnswerError(err)
	}
	return out, nil
}

// Finish returns the events that end the client's stream when the
// backend's ended without them.
func (t *StreamTranslator) Finish() ([]translate.Event, error) {
	out, err := t.tr.Finish()
	if err != nil {
		return nil, AnswerError(err)
	}
	return out, nil
}

// CopyEvents copies events whose Data must outlive the next Recv.
func CopyEvents(dst []translate.Event, evs []translate.Event) []translate.Event {
	for _, e := range evs {
		dst = append(dst, translate.Event{Type: e.Type, Data: append([]byte(nil), e.Data...)})
	}
	return dst
}
