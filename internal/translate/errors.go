package translate

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrUnsupported matches every *UnsupportedError with errors.Is.
var ErrUnsupported = errors.New("not supported by the target API")

// UnsupportedError reports a request member the target dialect cannot
// express. Field is the member's path in the source body, such as
// "logit_bias" or "messages[2].content[0].image_url.url". Its message is
// safe to return to the client: it holds no caller-supplied text other
// than member names (truncated).
type UnsupportedError struct {
	Field  string // path of the member in the source request
	Target string // "OpenAI Chat Completions", "Bedrock Converse" or "Anthropic Messages"
	Reason string // optional, fixed text saying why or what would work
}

func (e *UnsupportedError) Error() string {
	field := e.Field
	if len(field) > 200 {
		field = runePrefix(field, 200) + "..."
	}
	msg := fmt.Sprintf("%s: not supported when the model is served through the %s API", field, e.Target)
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	return msg
}

// Is reports whether target is ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// AnswerError reports a backend's answer that the client's API cannot
// show, or that does not decode as the backend's API's answer: the
// upstream was called and answered, so it is no mistake of the caller's
// request, and package dialect renders it as an upstream error (502 in
// the client's API's server-side shape), never as a 400 whose param would
// point into the caller's request. Err is the *UnsupportedError (its
// Field a path in the answer, such as
// "output.message.content[0].citationsContent") or *DecodeError.
type AnswerError struct {
	Backend string // the deployment's API: "Bedrock Converse", ...
	Client  string // the client's API: "OpenAI Chat Completions", "OpenAI Responses", ...
	Err     error
}

func (e *AnswerError) Error() string {
	head := "the model's answer, from a deployment served through the " + e.Backend + " API, "
	var ue *UnsupportedError
	if errors.As(e.Err, &ue) {
		field := ue.Field
		if len(field) > 200 {
			field = runePrefix(field, 200) + "..."
		}
		msg := head + "has " + field + ", which the " + e.Client + " API has no form for"
		if ue.Reason != "" {
			msg += " (" + ue.Reason + ")"
		}
		return msg
	}
	var de *DecodeError
	if errors.As(e.Err, &de) {
		return head + "does not decode as an answer of that API (" + de.Error() + ")"
	}
	return head + "cannot be translated to the " + e.Client + " API"
}

// Unwrap returns the translator's error.
func (e *AnswerError) Unwrap() error { return e.Err }

// apiName names d's API as messages do: "OpenAI Chat Completions",
// "Bedrock Converse" or "Anthropic Messages".
func apiName(d Dialect) string {
	switch d {
	case OpenAI:
		return targetOpenAI
	case Converse:
		return targetConverse
	case Anthropic:
		return targetAnthropic
	}
	return d.String()
}

// answerError wraps err, a translator's failure on an answer from backend
// for the client's API client, as an *AnswerError.
func answerError(backend Dialect, client string, err error) error {
	if err == nil {
		return nil
	}
	return &AnswerError{Backend: apiName(backend), Client: client, Err: err}
}

// StreamError is a backend's in-stream error event carried through a stream
// translator. The caller renders it in the client's dialect.
type StreamError struct {
	Type    string // backend's error type, such as "overloaded_error"
	Message string
	// Own is set only where this package fails the answer itself (types
	// "unsupported" and "protocol"), never from what a backend sent: a
	// backend's error event may carry any type, "unsupported" included.
	Own bool
}

func (e *StreamError) Error() string { return "backend stream error " + e.Type + ": " + e.Message }

// Translator reports whether the translator failed the answer (Own):
// Message is then its reason, written by this package and fit for the
// client. Otherwise the backend reported the error and Message is the
// backend's own, whatever its Type says.
func (e *StreamError) Translator() bool { return e.Own }

// failAnswer returns the error with which this package fails an answer
// part way: typ is "unsupported" (a part with no form in the client's
// dialect) or "protocol" (events out of order); msg is fixed text.
func failAnswer(typ, msg string) *StreamError {
	return &StreamError{Type: typ, Message: msg, Own: true}
}

const (
	targetOpenAI    = "OpenAI Chat Completions"
	targetConverse  = "Bedrock Converse"
	targetAnthropic = "Anthropic Messages"
	targetResponses = "OpenAI Responses"
)

// refuser builds UnsupportedErrors for one target.
type refuser string

func (r refuser) field(path string) error { return &UnsupportedError{Field: path, Target: string(r)} }

func (r refuser) because(path, reason string) error {
	return &UnsupportedError{Field: path, Target: string(r), Reason: reason}
}

// extra refuses the first unknown member of an object at path.
func (r refuser) extra(path string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	p := keys[0]
	if path != "" {
		p = path + "." + keys[0]
	}
	return r.because(p, "unknown member")
}

func at(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// runePrefix returns s's first n bytes (n < len(s)), cut back to the start
// of a character so that a message never ends in half of one (at most
// utf8.UTFMax-1 bytes back: input that is not UTF-8 is cut at n-3).
func runePrefix(s string, n int) string {
	cut := n
	for cut > n-utf8.UTFMax+1 && cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// ErrInvalid matches every *InvalidError with errors.Is.
var ErrInvalid = errors.New("invalid value")

// InvalidError reports a request member whose value the client's own API
// does not define, such as reasoning_effort "bogus", a thinking type or a
// tool_choice type outside the client's schema, or a carried reasoning
// value that does not decode: the client's mistake, which no destination
// would take. Unlike an *UnsupportedError (a valid value this target cannot
// express, which another destination may carry), the gateway answers it at
// once, without failover (package dialect's Refusal leaves it not Unfit).
// Its message holds no caller-supplied text other than member names
// (truncated).
type InvalidError struct {
	Field  string // path of the member in the source request
	Reason string // fixed text: the values the client's API defines, or why
}

func (e *InvalidError) Error() string {
	field := e.Field
	if len(field) > 200 {
		field = runePrefix(field, 200) + "..."
	}
	msg := field + ": invalid value"
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	return msg
}

// Is reports whether target is ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// invalid returns an *InvalidError for the member at path.
func invalid(path, reason string) error { return &InvalidError{Field: path, Reason: reason} }
