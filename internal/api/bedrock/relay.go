package bedrock

import (
	"github.com/meridian-gateway/meridian/internal/dialect"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// relay is what both stream operations do with a backend's events that
// carry a body: those of another dialect go through a translator into the
// client's, and those that end the stream are held until the request is
// recorded (invariant 4), in order. It writes nothing itself: each
// operation frames the events its own way.
type relay struct {
	// client is the dialect of the operation's events.
	client inference.Dialect
	// meta gives the translator's response fields; it is called once, on
	// the first event to translate.
	meta func() translate.ResponseMeta
	tr   *dialect.StreamTranslator
	held []translate.Event
	// passed is set once an event with a body went through: the stream is
	// then the backend's, not synthesized.
	passed bool
}

// translate returns ev in the client's dialect, to be sent now, or holds
// the result (nil) when ev ends the stream or follows one that did.
func (rl *relay) translate(ev *inference.Event) ([]translate.Event, error) {
	rl.passed = true
	if rl.tr == nil {
		tr, err := dialect.NewStreamTranslator(ev.Dialect, rl.client, rl.meta())
		if err != nil {
			return nil, err
		}
		rl.tr = tr
	}
	outs, err := rl.tr.Next(ev)
	if err != nil {
		return nil, err
	}
	if ending(ev) || rl.held != nil {
		rl.held = dialect.CopyEvents(rl.held, outs)
		return nil, nil
	}
	return outs, nil
}

// hold keeps a copy of a passed-through event to send after the record.
func (rl *relay) hold(name string, raw []byte) {
	rl.held = append(rl.held, translate.Event{Type: name, Data: append([]byte(nil), raw...)})
}

// finish returns the held events, followed by those the translator adds
// to end the client's stream when the backend's ended without them.
func (rl *relay) finish() ([]translate.Event, error) {
	if rl.tr == nil {
		return rl.held, nil
	}
	fin, err := rl.tr.Finish()
	if err != nil {
		return nil, err
	}
	return append(rl.held, fin...), nil
}

// ending reports whether ev ends a stream (stop reason or usage): such
// events wait until the request is recorded.
func ending(ev *inference.Event) bool {
	return ev.Kind == inference.EventStop || ev.Kind == inference.EventUsage
}

// fail reports err in the stream as the exception of the operation's
// union (invoke: InvokeModelWithResponseStream's): after the first byte an
// error is reported in-stream, never retried (invariant 3).
func (ew *eventWriter) fail(err error, invoke bool) {
	e := inference.AsError(err)
	ew.exception(streamException(e, invoke), e.Message)
}
