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
}

// Stream delivers a completion incrementally. Recv returns io.EOF after the
// last event; any other error ends the stream (an *Error when it came from the
// backend or the link). Close releases the stream and may be called at any
// time, including concurrently with a blocked Recv, and more than once.
type Stream interface {
	Recv() (Event, error)
	Close() error
}
