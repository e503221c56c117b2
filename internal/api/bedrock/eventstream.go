package bedrock

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// ContentTypeEventStream is the media type of AWS event-stream bodies.
const ContentTypeEventStream = "application/vnd.amazon.eventstream"

// eventWriter writes AWS event-stream frames (docs/bedrock.md, "Event streams") and
// flushes each one, so that a client sees every event as it happens;
// or, relaying a stream (relaying), flushes before a Recv that may wait
// (flushIdle): events that arrived together leave in few writes, none
// waits for the next, and none waits behind more than
// inference.BurstMaxEvents-1 later ones (inference.Burst). The handler's
// return flushes what is left.
type eventWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	// frame is reused for every frame (appendFrame).
	frame []byte
	err   error
	// relaying is the stream being relayed, if any.
	relaying inference.Stream
	// burst bounds the events gathered into one write while relaying.
	burst inference.Burst
}

// flushIdle flushes what is written unless the relayed stream's next event
// is already here and the burst may gather more. It reports false once the
// client is gone.
func (ew *eventWriter) flushIdle() bool {
	if ew.err == nil && !ew.burst.Hold(ew.relaying) {
		ew.err = ew.rc.Flush()
	}
	return ew.err == nil
}

// flushEach flushes one event, unless a stream is relayed (flushIdle).
func (ew *eventWriter) flushEach() bool {
	if ew.relaying == nil {
		ew.err = ew.rc.Flush()
	} else {
		ew.burst.Wrote()
	}
	return ew.err == nil
}

func newEventWriter(w http.ResponseWriter) *eventWriter {
	return &eventWriter{w: w, rc: http.NewResponseController(w)}
}

// event writes one event of the union member eventType with a JSON payload.
// It reports false once the client is gone; later calls do nothing.
func (ew *eventWriter) event(eventType string, payload any) bool {
	return ew.write(eventHeaders(eventType), payload)
}

// eventHeaders are the headers of an event of the union member eventType.
func eventHeaders(eventType string) [3]frameHeader {
	return [3]frameHeader{{":event-type", eventType}, {":content-type", "application/json"}, {":message-type", "event"}}
}

// exception writes a modeled exception frame: the SDK returns it from the
// stream's Err() as the typed exception (docs/bedrock.md, "Event streams").
func (ew *eventWriter) exception(member, message string) bool {
	h := [3]frameHeader{{":exception-type", member}, {":content-type", "application/json"}, {":message-type", "exception"}}
	return ew.write(h, errorBody{Message: auth.Truncate(message, maxMessageBytes)})
}

// raw writes one event of the union member eventType whose JSON payload
// is already encoded (an upstream's event, passed through).
func (ew *eventWriter) raw(eventType string, payload []byte) bool {
	if ew.err != nil {
		return false
	}
	return ew.send(eventHeaders(eventType), payload)
}

// chunk writes an InvokeModelWithResponseStream chunk event whose bytes
// member is body (base64-encoded into buf, reused).
func (ew *eventWriter) chunk(buf *[]byte, body []byte) bool {
	b := append((*buf)[:0], `{"bytes":"`...)
	b = base64.StdEncoding.AppendEncode(b, body)
	b = append(b, `"}`...)
	*buf = b
	return ew.raw("chunk", b)
}

func (ew *eventWriter) write(headers [3]frameHeader, payload any) bool {
	if ew.err != nil {
		return false
	}
	b, err := json.Marshal(payload)
	if err != nil {
		ew.err = err
		return false
	}
	return ew.send(headers, b)
}

// send writes one frame, in one Write.
func (ew *eventWriter) send(headers [3]frameHeader, payload []byte) bool {
	if ew.frame, ew.err = appendFrame(ew.frame[:0], headers[:], payload); ew.err != nil {
		return false
	}
	if _, ew.err = ew.w.Write(ew.frame); ew.err != nil {
		return false
	}
	return ew.flushEach()
}
