package interregion

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// The pool of HTTP/1.1 connections that carries forwards, streaming or not
// (docs/performance.md, "Non-streaming forwards over HTTP/1.1" and
// "Forwarded streams over the pool; memory per stream").
const (
	// answerConnsPerPeer bounds the forwards to one peer that go over
	// HTTP/1.1 at once, streams included, and so its HTTP/1.1 connections
	// (one request at a time each). Below it a forward takes an idle connection
	// or dials one; at it, forwards go to the HTTP/2 lanes, which
	// multiplex, instead of queueing or dialling: a burst of forwards costs
	// at most this many mutual TLS handshakes, never one per request (the
	// storm the lanes exist to avoid). A peer that speaks only HTTP/1.1
	// has no lanes: its overflow dials a connection each, as before. 64 is
	// twice the 32 requests in flight that the closed-loop bench holds;
	// each connection costs both ends a goroutine or two and a few tens of
	// KiB of buffers.
	answerConnsPerPeer = 64
	// streamConnsPerPeer is how many of those a peer's streams take at
	// most: a stream holds its connection to its end, and long streams
	// must not push every answer onto the lanes. The rest are left to
	// answers, which hold theirs for one round trip.
	streamConnsPerPeer = 48
	// answerIdleTimeout closes a connection of the pool that carried
	// nothing for this long: shorter than the link server's own idle
	// time-out (120s, internal/node/node.go), so that the source, not the
	// destination, normally closes an idle connection, and a request
	// seldom meets one the destination has just closed.
	answerIdleTimeout = 60 * time.Second
	// answerWriteBuffer is the write buffer of a pool connection: a
	// request up to this size (headers, envelope and body) leaves in one
	// write. net/http's default, 4 KiB, split a request with a few KiB of
	// prompt in two.
	answerWriteBuffer = 16 << 10
)

// answerPool is the bounded pool of HTTP/1.1 keep-alive connections to one
// peer that carries its forwards, streaming or not: net/http's HTTP/1.1
// client writes a request's headers and body in one write, and its server
// writes an answer with a known length in one write too, where HTTP/2 takes
// two each way (docs/performance.md, "System calls per request"); a
// stream's first event costs less on it too. A stream holds its connection
// until it ends, so the bound matters most for streams: the first
// streamConnsPerPeer at once take the pool, and the rest go to the lanes,
// whose one connection carries thousands of them, rather than each hold a
// TLS connection and its buffers at both ends; the pool's other
// connections stay free for answers.
//
// A connection goes back to the pool only after its response was read to
// its end: net/http closes a connection whose response body is closed
// before its end, so a stream the source abandons never leaves the rest of
// its bytes in front of the next response, and its closed connection is
// what tells the destination to cancel the stream's upstream call.
//
// A forward is never sent twice by the link itself. net/http's HTTP/1.1
// client sends a request again on a new connection only when nothing of
// it was written to the kept-alive connection it first took (a POST is not
// idempotent); a forward cut after it was written fails as the region
// unreachable, and the gateway fails over before the first byte, as for
// any lost connection. A retry with the same envelope would be refused by
// the replay cache of the replica that read the first copy, but not by
// another replica behind the same link address, which would serve it
// again.
type answerPool struct {
	tr       *http.Transport
	inFlight atomic.Int64
	// dial opens the TCP connection under a pool connection; tests count
	// the writes on it.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// newAnswerPool returns the pool to a peer; cfg is the client TLS
// configuration, nil for plain HTTP.
func newAnswerPool(opts ClientOptions, cfg *tls.Config) *answerPool {
	p := &answerPool{dial: linkDialer.DialContext}
	tr := &http.Transport{
		MaxIdleConns:        answerConnsPerPeer,
		MaxIdleConnsPerHost: answerConnsPerPeer,
		IdleConnTimeout:     answerIdleTimeout,
		// FirstByteTimeout is the lanes' (roundTripWithin), on the
		// client's clock.
		WriteBufferSize: answerWriteBuffer,
		// The link's answers are never compressed: net/http asks for
		// gzip otherwise, a header map and field per forward.
		DisableCompression: true,
		// A non-nil empty map: HTTP/1.1 only, whatever the peer offers.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	clk := clock.Or(opts.Clock)
	// ConnectTimeout bounds the connection and its handshake together, as
	// on the lanes.
	tr.DialContext = connectDialer(clk, opts.ConnectTimeout, p.dialTCP)
	if cfg != nil {
		cfg = cfg.Clone()
		// The destination negotiates HTTP/1.1 on these connections.
		cfg.NextProtos = []string{"http/1.1"}
		// A link request is read whole: records as large as TLS allows,
		// so that one write of a request is one record from the first
		// request on (Go sizes the first 128 KiB of a connection's
		// records to one TCP segment otherwise, a write each).
		cfg.DynamicRecordSizingDisabled = true
		tr.DialTLSContext = transportDialer(tlsDialer(clk, opts.ConnectTimeout, p.dialTCP, cfg))
	}
	p.tr = tr
	return p
}

// dialTCP dials with p.dial as it is at the time of the dial.
func (p *answerPool) dialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	return p.dial(ctx, network, addr)
}

// take counts a request in flight on the pool and reports true, or
// reports false when limit are.
func (p *answerPool) take(limit int64) bool {
	for {
		n := p.inFlight.Load()
		if n >= limit {
			return false
		}
		if p.inFlight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (p *answerPool) release() { p.inFlight.Add(-1) }

// pooled is the RoundTripper of a peer's forwards: the HTTP/1.1 pool
// while fewer than limit requests are in flight on it, the lanes beyond.
// The request counts as in flight until its response body is closed.
type pooled struct {
	l     *lanes
	limit int64
}

// RoundTrip implements http.RoundTripper.
func (p pooled) RoundTrip(req *http.Request) (*http.Response, error) {
	l := p.l
	if !l.pool.take(p.limit) {
		return l.RoundTrip(req)
	}
	resp, cancel, err := l.roundTripWithin(l.pool.tr, req, false)
	if err != nil {
		l.pool.release()
		return nil, err
	}
	resp.Body = l.heardBody(resp, &laneBody{ReadCloser: resp.Body, l: l, pool: l.pool, cancel: cancel})
	return resp, nil
}
