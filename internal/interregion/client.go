package interregion

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gateway/meridian/internal/bufgrow"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/detach"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/header"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/receipt"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// Signer seals a forwarded request's envelope onto it. It returns the
// request to send: req, or a copy of it with another context.
type Signer interface {
	SignForwarded(req *http.Request, e envelope.Envelope) (*http.Request, error)
}

// Peer is another region's node as the link reaches it.
type Peer struct {
	Region string
	// Addr is the peer's link address (host:port).
	Addr string
}

// ClientOptions configure the link client.
type ClientOptions struct {
	// Region is this node's region.
	Region string
	Peers  []Peer
	// TLS returns the client TLS config for dialling region; nil means
	// plain HTTP (insecure_dev_link only).
	TLS func(region string) *tls.Config
	// Signer, if set, signs every forwarded request's envelope. If nil
	// (insecure_dev_link only), the envelope is sent unsigned.
	Signer Signer
	// Clock dates envelopes, times probes, tells how long a peer has
	// been silent and runs the forwards' ConnectTimeout and
	// FirstByteTimeout. If nil, clock.Wall.
	Clock clock.Clock
	// ConnectTimeout bounds connection set-up (the dial and the TLS
	// handshake together). If zero, 3s.
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the wait for the peer's response headers,
	// from the moment the request is written; a forward that timed out
	// is not sent again. If zero, 60s.
	FirstByteTimeout time.Duration
	// ProbeInterval is how often peers are probed. If zero, 1s.
	ProbeInterval time.Duration
	// DownAfter marks a peer down when it has not answered for this long.
	// If zero, 3s.
	DownAfter time.Duration
	// OnState receives each peer's published state (load exchange) and
	// the round trip of the probe that fetched it.
	OnState func(region string, state json.RawMessage, rtt time.Duration)
	Metrics *telemetry.Metrics
	Logger  *slog.Logger
}

// Client forwards jobs to peers and tracks their health. It implements
// gateway.Link and is safe for concurrent use.
type Client struct {
	opts  ClientOptions
	peers map[string]*peer
	// drains owns the reads of ended forwarded streams' bodies to their
	// ends (remoteStream.drain), which outlive the streams' Close.
	drains detach.Group
}

type peer struct {
	Peer
	base string
	// invokeURL is base+PathInvoke, made once.
	invokeURL string
	// pooled sends non-streaming forwards, and streams streams, over the
	// HTTP/1.1 pool, overflowing to the data lanes (answerPool); streams
	// take fewer of its connections (streamConnsPerPeer). control carries
	// probes and pushes over a connection of its own, so that they never
	// wait behind busy data connections.
	//
	// Forwards go to the transport's RoundTrip, not through an
	// http.Client: a forward follows no redirect (a peer answering one is
	// a peer answering a status other than 200), and http.Client.Do copied
	// every forward's header map, for the redirects it would follow.
	pooled  http.RoundTripper
	streams http.RoundTripper
	lanes   *lanes
	control *http.Client
	ctl     *http.Transport
	// heard is when a data lane last received anything from the peer
	// (Unix nanoseconds): a peer that streams is alive, however late
	// its probes.
	heard atomic.Int64

	// envelopeVersion is the link version the peer advertises (the newest
	// envelope version it accepts, or a capability version above it:
	// envelopeVersionOf), from its last answered probe; 0 until one
	// answers.
	envelopeVersion atomic.Int32
	// legacyBodies is set when the peer's last answered probe did not
	// advertise client bodies: a node from before them takes only the
	// canonical request.
	legacyBodies atomic.Bool

	mu       sync.Mutex
	lastOK   time.Time
	healthy  bool
	failures int
}

// NewClient returns a link client. Peers start healthy until a probe or a
// forward says otherwise.
func NewClient(opts ClientOptions) *Client {
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 3 * time.Second
	}
	if opts.FirstByteTimeout == 0 {
		opts.FirstByteTimeout = 60 * time.Second
	}
	if opts.ProbeInterval == 0 {
		opts.ProbeInterval = time.Second
	}
	if opts.DownAfter == 0 {
		opts.DownAfter = 3 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Clock = clock.Or(opts.Clock)
	c := &Client{opts: opts, peers: map[string]*peer{}}
	for _, p := range opts.Peers {
		if p.Region == opts.Region {
			continue
		}
		var cfg *tls.Config
		scheme := "http"
		if opts.TLS != nil {
			if cfg = opts.TLS(p.Region); cfg != nil {
				scheme = "https"
			}
		}
		pr := &peer{Peer: p, base: scheme + "://" + p.Addr, healthy: true, lastOK: opts.Clock.Now()}
		pr.invokeURL = pr.base + PathInvoke
		pr.lanes = newLanes(opts, cfg, &pr.heard)
		pr.ctl = newTransport(opts, cfg, false)
		// Probes and pushes are bounded by their own contexts; this is
		// the bound they had before the forwards' moved to the clock.
		pr.ctl.ResponseHeaderTimeout = opts.FirstByteTimeout
		pr.control = &http.Client{Transport: pr.ctl}
		pr.pooled = pooled{l: pr.lanes, limit: answerConnsPerPeer}
		pr.streams = pooled{l: pr.lanes, limit: streamConnsPerPeer}
		c.peers[p.Region] = pr
	}
	return c
}

// PeerHealthy implements gateway.Link.
func (c *Client) PeerHealthy(region string) bool {
	p, ok := c.peers[region]
	if !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.healthy
}

// PeerStatus reports a peer's health and when it last answered.
func (c *Client) PeerStatus(region string) (healthy bool, lastOK time.Time, known bool) {
	p, ok := c.peers[region]
	if !ok {
		return false, time.Time{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.healthy, p.lastOK, true
}

func (p *peer) mark(v verdict, now time.Time, downAfter time.Duration, m *telemetry.Metrics, log *slog.Logger) {
	p.mu.Lock()
	was := p.healthy
	if heard := time.Unix(0, p.heard.Load()); heard.After(p.lastOK) {
		p.lastOK = heard
	}
	switch v {
	case answered:
		p.lastOK, p.failures, p.healthy = now, 0, true
	case refused:
		// A refusal is definite; a second one in a row marks the peer
		// down whatever it streamed last.
		p.failures++
		if now.Sub(p.lastOK) >= downAfter || p.failures >= 2 {
			p.healthy = false
		}
	case silent:
		// No answer in time: busy or gone. A peer is down once nothing
		// at all (probe answer, forward response, stream data) came from
		// it for downAfter.
		if now.Sub(p.lastOK) >= downAfter {
			p.healthy = false
		}
	}
	now2 := p.healthy
	p.mu.Unlock()
	if m != nil {
		v := 0.0
		if now2 {
			v = 1
		}
		m.PeerUp.WithLabelValues(p.Region).Set(v)
	}
	if was != now2 {
		if now2 {
			log.Info("peer is up", telemetry.AttrPeer, p.Region)
		} else {
			log.Warn("peer is down", telemetry.AttrPeer, p.Region, "verdict", v.String())
		}
	}
}

// forwardFailed records a forward that got no response from p.
func (c *Client) forwardFailed(p *peer, err error) {
	p.mark(verdictOf(err), c.opts.Clock.Now(), c.opts.DownAfter, c.opts.Metrics, c.opts.Logger)
}

// Run probes every peer until ctx ends; each probe also delivers the peer's
// published state to OnState.
func (c *Client) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range c.peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := c.opts.Clock.NewTicker(c.opts.ProbeInterval)
			defer t.Stop()
			for {
				c.probe(ctx, p)
				select {
				case <-ctx.Done():
					return
				case <-t.C():
				}
			}
		}()
	}
	wg.Wait()
}

func (c *Client) probe(ctx context.Context, p *peer) {
	ctx, cancel := context.WithTimeout(ctx, max(c.opts.ProbeInterval, time.Second))
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+PathState, nil)
	start := c.opts.Clock.Now()
	resp, err := p.control.Do(req)
	rtt := c.opts.Clock.Now().Sub(start)
	if err != nil {
		if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			p.mark(verdictOf(err), c.opts.Clock.Now(), c.opts.DownAfter, c.opts.Metrics, c.opts.Logger)
		}
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		// It answered, but not with its state: broken, not busy.
		p.mark(refused, c.opts.Clock.Now(), c.opts.DownAfter, c.opts.Metrics, c.opts.Logger)
		return
	}
	p.mark(answered, c.opts.Clock.Now(), c.opts.DownAfter, c.opts.Metrics, c.opts.Logger)
	p.envelopeVersion.Store(int32(advertisedVersion(resp.Header)))
	p.legacyBodies.Store(resp.Header.Get(HeaderLinkBody) != linkBodyClient)
	if c.opts.OnState != nil {
		c.opts.OnState(p.Region, body, rtt)
	}
}

// Push sends this node's state to every healthy peer at once, after a sharp
// change (a deployment throttled or failing) that should not wait for the
// peers' next fetch. It is best effort and returns when every peer answered
// or the short deadline passed.
func (c *Client) Push(ctx context.Context, state []byte) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range c.peers {
		if !c.PeerHealthy(p.Region) {
			continue
		}
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.base+PathState, bytes.NewReader(state))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := p.control.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
}

// CloseIdleForwardConnections closes the idle connections that carry
// forwards (the HTTP/1.1 pool's and the lanes'), and leaves the probes'
// connection open.
func (c *Client) CloseIdleForwardConnections() {
	for _, p := range c.peers {
		p.lanes.CloseIdleConnections()
	}
}

// CloseIdleConnections closes every idle connection to region's node
// (every peer's if region is ""), the probes' included, so that the next
// request makes a new handshake: the node calls it when a link
// certificate expires (pki.StoreOptions.OnExpired).
func (c *Client) CloseIdleConnections(region string) {
	for _, p := range c.peers {
		if region == "" || p.Region == region {
			p.lanes.CloseIdleConnections()
			p.ctl.CloseIdleConnections()
		}
	}
}

// Close releases idle connections. It first cuts short the reads of ended
// streams' bodies still waiting for their ends (remoteStream.drain): they
// only keep connections for reuse, which a closed client will not reuse.
// It returns once they have released their streams.
func (c *Client) Close() {
	c.drains.Close()
	for _, p := range c.peers {
		p.lanes.CloseIdleConnections()
		p.ctl.CloseIdleConnections()
	}
}

// Executor implements gateway.Link.
func (c *Client) Executor(region string) dispatch.Executor {
	p, ok := c.peers[region]
	if !ok {
		return unknownPeer(region)
	}
	return &remote{c: c, p: p}
}

type unknownPeer string

func (u unknownPeer) Complete(context.Context, *dispatch.Job) (*inference.Response, error) {
	return nil, &inference.Error{Kind: inference.KindUnavailable, Message: "no link to region " + string(u)}
}

func (u unknownPeer) Stream(context.Context, *dispatch.Job) (inference.Stream, error) {
	return nil, &inference.Error{Kind: inference.KindUnavailable, Message: "no link to region " + string(u)}
}

// remote forwards jobs to one peer.
type remote struct {
	c *Client
	p *peer
}

// sendVia forwards job with client.
func (r *remote) sendVia(ctx context.Context, rt http.RoundTripper, job *dispatch.Job, accept string) (*http.Response, error) {
	// The peer's version is read once: the metadata and the envelope's
	// version must agree, though a probe may answer meanwhile.
	peerVersion := int(r.p.envelopeVersion.Load())
	meta, err := linkMetadata(job, peerVersion, r.p.Region)
	if err != nil {
		return nil, err
	}
	if err := linkReasoning(job, peerVersion, r.p.Region); err != nil {
		return nil, err
	}
	if err := linkConverseSystemRole(job, peerVersion, r.p.Region); err != nil {
		return nil, err
	}
	// The client's body travels as received: the envelope's hash covers
	// these bytes, and the destination reads them itself.
	dialect := job.Request.Dialect
	if dialect == inference.DialectUnknown {
		dialect = dialectOf(job.Operation, job.Model, nil)
	}
	body, err := inference.EncodeCanonical(job.Request, dialect)
	contentType := bodyContentType(dialect)
	if job.Operation == opMessages && job.Request.Stream {
		// The body does not say (its model and stream are the URL's and
		// the operation's in Bedrock's form).
		contentType += "; stream=true"
	}
	if err == nil && r.p.legacyBodies.Load() {
		if body, err = legacyBody(job.Request); err != nil {
			// In a rolling upgrade: another destination may be upgraded.
			return nil, &inference.Error{Kind: inference.KindUnavailable, Unfit: true, Message: "region " + r.p.Region + " runs an older Meridian that cannot take this request", Err: err}
		}
		contentType = "application/json"
	}
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: err}
	}
	env := envelopeOf(job, body, r.c.opts.Clock.Now())
	if meta != "" {
		env.RequestMetadataSHA256 = envelope.HashRequestMetadata(meta)
	}
	// A peer that accepts no newer version gets the newest it does (in a
	// rolling upgrade); until its first probe answers, the newest.
	if peerVersion != 0 {
		env.Version = min(envelopeVersionOf(peerVersion), envelope.Version)
	}
	// A session MAC's hook goes into the context the request is made
	// with: EnvelopeSigner.SignForwarded's copy of the request, to give
	// it that context afterwards, is saved.
	reqCtx := ctx
	var mt *macTrace
	if es, ok := r.c.opts.Signer.(EnvelopeSigner); ok && es.macSealed(env) {
		if mt, err = newMACTrace(env); err != nil {
			return nil, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: fmt.Errorf("seal forwarded request: %w", err)}
		}
		reqCtx = httptrace.WithClientTrace(ctx, &mt.trace)
	}
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, r.p.invokeURL, bytes.NewReader(body))
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: err}
	}
	// The fields share one array of values (header.Batch).
	hb := header.NewBatch(req.Header, 3)
	hb.Set("Content-Type", contentType)
	if accept != "" {
		hb.Set("Accept", accept)
	}
	if meta != "" {
		hb.Set(envelope.HeaderRequestMetadata, meta)
	}
	if job.Receipt {
		// Not in the envelope: asking for a receipt grants nothing, and
		// the destination adds its principals' own opt-in.
		hb.Set(receipt.Header, "true")
	}
	switch {
	case mt != nil:
		mt.seal(req.Header)
	case r.c.opts.Signer != nil:
		req, err = r.c.opts.Signer.SignForwarded(req, env)
	default:
		var sealed envelope.Sealed
		if sealed, err = envelope.Unsigned(env); err == nil {
			sealed.SetHeaders(req.Header)
		}
	}
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: fmt.Errorf("seal forwarded request: %w", err)}
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		if ctx.Err() == nil {
			r.c.forwardFailed(r.p, err)
		}
		return nil, &inference.Error{Kind: inference.KindUnavailable, Message: "region " + r.p.Region + " is unreachable", Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var we wireError
		err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&we)
		readToEnd(resp.Body, r.c.opts.Clock)
		if err != nil || we.Kind == "" {
			return nil, &inference.Error{Kind: inference.KindUpstream, Message: fmt.Sprintf("region %s answered status %d", r.p.Region, resp.StatusCode)}
		}
		if resp.Header.Get(HeaderLinkRefused) != "" {
			// The link refused the connection (a certificate expired):
			// nothing was served, and the error is retryable, so the
			// gateway fails over. It counts as a refusal: a second one in
			// a row marks the peer down.
			r.c.forwardFailed(r.p, errLinkRefused)
		}
		return nil, we.err(r.p.Region)
	}
	job.Reported = parseTiming(resp.Header.Get(HeaderTiming))
	return resp, nil
}

func (r *remote) Complete(ctx context.Context, job *dispatch.Job) (*inference.Response, error) {
	// A destination that knows the answer form answers in it; an older
	// one ignores Accept and writes JSON, which readAnswer reads as well.
	resp, err := r.sendVia(ctx, r.p.pooled, job, acceptAnswer)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := readAnswer(resp, r.c.opts.Clock)
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindUpstream, Message: "region " + r.p.Region + " sent a malformed answer", Err: err}
	}
	return out, nil
}

func (r *remote) Stream(ctx context.Context, job *dispatch.Job) (inference.Stream, error) {
	// The forward ends with the caller's context until the stream has
	// ended: Close then lets go of it, so that the caller's return, which
	// ends its context (an HTTP handler's does), cannot cut the drain
	// short and cost the connection (see remoteStream.drain). A caller's
	// deadline stays the forward's own.
	ctx, cancel, letGo := detach.From(ctx)
	// A destination that knows stream frames answers in them; an older
	// one ignores Accept and writes NDJSON, which remoteStream reads as
	// well. The stream takes a connection of the HTTP/1.1 pool while one
	// is free to streams, and the lanes beyond (answerPool): a stream holds its
	// connection to its end, and a thousand slow streams must not each
	// hold one. It gives the connection back when read to its end (Close
	// reads what follows the last frame, drain); a stream closed before
	// its end closes its connection instead, which is how the destination
	// learns of the hang-up and cancels its upstream call.
	resp, err := r.sendVia(ctx, r.p.streams, job, acceptStream)
	if err != nil {
		letGo()
		cancel()
		return nil, err
	}
	s := newRemoteStream(r.p.Region, resp.Body, cancel, isFramed(resp.Header.Get("Content-Type")), job.OnReceipt)
	s.detach, s.drains, s.clock = letGo, &r.c.drains, r.c.opts.Clock
	return s, nil
}

const (
	// maxStreamDrain bounds what Close reads after a stream's last frame
	// (drain): from a well-behaved destination, only the body's end.
	maxStreamDrain = 64 << 10
	// streamDrainTimeout bounds how long Close waits for the body's end
	// after the last frame (drain). The destination writes both in one
	// write (server.relay), so the wait is normally none; a destination
	// that holds the body open that long loses the connection.
	streamDrainTimeout = 5 * time.Second
)

// streamReadBuffer is the read buffer of a forwarded stream at the source,
// on top of the transport's (an HTTP/2 stream's pipe, or a pool
// connection's 4 KiB reader): a stream's frames are a few hundred bytes,
// and every open stream holds one (1,000 forwarded streams hold 1 MiB; at
// 4 KiB they held 4); a frame larger than it is read into a buffer of its
// own (frameReader.next), an NDJSON line assembled (readLine).
//
// A stream whose reads fill it (the destination sends a burst faster than
// it is relayed) moves to a reader of streamBurstBuffer (grow), as the
// backend's SSE reader does: with 1 KiB, about four frames of chat chunks,
// the next frame of a burst was rarely buffered whole, so Ready reported
// false every few events and the front end flushed its client that often,
// where inference.Burst lets it gather up to inference.BurstMaxEvents. A
// paced stream of small frames, whose reads bring a frame or two, keeps
// the small one (a frame that fills a read by itself, such as long tool
// call arguments, moves it too, to what every stream held before), so
// the memory of many open streams does not change.
const (
	streamReadBuffer  = 1 << 10
	streamBurstBuffer = 4 << 10
)

func newRemoteStream(region string, body io.ReadCloser, cancel context.CancelFunc, framed bool, onReceipt func(string)) *remoteStream {
	s := &remoteStream{region: region, body: body, cancel: cancel, onReceipt: onReceipt}
	s.src = fillReader{r: body}
	// The reader is part of the stream, not an allocation of its own.
	s.sc = s.readers.Start(&s.src, streamReadBuffer)
	if framed {
		s.fr = frameReader{r: s.sc, max: maxFrameBytes}
		s.frames = &s.fr
	}
	return s
}

// remoteStream reads a stream from a peer: in stream frames when the peer
// answered in them, else NDJSON.
type remoteStream struct {
	region string
	body   io.ReadCloser
	cancel context.CancelFunc
	sc     *bufio.Reader
	// src is what sc reads: body, noting whether a read filled sc.
	src fillReader
	// readers holds the readers sc points to, part of the stream rather
	// than allocations of their own: a small one first, a larger one once
	// the stream grows.
	readers bufgrow.Reader
	// frames reads sc when the peer answered in stream frames; nil for
	// NDJSON.
	frames *frameReader
	// fr is what frames points to, made with the stream rather than on
	// its own (an allocation fewer per forwarded stream).
	fr frameReader
	// long holds an NDJSON line longer than sc's buffer.
	long []byte
	done bool
	once sync.Once
	// onReceipt is given the receipt sent with the stream's end.
	onReceipt func(string)
	// ended is set once Recv has returned the stream's last frame (or
	// line): its end, or an error the destination sent. What follows is
	// only the body's end, which Close then reads (drain). It is atomic
	// because Close may run on another goroutine than Recv.
	ended atomic.Bool
	// detach stops the caller's context from ending the forward; it
	// reports false once that has begun. Nil: Close never drains.
	detach func() bool
	// drains runs and owns the stream's drain (the client's); set with
	// detach.
	drains *detach.Group
	// clock times the drain (streamDrainTimeout).
	clock clock.Clock
	// released, if set, is called once the stream has let its request go
	// (tests).
	released func()
}

// Ready implements inference.Readier: the next frame (or NDJSON line) is
// buffered whole, or the stream has ended.
func (s *remoteStream) Ready() bool {
	if s.done {
		return true
	}
	if s.frames != nil {
		return s.frames.ready()
	}
	buf, _ := s.sc.Peek(s.sc.Buffered())
	return bytes.IndexByte(buf, '\n') >= 0
}

func (s *remoteStream) Recv() (inference.Event, error) {
	if s.done {
		return inference.Event{}, io.EOF
	}
	if s.src.full && s.sc.Size() < streamBurstBuffer {
		s.grow()
	}
	if s.frames != nil {
		return s.recvFrame()
	}
	// readLine avoids a copy per event (json.Unmarshal copies what it
	// keeps).
	line, err := readLine(s.sc, maxLineBytes, &s.long)
	if err != nil {
		return inference.Event{}, s.fail(err)
	}
	var l streamLine
	if err := json.Unmarshal(line, &l); err != nil {
		return inference.Event{}, s.fail(fmt.Errorf("%w: %w", errMalformedFrame, err))
	}
	switch {
	case l.End:
		return inference.Event{}, s.end(l.Receipt)
	case l.Error != nil:
		s.done = true
		s.ended.Store(true)
		return inference.Event{}, l.Error.err(s.region)
	case l.Event != nil:
		return *l.Event, nil
	}
	s.done = true
	return inference.Event{}, &inference.Error{Kind: inference.KindUpstream, Message: "region " + s.region + " sent an empty stream line"}
}

// grow moves the stream to a reader of streamBurstBuffer, which reads
// what the small one holds first, from its buffer in place
// (bufgrow.Reader.Grow): the event received last, which points into it,
// stays as it was (its caller has handed it on before it asks for the
// next, and Recv calls grow first).
func (s *remoteStream) grow() {
	if s.frames != nil && s.frames.pending > 0 {
		s.sc.Discard(s.frames.pending)
		s.frames.pending = 0
	}
	s.sc = s.readers.Grow(s.sc, &s.src, streamBurstBuffer)
	if s.frames != nil {
		s.frames.r = s.sc
	}
}

// fillReader reads r and notes when a read filled what it was given: the
// reader above it (a bufio.Reader's free space) was full, and more may
// have been waiting.
type fillReader struct {
	r    io.Reader
	full bool
}

func (f *fillReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && n == len(p) {
		f.full = true
	}
	return n, err
}

func (s *remoteStream) recvFrame() (inference.Event, error) {
	f, err := s.frames.next()
	if err != nil {
		return inference.Event{}, s.fail(err)
	}
	switch f.typ {
	case frameEvent:
		ev, err := s.frames.event(f.payload)
		if err != nil {
			return inference.Event{}, s.fail(err)
		}
		return ev, nil
	case frameEnd:
		return inference.Event{}, s.end(string(f.payload))
	case frameError:
		var we wireError
		if err := json.Unmarshal(f.payload, &we); err != nil || we.Kind == "" {
			return inference.Event{}, s.fail(fmt.Errorf("%w: error frame", errMalformedFrame))
		}
		s.done = true
		s.ended.Store(true)
		return inference.Event{}, we.err(s.region)
	}
	return inference.Event{}, s.fail(fmt.Errorf("%w: frame type %d", errMalformedFrame, f.typ))
}

// end ends the stream at its end line or frame, with the destination's
// receipt if it sent one.
func (s *remoteStream) end(receipt string) error {
	s.done = true
	s.ended.Store(true)
	if receipt != "" && s.onReceipt != nil {
		s.onReceipt(receipt)
	}
	return io.EOF
}

// fail ends the stream on a read that failed: malformed, or cut off.
func (s *remoteStream) fail(err error) error {
	s.done = true
	if errors.Is(err, errMalformedFrame) {
		return &inference.Error{Kind: inference.KindUpstream, Message: "region " + s.region + " sent a malformed stream", Err: err}
	}
	return &inference.Error{Kind: inference.KindUpstream, Message: "the stream from region " + s.region + " was cut off", Err: err}
}

// Close releases the stream; after its last frame it first reads the
// body's end, in the background (drain), unless a read has already
// returned it (as it normally has).
func (s *remoteStream) Close() error {
	s.once.Do(func() {
		if s.ended.Load() && !atEOF(s.body) && s.detach != nil && s.detach() && s.drains.Go(s.drain, s.cancel) {
			return
		}
		s.release()
	})
	return nil
}

// drain reads what follows the stream's last frame to the end of the HTTP
// body, then releases the stream, so that its connection goes back to the
// pool: net/http closes a connection whose response body is closed before
// its end, and the next forward would dial (and shake hands) again. A
// Meridian destination writes the last frame and the body's end in one
// write (server.relay), and a read normally returns both; but they can
// arrive apart (a network that splits the write, another implementation),
// and the caller's return ends its context at once, which ended the
// forward too (the source's handler returns right after Close). Close runs
// it on a goroutine of its own (owned by the client's drains, which the
// client's Close cuts short and waits for), detached from the caller's
// context, so the caller never waits for it; streamDrainTimeout bounds it
// (on the client's clock), and after more than maxStreamDrain bytes, or an
// error, the connection is let go.
func (s *remoteStream) drain() {
	readRest(s.sc, maxStreamDrain, clock.Or(s.clock), streamDrainTimeout, s.cancel)
	s.release()
}

// atEOF reports whether a read of body returned its end, when body tells.
func atEOF(body io.Reader) bool {
	b, ok := body.(interface{ atEOF() bool })
	return ok && b.atEOF()
}

// release ends the stream's request and closes its body.
func (s *remoteStream) release() {
	if s.detach != nil {
		s.detach()
	}
	s.cancel()
	s.body.Close()
	if s.released != nil {
		s.released()
	}
}
