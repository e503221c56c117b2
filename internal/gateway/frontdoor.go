package gateway

import (
	"bufio"
	"io"
	"net/http"
	"time"

	"github.com/meridian-gateway/meridian/internal/header"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// NewCall returns the call of an inference request r that a front end
// received at now, for operation op: a new request id, the client's
// address and user agent, whether the connection used TLS, and the wait
// budget the caller asked for ([MaxQueueWait]). The front end fills in
// the principal, the request and whatever its API adds (service tier,
// receipt).
func NewCall(r *http.Request, op string, now time.Time) *Call {
	return &Call{RequestID: telemetry.NewRequestID(), Operation: op, SourceIP: ClientIP(r),
		UserAgent: UserAgent(r), SecureTransport: r.TLS != nil, Received: now, MaxQueueWait: MaxQueueWait(r.Header)}
}

// MaxUserAgent bounds the bytes of a caller's User-Agent that a request's
// record (its audit event, logs, the console) keeps: anything longer is
// clipped with a marker saying how much was left out, so that a header of
// the listener's full size cannot grow the audit trail by megabytes a
// request, an anonymous one included (JSON escaping can make each byte
// six).
const MaxUserAgent = 512

// UserAgent returns r's User-Agent as a request's record keeps it
// ([MaxUserAgent]).
func UserAgent(r *http.Request) string { return inference.Clip(r.UserAgent(), MaxUserAgent) }

// ReadAuthenticated authenticates r with g's [Gateway.Authenticator] (API
// key or client certificate) and sets call.Principal, then reads the body
// with [ReadBody]. The body is read only once the caller is known: the
// listener's limits on unauthenticated work rely on that order. A caller
// that does not authenticate is KindUnauthenticated, with the
// authenticator's message; the front end renders the error in its API's
// shape (and records it with [Gateway.Reject]).
func (g *Gateway) ReadAuthenticated(w http.ResponseWriter, r *http.Request, call *Call, limit int64) ([]byte, *inference.Error) {
	if err := g.Authenticate(r, call); err != nil {
		return nil, err
	}
	return ReadBody(w, r, limit)
}

// Authenticate authenticates r with g's [Gateway.Authenticator] and sets
// call.Principal, for a request without a body (a listing); a caller that
// does not authenticate is KindUnauthenticated, with the authenticator's
// message.
func (g *Gateway) Authenticate(r *http.Request, call *Call) *inference.Error {
	p, err := g.Authenticator().Request(r)
	if err != nil {
		return &inference.Error{Kind: inference.KindUnauthenticated, Message: err.Error()}
	}
	call.Principal = p
	return nil
}

// SetOutcomeHeaders sets on h the headers of a served request's answer:
// the route's (request id, regions, profile, route; invariant 5) and the
// ones the gateway adds to the outcome (rate limits, service tier).
func SetOutcomeHeaders(h http.Header, out *Outcome) {
	out.Route.SetHeaders(h)
	for k, v := range out.Header {
		h[k] = v
	}
}

// StartEventStream answers 200 with the headers of a server-sent event
// stream, unbuffered by proxies, and returns the writer of its events: a
// front end writes them to its W as they come and calls FlushIdle before
// each Recv of the stream it relays, Flush after its last event.
func StartEventStream(w http.ResponseWriter) *EventStream {
	hb := header.NewBatch(w.Header(), 3)
	hb.Set("Content-Type", "text/event-stream")
	hb.Set("Cache-Control", "no-cache")
	hb.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The writer lives in the EventStream: one allocation for both.
	e := &EventStream{rc: http.NewResponseController(w)}
	e.through.w = w
	e.bw = *bufio.NewWriterSize(&e.through, 4096)
	e.W = &e.bw
	return e
}

// EventStream is a server-sent event stream being written to a client.
type EventStream struct {
	// W buffers the events until a flush.
	W  *bufio.Writer
	bw bufio.Writer
	rc *http.ResponseController
	// through counts the bytes W passed on to the response (an event
	// larger than W's buffer goes straight through), so that the bytes
	// written so far are through.n+W.Buffered(); seen is that count at
	// the last FlushIdle: FlushIdle counts an event written when it grew.
	through countingWriter
	seen    int64
	burst   inference.Burst
}

// Flush sends what is buffered; it reports false once the client is gone.
func (e *EventStream) Flush() bool { return e.W.Flush() == nil && e.rc.Flush() == nil }

// FlushIdle flushes unless s's next event is already here
// ([inference.Ready]) and the burst being relayed may gather more
// ([inference.Burst]): events that arrived together leave in few writes,
// none waits for the next, and none waits behind more than
// [inference.BurstMaxEvents]-1 later ones (counted per Recv: one that
// writes several events counts once). It reports false once the client is
// gone (when it flushed). W must stay the writer StartEventStream made: the
// count reads what went through it.
func (e *EventStream) FlushIdle(s inference.Stream) bool {
	if n := e.through.n + int64(e.W.Buffered()); n != e.seen {
		e.seen = n
		e.burst.Wrote()
	}
	return e.burst.Hold(s) || e.Flush()
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
