package inference

// EventKind says what a stream event carries.
type EventKind uint8

// Stream event kinds, in the order a well-formed stream produces them:
// one Start, any number of Delta, one Stop, at most one Usage.
const (
	EventStart EventKind = iota + 1
	EventDelta
	EventStop
	EventUsage
)

// String returns the event kind's name.
func (k EventKind) String() string {
	switch k {
	case EventStart:
		return "start"
	case EventDelta:
		return "delta"
	case EventStop:
		return "stop"
	case EventUsage:
		return "usage"
	}
	return "unknown"
}

// Event is one element of a streamed completion.
//
// A backend that streams in the request's dialect sets Dialect, Name and
// Raw on every event (the upstream's event, byte for byte) and Kind from a
// cheap look at it: the front end writes Raw on without decoding it. Text
// is then empty and [Event.TextLen] measures the delta in Raw. A backend
// that re-encoded the request sets Kind and Text instead.
type Event struct {
	Kind EventKind `json:"kind"`
	// Text is the new text of a Delta event.
	Text string `json:"text,omitempty"`
	// StopReason is set on the Stop event.
	StopReason StopReason `json:"stopReason,omitempty"`
	// Usage is set on the Usage event.
	Usage *Usage `json:"usage,omitempty"`
	// ID and Model are set on the Start event when the backend names them.
	ID    string `json:"id,omitempty"`
	Model string `json:"model,omitempty"`
	// Dialect is the format of Raw.
	Dialect Dialect `json:"dialect,omitempty"`
	// Name is the event's type where the dialect names events outside the
	// payload (Converse's :event-type, e.g. "contentBlockDelta").
	Name string `json:"name,omitempty"`
	// Raw is the event's payload as the upstream sent it: the JSON of an
	// SSE data line or of an event-stream message. It is valid until the
	// next Recv.
	Raw []byte `json:"raw,omitempty"`
}

// TextLen returns the length of the text the event adds: len(Text), or the
// length of the delta text inside Raw, read without decoding it.
func (e *Event) TextLen() int {
	if e.Raw == nil {
		return len(e.Text)
	}
	return deltaTextLen(e.Dialect, e.Raw)
}

// DeltaText returns the text the event adds, decoding Raw when needed (for
// content recording only: it allocates).
func (e *Event) DeltaText() string {
	if e.Raw == nil {
		return e.Text
	}
	return deltaText(e.Dialect, e.Raw)
}

// Stream delivers a completion incrementally. Recv returns io.EOF after the
// last event; any other error ends the stream (an *Error when it came from the
// backend or the link). Close releases the stream and may be called at any
// time, including concurrently with a blocked Recv, and more than once.
type Stream interface {
	Recv() (Event, error)
	Close() error
}

// Readier is implemented by a Stream that can tell whether its next Recv
// returns at once: the next event (or the stream's end) is already read
// from the network, so Recv will not wait for it. A wrapper of a Stream
// implements it by asking the stream it wraps (Ready). Ready is called by
// the stream's reader, between its calls of Recv, never concurrently with
// one; it must not claim readiness when Recv could wait (an event held
// back for it would wait too).
type Readier interface {
	Ready() bool
}

// Ready reports whether s's next Recv returns at once; false when s cannot
// tell. A relay that writes a stream's events to a client flushes only
// before a Recv that may wait: events that arrived together leave together,
// in one write instead of one each (as a byte-copying proxy sends them),
// and none is held back waiting for one that has not arrived.
func Ready(s Stream) bool {
	r, ok := s.(Readier)
	return ok && r.Ready()
}
