package interregion

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/pki"
)

// The link's HTTP/2 settings. Both ends are Meridian nodes, so the server's
// settings and the client's pooling are chosen together (docs/performance.md,
// "The link's HTTP/2 settings").
const (
	// MaxStreamsPerConn is the link server's SETTINGS_MAX_CONCURRENT_STREAMS.
	// net/http's default (250) made a source with more forwarded streams
	// than that open a connection per waiting request, all at once: a storm
	// of mutual TLS handshakes that starved both nodes' CPUs. A stream slot
	// costs nothing until it is used; the destination's admission limits
	// bound the streams it serves.
	MaxStreamsPerConn = 4096
	// streamsPerLane is how many requests the client puts on one
	// connection before it opens the next (up to maxLanes). It is the
	// stream limit net/http's HTTP/2 client assumes until the server's
	// SETTINGS arrive: above it, requests sent on a connection just opened
	// would each dial another. A few connections also spread a busy link
	// over the CPUs (an HTTP/2 server writes each connection's frames from
	// one goroutine).
	streamsPerLane = 100
	// maxLanes is how many data connections the client keeps to one peer.
	// Beyond maxLanes×streamsPerLane concurrent requests, each goes to the
	// least busy one (the server allows MaxStreamsPerConn on each).
	maxLanes = 16
	// maxReadFrameSize is the largest frame either end reads: HTTP/2's
	// minimum. Stream events are small; a larger frame only grows the
	// framer's read buffer, which every connection holds.
	maxReadFrameSize = 16 << 10
	// serverReceiveBufferPerStream and clientReceiveBufferPerStream are
	// the flow-control windows of one stream: how much may be in flight
	// unread. They bound what a stream can buffer, not what it allocates
	// up front. The destination reads a forwarded body at once, so its
	// window only sets the upload rate over a long round trip (1 MiB per
	// RTT); the source's window is what a slow client, reading a stream
	// slower than it is generated, can pin per stream.
	serverReceiveBufferPerStream = 1 << 20
	clientReceiveBufferPerStream = 256 << 10
	// maxReceiveBufferPerConnection is the window of a whole connection.
	maxReceiveBufferPerConnection = 4<<20 - 1
	// sendPingTimeout is how long a connection may stay silent before a
	// PING checks it; pingTimeout is how long the answer may take before
	// the connection is closed (its streams fail, and new ones go to a new
	// connection).
	sendPingTimeout = 15 * time.Second
	pingTimeout     = 10 * time.Second
)

// ServerHTTP2Config returns the HTTP/2 settings of the link's server. The
// node sets them as its link listener's http.Server.HTTP2.
func ServerHTTP2Config() *http.HTTP2Config {
	return &http.HTTP2Config{
		MaxConcurrentStreams:          MaxStreamsPerConn,
		MaxReadFrameSize:              maxReadFrameSize,
		MaxReceiveBufferPerStream:     serverReceiveBufferPerStream,
		MaxReceiveBufferPerConnection: maxReceiveBufferPerConnection,
		SendPingTimeout:               sendPingTimeout,
		PingTimeout:                   pingTimeout,
	}
}

// clientHTTP2Config returns the HTTP/2 settings of the link's client.
func clientHTTP2Config() *http.HTTP2Config {
	return &http.HTTP2Config{
		MaxReadFrameSize:              maxReadFrameSize,
		MaxReceiveBufferPerStream:     clientReceiveBufferPerStream,
		MaxReceiveBufferPerConnection: maxReceiveBufferPerConnection,
		SendPingTimeout:               sendPingTimeout,
		PingTimeout:                   pingTimeout,
	}
}

// lanes is the link client's RoundTripper to one peer: up to maxLanes
// transports, each with at most one connection, filled in order. A request
// goes to the first lane with fewer than streamsPerLane requests in flight
// (or, all being full, the least busy), so connections are opened one at a
// time as the load grows, never one per waiting request: with net/http's
// own pooling, requests beyond a connection's stream limit each dialled a
// connection of their own at once, and the handshakes starved both nodes.
//
// A peer that answers in HTTP/1.1 (its link listener does not offer h2:
// GODEBUG=http2server=0, or plain HTTP on an insecure_dev_link) gets a
// connection per request from http1 instead, as HTTP/1.1 needs.
type lanes struct {
	newTransport func(*lane) *http.Transport
	http1        *http.Transport
	// pool carries forwards, answers and streams (up to
	// streamConnsPerPeer of them), while it has a connection free.
	pool *answerPool
	// useHTTP1 is set once the peer answered in HTTP/1.1.
	useHTTP1 atomic.Bool
	// heard, if set, receives the time (Unix nanoseconds) of each
	// response and each read of a response body, by clock.
	heard *atomic.Int64
	clock clock.Clock
	// firstByte is ClientOptions.FirstByteTimeout, on clock.
	firstByte time.Duration
	// waiting, if set, is called by a request about to wait for its
	// lane's first connection (tests).
	waiting func()
	mu      sync.Mutex
	lanes   []*lane
}

// newLanes returns the data lanes to a peer; cfg is the client TLS
// configuration, nil for plain HTTP.
func newLanes(opts ClientOptions, cfg *tls.Config, heard *atomic.Int64) *lanes {
	l := &lanes{http1: newTransport(opts, cfg, false), pool: newAnswerPool(opts, cfg), heard: heard, clock: clock.Or(opts.Clock), firstByte: opts.FirstByteTimeout}
	l.newTransport = func(ln *lane) *http.Transport { return l.laneTransport(opts, cfg, ln) }
	l.useHTTP1.Store(cfg == nil)
	return l
}

// laneTransport returns ln's transport: at most one connection, whose
// handshake tells whether the peer speaks HTTP/2.
func (l *lanes) laneTransport(opts ClientOptions, cfg *tls.Config, ln *lane) *http.Transport {
	tr := newTransport(opts, cfg, true)
	if cfg == nil {
		return tr // plain HTTP: HTTP/1.1 from the start (newLanes)
	}
	dial := tlsDialer(l.clock, opts.ConnectTimeout, linkDialer.DialContext, offerHTTP2(cfg))
	tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		tc, err := dial(ctx, network, addr)
		var c net.Conn
		if err == nil {
			c = tc
			if tc.ConnectionState().NegotiatedProtocol != "h2" {
				l.useHTTP1.Store(true)
			}
		}
		if err != nil {
			// The lane's waiting requests fail with this error rather
			// than each dial again in turn (a peer that does not answer
			// would hold the last of them ConnectTimeout times each).
			l.drop(ln)
		}
		ln.open(err)
		return c, err
	}
	return tr
}

type lane struct {
	tr       *http.Transport
	inFlight atomic.Int64
	// opened is closed once the lane's first connection is set up (or
	// its first request failed without one): until then the protocol of
	// the connection is unknown, and the lane's other requests wait rather
	// than queue behind what could be an HTTP/1.1 connection.
	opened chan struct{}
	once   sync.Once
	// dialErr is the error of the lane's first connection, if it failed;
	// set before opened is closed.
	dialErr error
}

// open closes opened once, with err the first connection's error.
func (ln *lane) open(err error) {
	ln.once.Do(func() {
		ln.dialErr = err
		close(ln.opened)
	})
}

// RoundTrip implements http.RoundTripper. The request counts as in flight
// until its response body is closed.
func (l *lanes) RoundTrip(req *http.Request) (*http.Response, error) {
	if l.useHTTP1.Load() {
		resp, cancel, err := l.roundTripWithin(l.http1, req, false)
		if err != nil {
			return nil, err
		}
		resp.Body = l.heardBody(resp, &laneBody{ReadCloser: resp.Body, l: l, cancel: cancel})
		return resp, nil
	}
	ln, first := l.pick()
	if !first {
		if l.waiting != nil {
			l.waiting()
		}
		select {
		case <-ln.opened:
		case <-req.Context().Done():
			ln.inFlight.Add(-1)
			return nil, req.Context().Err()
		}
		if ln.dialErr != nil {
			ln.inFlight.Add(-1)
			return nil, ln.dialErr
		}
		if l.useHTTP1.Load() {
			// A lane holds one connection, which HTTP/1.1 would give
			// to one request at a time.
			ln.inFlight.Add(-1)
			return l.RoundTrip(req)
		}
	}
	resp, cancel, err := l.roundTripWithin(ln.tr, req, true)
	if first {
		ln.open(nil) // the request ended before a connection was dialled
	}
	if err != nil {
		ln.inFlight.Add(-1)
		return nil, err
	}
	if resp.ProtoMajor < 2 {
		l.useHTTP1.Store(true)
	}
	resp.Body = l.heardBody(resp, &laneBody{ReadCloser: resp.Body, lane: ln, l: l, cancel: cancel})
	return resp, nil
}

// pick returns the lane for a new request, with the request counted, and
// whether it is the lane's first.
func (l *lanes) pick() (*lane, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var least *lane
	for _, ln := range l.lanes {
		n := ln.inFlight.Load()
		if n < streamsPerLane {
			ln.inFlight.Add(1)
			return ln, false
		}
		if least == nil || n < least.inFlight.Load() {
			least = ln
		}
	}
	if len(l.lanes) < maxLanes {
		ln := &lane{opened: make(chan struct{})}
		ln.tr = l.newTransport(ln)
		l.lanes = append(l.lanes, ln)
		ln.inFlight.Add(1)
		return ln, true
	}
	least.inFlight.Add(1)
	return least, false
}

// heardBody counts resp as the peer heard, and its body's reads too,
// unless the link refused it (HeaderLinkRefused: a connection whose
// certificate expired): such answers keep coming while nothing is
// served, and must not keep the peer up. It returns b.
func (l *lanes) heardBody(resp *http.Response, b *laneBody) *laneBody {
	if resp.Header.Get(HeaderLinkRefused) != "" {
		b.refused = true
		return b
	}
	l.hear()
	return b
}

func (l *lanes) hear() {
	if l.heard != nil {
		l.heard.Store(l.clock.Now().UnixNano())
	}
}

// drop removes ln from the lanes, so that the next request opens a new one.
func (l *lanes) drop(ln *lane) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lanes = slices.DeleteFunc(l.lanes, func(x *lane) bool { return x == ln })
}

// CloseIdleConnections closes every lane's idle connection, and the idle
// connections of the HTTP/1.1 transports.
func (l *lanes) CloseIdleConnections() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range l.lanes {
		ln.tr.CloseIdleConnections()
	}
	l.http1.CloseIdleConnections()
	l.pool.tr.CloseIdleConnections()
}

// laneBody releases its lane's or pool's slot (if any) once, when closed,
// and ends its request's context.
type laneBody struct {
	io.ReadCloser
	lane   *lane
	pool   *answerPool
	l      *lanes
	cancel context.CancelFunc
	once   sync.Once
	// eof is set once a read returned the body's end: net/http has then
	// given the connection back (HTTP/1.1) or ended the stream (HTTP/2).
	eof atomic.Bool
	// refused is set for an answer the link refused (heardBody): its
	// reads do not count as the peer heard.
	refused bool
}

func (b *laneBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 && !b.refused {
		b.l.hear()
	}
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

// atEOF reports whether a read returned the body's end.
func (b *laneBody) atEOF() bool { return b.eof.Load() }

func (b *laneBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() {
		if b.lane != nil {
			b.lane.inFlight.Add(-1)
		}
		if b.pool != nil {
			b.pool.release()
		}
		if b.cancel != nil {
			b.cancel()
		}
	})
	return err
}

// newTransport returns a transport to one peer. cfg is the client TLS
// configuration, nil for plain HTTP (insecure_dev_link only). A oneConn
// transport keeps at most one connection (a lane).
func newTransport(opts ClientOptions, cfg *tls.Config, oneConn bool) *http.Transport {
	clk := clock.Or(opts.Clock)
	// ConnectTimeout bounds the dial and the TLS handshake together, on
	// the client's clock (connectWithin); FirstByteTimeout is the lanes'
	// (roundTripWithin).
	tr := &http.Transport{
		DialContext:         connectDialer(clk, opts.ConnectTimeout, linkDialer.DialContext),
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
		// The link's answers are never compressed: net/http asks for
		// gzip otherwise, a header field per forward.
		DisableCompression: true,
		HTTP2:              clientHTTP2Config(),
		// net/http adds its ALPN protocols to the configuration: each
		// transport gets a copy of its own.
		TLSClientConfig: cfg.Clone(),
	}
	if cfg != nil {
		// The client runs TLS over the connection itself, as the lanes
		// do, so that the clock bounds the handshake: the linkConn
		// under it holds its session key. It offers HTTP/2 as net/http
		// would (HTTP/2 when the peer accepts it, HTTP/1.1 otherwise).
		tr.DialTLSContext = transportDialer(tlsDialer(clk, opts.ConnectTimeout, linkDialer.DialContext, offerHTTP2(cfg)))
	}
	if oneConn {
		// Requests that arrive while the lane's connection is being set
		// up wait for it instead of each dialling one.
		tr.MaxConnsPerHost = 1
	}
	return tr
}

// verdict is what one attempt to reach a peer says about its health.
type verdict int

const (
	// answered: the peer answered (a probe, or a forward's response).
	answered verdict = iota
	// silent: no answer in time. The peer may be busy or gone; it is
	// down once it has been silent for ClientOptions.DownAfter.
	silent
	// refused: the peer refused the connection or answered a probe with
	// an error. Two in a row mark it down.
	refused
)

func (v verdict) String() string {
	switch v {
	case answered:
		return "answered"
	case silent:
		return "silent"
	case refused:
		return "refused"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// verdictOf classifies a failed attempt to reach a peer: a refused or
// unreachable address is definite; anything else (a timeout, a handshake
// that did not finish, a connection cut) is silence, which a busy peer
// also produces.
// errLinkRefused is the cause a forward's refusal by the peer's link
// (HeaderLinkRefused) is recorded with: a refused verdict.
var errLinkRefused = errors.New("the peer's link refused the connection: a link certificate expired")

func verdictOf(err error) verdict {
	if err == errLinkRefused {
		return refused
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return refused
	}
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		return refused
	}
	// The link's own verification (pki's VerifyConnection) refused the
	// peer's certificate: expired, untrusted, another region's.
	var peerErr *pki.PeerError
	if errors.As(err, &peerErr) {
		return refused
	}
	return silent
}
