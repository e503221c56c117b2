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
