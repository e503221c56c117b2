package node

import (
	"net/http"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// HTTP/2 on the client listener.
//
// Over TLS, the protocols come from ALPN (serverProtocols: h2 and
// http/1.1). In cleartext, the listener serves HTTP/1.1 and HTTP/2 with
// prior knowledge (RFC 9113 §3.3) on the same port: net/http tells them
// apart by the connection preface. Clients that speak only HTTP/2, such as
// the AWS SDK for JavaScript's Bedrock Runtime client (NodeHttp2Handler),
// need the second.
//
// The "Upgrade: h2c" mechanism of RFC 7540 §3.2 is not offered: RFC 9113
// deprecated it, net/http does not implement it, and golang.org/x/net's
// h2c package, which does, is deprecated too and hijacks the connection,
// which then escapes Server.Shutdown's drain and the listener's admission
// bookkeeping. A client that asks for the upgrade is answered over
// HTTP/1.1, as RFC 9113 lets a server do, and carries on in HTTP/1.1.

// cleartextProtocols returns the client listener's protocols without TLS:
// HTTP/1.1 and, unless GODEBUG has http2server=0, HTTP/2 with prior
// knowledge.
func cleartextProtocols() *http.Protocols {
	tlsProtos, _ := serverProtocols()
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(tlsProtos.HTTP2())
	return &p
}

// headerRequestIDCommon is the request id header that client libraries
// read (the OpenAI SDKs' requestID, for one).
const headerRequestIDCommon = "X-Request-Id"

// withRequestID gives every response of h an x-request-id equal to its
// x-meridian-request-id. Front ends set the latter on the responses they
// serve; a response without one (an unknown path, a refusal before a front
// end runs) gets a fresh id in both. A x-request-id that a handler or
// backend set is replaced, so that the two always agree.
func withRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &requestIDWriter{ResponseWriter: w}
		h.ServeHTTP(rw, r)
		rw.stamp() // a handler that wrote nothing is answered 200 by net/http
	})
}

// requestIDWriter stamps the request id headers before the header is
// written. http.ResponseController reaches the connection through Unwrap.
type requestIDWriter struct {
	http.ResponseWriter
	stamped bool
}

func (w *requestIDWriter) stamp() {
	if w.stamped {
		return
	}
	w.stamped = true
	h := w.ResponseWriter.Header()
	ids := h[gateway.HeaderRequestID]
	if len(ids) == 0 || ids[0] == "" {
		ids = []string{telemetry.NewRequestID()}
		h[gateway.HeaderRequestID] = ids
	}
	// The same value, without a slice of its own: capped at one element,
	// so that an Add to either header cannot change the other.
	h[headerRequestIDCommon] = ids[:1:1]
}

func (w *requestIDWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.stamp()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *requestIDWriter) Write(p []byte) (int, error) {
	w.stamp()
	return w.ResponseWriter.Write(p)
}

// FlushError flushes the header (stamped) and any buffered body.
func (w *requestIDWriter) FlushError() error {
	w.stamp()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher for handlers that assert it.
func (w *requestIDWriter) Flush() { w.FlushError() }

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *requestIDWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
