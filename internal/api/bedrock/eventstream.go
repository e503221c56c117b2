package bedrock

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// ContentTypeEventStream is the media type of AWS event-stream bodies.
const ContentTypeEventStream = "application/vnd.amazon.eventstream"

// eventWriter writes AWS event-stream frames (bedrock-api.md §2) and
// flushes each one, so that a client sees every event as it happens;
// or, relaying a stream (relaying), flushes before a Recv that may wait
// (flushIdle): events that arrived together leave in few writes, none
// waits for the next, and none waits behind more than
// inference.BurstMaxEvents-1 later ones (inference.Burst). The handler's
// return flushes what is left.
type eventWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	enc *eventstream.Encoder
	err error
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
	return &eventWriter{w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder()}
}

// event writes one event of the union member eventType with a JSON payload.
// It reports false once the client is gone; later calls do nothing.
func (ew *eventWriter) event(eventType string, payload any) bool {
	var m eventstream.Message
	m.Headers.Set(":event-type", eventstream.StringValue(eventType))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Headers.Set(":message-type", eventstream.StringValue("event"))
	return ew.write(m, payload)
}

// exception writes a modeled exception frame: the SDK returns it from the
// stream's Err() as the typed exception (bedrock-api.md §2).
func (ew *eventWriter) exception(member, message string) bool {
	var m eventstream.Message
	m.Headers.Set(":exception-type", eventstream.StringValue(member))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Headers.Set(":message-type", eventstream.StringValue("exception"))
	return ew.write(m, errorBody{Message: auth.Truncate(message, maxMessageBytes)})
}

// raw writes one event of the union member eventType whose JSON payload
// is already encoded (an upstream's event, passed through).
func (ew *eventWriter) raw(eventType string, payload []byte) bool {
	if ew.err != nil {
		return false
	}
	var m eventstream.Message
	m.Headers.Set(":event-type", eventstream.StringValue(eventType))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Headers.Set(":message-type", eventstream.StringValue("event"))
	m.Payload = payload
	if ew.err = ew.enc.Encode(ew.w, m); ew.err != nil {
		return false
	}
	return ew.flushEach()
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

func (ew *eventWriter) write(m eventstream.Message, payload any) bool {
	if ew.err != nil {
		return false
	}
	b, err := json.Marshal(payload)
	if err != nil {
		ew.err = err
		return false
	}
	m.Payload = b
	if ew.err = ew.enc.Encode(ew.w, m); ew.err != nil {
		return false
	}
	return ew.flushEach()
}
