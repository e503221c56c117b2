package interregion

import (
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
)

// heldStreams is a destination gateway whose streams all wait for release
// before their one event: every stream is open at once when the last one
// starts.
type heldStreams struct {
	started atomic.Int64
	all     chan struct{} // closed when want streams have started
	want    int64
	release chan struct{}
}

func (h *heldStreams) ServeForwarded(ctx context.Context, _ *dispatch.Job) (*dispatch.Outcome, error) {
	if h.started.Add(1) == h.want {
		close(h.all)
	}
	return &dispatch.Outcome{Stream: &heldStream{ctx: ctx, release: h.release}}, nil
}

type heldStream struct {
	ctx     context.Context
	release chan struct{}
	sent    bool
}

func (s *heldStream) Recv() (inference.Event, error) {
	if s.sent {
		return inference.Event{}, io.EOF
	}
	select {
	case <-s.release:
	case <-s.ctx.Done():
		return inference.Event{}, s.ctx.Err()
	}
	s.sent = true
	return inference.Event{Kind: inference.EventDelta, Text: "ok"}, nil
}

func (s *heldStream) Close() error { return nil }

// TestConcurrentForwardedStreams holds 600 forwarded streams open at once
// over a real mutual TLS link with the link server's HTTP/2 settings, then
// lets them finish. All must open and complete, the peer must stay
// healthy, and the source must carry them on a few connections: with
// net/http's defaults (250 streams a connection, a dial per waiting
// request) the source opened hundreds of connections at once, and the
// handshakes starved both nodes until forwards failed and the peer was
// marked down. A peer whose link does not offer HTTP/2 gets a connection
// per stream, and its streams must not queue behind one another.
func TestConcurrentForwardedStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 600 streams; skipped with -short")
	}
	for _, tc := range []struct {
		name     string
		h2       bool
		streams  int
		maxConns int64
	}{
		// The pool's connections that streams take, then a lane per
		// streamsPerLane.
		{"HTTP/2", true, 600, streamConnsPerPeer + (600-streamConnsPerPeer)/streamsPerLane + 1},
		// A handshake per stream: fewer, still more than a lane holds.
		{"HTTP/1.1 peer", false, 150, 150 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) { testConcurrentForwardedStreams(t, tc.streams, tc.h2, tc.maxConns) })
	}
}

func testConcurrentForwardedStreams(t *testing.T, n int, h2 bool, maxConns int64) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a hang guard only
	defer cancel()

	f := pkitest.New(t, "")
	source, dstStore := f.Store(t, src), f.Store(t, dst)
	local := &heldStreams{all: make(chan struct{}), want: int64(n), release: make(chan struct{})}
	h := NewServer(ServerOptions{Local: local, Verifier: EnvelopeVerifier{
		Verifier: envelope.NewVerifier(envelope.VerifierOptions{Region: dst, VerifySigner: dstStore.VerifyPeer, Checker: euChecker}),
		Clock:    clock.NewManual(t0),
	}})
	var conns atomic.Int64
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.Config.HTTP2 = ServerHTTP2Config()
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.EnableHTTP2 = h2
	ts.TLS = dstStore.ServerTLSConfig(func(r string) bool { return r == src })
	ts.StartTLS()
	t.Cleanup(ts.Close)

	c := NewClient(ClientOptions{Region: src, Peers: []Peer{{Region: dst, Addr: ts.Listener.Addr().String()}},
		Clock: clock.NewManual(t0), TLS: source.ClientTLSConfig, Signer: EnvelopeSigner{Store: source}})
	t.Cleanup(c.Close)

	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for range n {
		wg.Go(func() {
			st, err := c.Executor(dst).Stream(ctx, forwardJob())
			if err != nil {
				fail(err)
				return
			}
			defer st.Close()
			for {
				if _, err := st.Recv(); err != nil {
					if !errors.Is(err, io.EOF) {
						fail(err)
					}
					return
				}
			}
		})
	}
	select {
	case <-local.all:
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%d of %d streams started at the destination (%d link connections); %d failed, first: %v", local.started.Load(), n, conns.Load(), len(errs), errs[:min(len(errs), 1)])
	}
	if !c.PeerHealthy(dst) {
		t.Errorf("peer %s marked down with %d streams open", dst, n)
	}
	open := conns.Load()
	close(local.release)
	wg.Wait()
	if len(errs) != 0 {
		t.Fatalf("%d of %d streams failed; first: %v", len(errs), n, errs[0])
	}
	if !c.PeerHealthy(dst) {
		t.Errorf("peer %s marked down after the streams", dst)
	}
	if open > maxConns {
		t.Errorf("the source opened %d link connections for %d streams, want at most %d", open, n, maxConns)
	}
}

// TestPeerHealthVerdicts: a peer that is silent (probes or forwards time
// out) stays up while it answered or streamed within DownAfter, and is down
// after; refusals mark it down at the second.
func TestPeerHealthVerdicts(t *testing.T) {
	const downAfter = 3 * time.Second
	type step struct {
		at time.Duration // after t0
		v  verdict
		// heard, if set, is when a data lane last received a byte.
		heard       time.Duration
		wantHealthy bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"busy peer: timeouts within DownAfter", []step{
			{at: time.Second, v: silent, wantHealthy: true},
			{at: 2 * time.Second, v: silent, wantHealthy: true},
		}},
		{"silent for DownAfter", []step{
			{at: time.Second, v: silent, wantHealthy: true},
			{at: downAfter, v: silent, wantHealthy: false},
		}},
		{"streaming peer whose probes time out", []step{
			{at: 2 * time.Second, v: silent, heard: 2 * time.Second, wantHealthy: true},
			{at: 4 * time.Second, v: silent, heard: 4 * time.Second, wantHealthy: true},
			{at: 6 * time.Second, v: silent, heard: 4 * time.Second, wantHealthy: true},
			{at: 7 * time.Second, v: silent, heard: 4 * time.Second, wantHealthy: false},
		}},
		{"refused twice", []step{
			{at: time.Second, v: refused, wantHealthy: true},
			{at: 2 * time.Second, v: refused, wantHealthy: false},
			{at: 3 * time.Second, v: answered, wantHealthy: true},
		}},
		{"refused, then answered", []step{
			{at: time.Second, v: refused, wantHealthy: true},
			{at: 2 * time.Second, v: answered, wantHealthy: true},
			{at: 3 * time.Second, v: refused, wantHealthy: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &peer{Peer: Peer{Region: dst}, healthy: true, lastOK: t0}
			log := slogDiscard()
			for i, s := range tc.steps {
				if s.heard != 0 {
					p.heard.Store(t0.Add(s.heard).UnixNano())
				}
				p.mark(s.v, t0.Add(s.at), downAfter, nil, log)
				if got := p.healthy; got != s.wantHealthy {
					t.Fatalf("step %d (%s at %v): healthy = %v, want %v", i, s.v, s.at, got, s.wantHealthy)
				}
			}
		})
	}
}

func TestVerdictOf(t *testing.T) {
	tests := []struct {
		err  error
		want verdict
	}{
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, refused},
		{&net.OpError{Op: "dial", Err: syscall.EHOSTUNREACH}, refused},
		{context.DeadlineExceeded, silent},
		{errors.New("net/http: TLS handshake timeout"), silent},
		{io.ErrUnexpectedEOF, silent},
	}
	for _, tc := range tests {
		if got := verdictOf(tc.err); got != tc.want {
			t.Errorf("verdictOf(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// silentListener returns the address of a listener that accepts
// connections and never writes to them: a peer that never completes a
// handshake.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestForwardsToSilentPeerFailTogether: a peer that accepts connections
// but never completes a handshake. The requests that wait for a lane's
// first connection fail with its error, instead of each dialling again in
// turn (the last would wait ConnectTimeout once per request before it).
// The client's clock moves once, when every forward waits: the pool's
// (one dial each, up to its bound) and the lane's first on their dials'
// timers, the lane's others on its first connection; one ConnectTimeout
// must fail them all.
func TestForwardsToSilentPeerFailTogether(t *testing.T) {
	const n = 100
	const connect = time.Minute // never reached on the wall clock
	addr := silentListener(t)
	clk := clock.NewManual(t0)
	f := pkitest.New(t, "")
	source := f.Store(t, src)
	c := NewClient(ClientOptions{Region: src, Peers: []Peer{{Region: dst, Addr: addr}},
		Clock: clk, TLS: source.ClientTLSConfig, Signer: EnvelopeSigner{Store: source},
		ConnectTimeout: connect})
	t.Cleanup(c.Close)
	// A request about to wait for its lane's first connection says so.
	laneWaits := make(chan struct{}, n)
	c.peers[dst].lanes.waiting = func() { laneWaits <- struct{}{} }
	// Non-streaming forwards dial the HTTP/1.1 pool's connections at once
	// (up to its bound) and overflow to the lanes: they fail together too.
	for _, forward := range []struct {
		name string
		// pooled is how many of the forwards the HTTP/1.1 pool takes.
		pooled int
		do     func(ctx context.Context) error
	}{
		{"streams", streamConnsPerPeer, func(ctx context.Context) error {
			_, err := c.Executor(dst).Stream(ctx, forwardJob())
			return err
		}},
		{"non-streaming", answerConnsPerPeer, func(ctx context.Context) error {
			_, err := c.Executor(dst).Complete(ctx, forwardJob())
			return err
		}},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a hang guard only
		defer cancel()
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range n {
			wg.Go(func() {
				if err := forward.do(ctx); err != nil {
					failed.Add(1)
				}
			})
		}
		// One dial per pooled forward and the lane's first; the lane's
		// other forwards wait for that one.
		if err := clk.WaitTimers(ctx, forward.pooled+1); err != nil {
			t.Fatalf("%s: the dials' timers: %v", forward.name, err)
		}
		for i := range n - forward.pooled - 1 {
			select {
			case <-laneWaits:
			case <-ctx.Done():
				t.Fatalf("%s: %d of %d forwards wait for the lane's first connection: the others dialled their own", forward.name, i, n-forward.pooled-1)
			}
		}
		if got := clk.Timers(); got != forward.pooled+1 {
			t.Fatalf("%s: %d timers pending, want %d dials", forward.name, got, forward.pooled+1)
		}
		clk.Advance(connect)
		wg.Wait()
		if ctx.Err() != nil {
			t.Fatalf("%s to a silent peer still waiting after the hang guard: they dialled one after another", forward.name)
		}
		if got := failed.Load(); got != n {
			t.Errorf("%d of %d %s forwards to a silent peer failed, want all", got, n, forward.name)
		}
	}
}
