package gateway

import (
	"bufio"
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
		UserAgent: r.UserAgent(), SecureTransport: r.TLS != nil, Received: now, MaxQueueWait: MaxQueueWait(r.Header)}
}

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
func StartEventStream(w http.ResponseWriter) EventStream {
	hb := header.NewBatch(w.Header(), 3)
	hb.Set("Content-Type", "text/event-stream")
	hb.Set("Cache-Control", "no-cache")
	hb.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return EventStream{W: bufio.NewWriterSize(w, 4096), rc: http.NewResponseController(w)}
}

// EventStream is a server-sent event stream being written to a client.
type EventStream struct {
	// W buffers the events until a flush.
	W  *bufio.Writer
	rc *http.ResponseController
}

// Flush sends what is buffered; it reports false once the client is gone.
func (e EventStream) Flush() bool { return e.W.Flush() == nil && e.rc.Flush() == nil }

// FlushIdle flushes unless s's next event is already here
// ([inference.Ready]): events that arrived together leave in one write,
// and none waits for the next. It reports false once the client is gone
// (when it flushed).
func (e EventStream) FlushIdle(s inference.Stream) bool { return inference.Ready(s) || e.Flush() }
