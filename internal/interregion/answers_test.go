package interregion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
)

// poolLink is a destination on loopback (mutual TLS with the real
// verifier, or plain HTTP) that counts its connections, the writes on
// them, and the protocol of each forwarded request.
type poolLink struct {
	addr   string
	client *Client
	// clock is the client's.
	clock *clock.Manual
	// conns counts the connections the destination accepted.
	conns atomic.Int64
	// writes counts the writes on the destination's connections (TCP,
	// under TLS).
	writes atomic.Int64
	// clientWrites counts the writes on the source's pool connections.
	clientWrites atomic.Int64
	mu           sync.Mutex
	// protos holds the HTTP major version of each forwarded request.
	protos []int
}

type poolLinkOptions struct {
	secure, h2 bool
	local      Local
	// wrap, if set, wraps the link's handler.
	wrap func(http.Handler) http.Handler
	// connectTimeout and firstByteTimeout are the client's.
	connectTimeout, firstByteTimeout time.Duration
	// closeIdle closes every connection as soon as it is idle, as a
	// server whose idle time-out has just passed does.
	closeIdle bool
}

func startPoolLink(t *testing.T, o poolLinkOptions) *poolLink {
	t.Helper()
	l := &poolLink{clock: clock.NewManual(t0)}
	opts := ServerOptions{Local: o.local}
	copts := ClientOptions{Region: src, Clock: l.clock, ConnectTimeout: o.connectTimeout, FirstByteTimeout: o.firstByteTimeout}
	var start func(*httptest.Server)
	if o.secure {
		f := pkitest.New(t, "")
		source, dstStore := f.Store(t, src), f.Store(t, dst)
		opts.Verifier = EnvelopeVerifier{
			Verifier: envelope.NewVerifier(envelope.VerifierOptions{Region: dst, VerifySigner: dstStore.VerifyPeer, Checker: euChecker}),
			Clock:    clock.NewManual(t0),
		}
		copts.TLS, copts.Signer = source.ClientTLSConfig, EnvelopeSigner{Store: source}
		start = func(ts *httptest.Server) {
			ts.EnableHTTP2 = o.h2
			ts.TLS = dstStore.ServerTLSConfig(func(r string) bool { return r == src })
			ts.StartTLS()
		}
	} else {
		start = (*httptest.Server).Start
	}
	var h http.Handler = NewServer(opts)
	if o.wrap != nil {
		h = o.wrap(h)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == PathInvoke {
			l.mu.Lock()
			l.protos = append(l.protos, r.ProtoMajor)
			l.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.Config.HTTP2 = ServerHTTP2Config()
	ts.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch {
		case s == http.StateNew:
			l.conns.Add(1)
		case s == http.StateIdle && o.closeIdle:
			c.Close()
		}
	}
	ts.Listener = countingListener{ts.Listener, &l.writes}
	start(ts)
	t.Cleanup(ts.Close)
	l.addr = ts.Listener.Addr().String()
	copts.Peers = []Peer{{Region: dst, Addr: l.addr}}
	l.client = NewClient(copts)
	t.Cleanup(l.client.Close)
	pool := l.client.peers[dst].lanes.pool
	dial := pool.dial
	pool.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &l.clientWrites}, nil
	}
	return l
}

// forwarded returns the HTTP major versions of the forwarded requests.
func (l *poolLink) forwarded() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.protos...)
}

type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// servingLocal is a destination gateway that answers every job with
// answerFixture, or with a stream of one event while stream is set, and
// counts the jobs it served. With holding set, every job waits for
// release, and all is closed once holding jobs have started (never, for a
// negative holding).
type servingLocal struct {
	served  atomic.Int64
	mu      sync.Mutex
	ids     map[string]int // times each request id was served
	stream  atomic.Bool
	holding int64
	all     chan struct{} // closed when holding jobs have started
	release chan struct{}
}

func (l *servingLocal) ServeForwarded(ctx context.Context, job *dispatch.Job) (*dispatch.Outcome, error) {
	n := l.served.Add(1)
	l.mu.Lock()
	if l.ids == nil {
		l.ids = map[string]int{}
	}
	l.ids[job.RequestID]++
	l.mu.Unlock()
	if l.holding != 0 {
		if n == l.holding {
			close(l.all)
		}
		select {
		case <-l.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if l.stream.Load() {
		return &dispatch.Outcome{Stream: &repeatStream{ev: inference.Event{Kind: inference.EventDelta, Text: "ok"}, n: 1}}, nil
	}
	return &dispatch.Outcome{Response: answerFixture()}, nil
}

// complete forwards a non-streaming job and checks its answer.
func complete(t *testing.T, c *Client, job *dispatch.Job) {
	t.Helper()
	got, err := c.Executor(dst).Complete(t.Context(), job)
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if diff := cmp.Diff(answerFixture(), got); diff != "" {
		t.Fatalf("answer (-sent +read):\n%s", diff)
	}
}

// stream forwards a streaming job and reads it to its end.
func stream(t *testing.T, c *Client) {
	t.Helper()
	st, err := c.Executor(dst).Stream(t.Context(), forwardJob())
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	defer st.Close()
	for {
		if _, err := st.Recv(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("Recv: %v", err)
			}
			return
		}
	}
}

// poolLinkKinds are the links the pool is tested over: whatever the peer
// offers, the pool speaks HTTP/1.1.
var poolLinkKinds = []struct {
	name       string
	secure, h2 bool
}{
	{"mutual TLS, HTTP/2 offered", true, true},
	{"mutual TLS, peer without HTTP/2", true, false},
	{"insecure development link", false, false},
}

// TestAnswersOverHTTP1Pool: non-streaming forwards go over HTTP/1.1
// whatever the peer offers, one after another on one kept-alive
// connection, answered in the answer form and sealed with the session MAC
// of that connection (the verifier refuses anything else); a stream takes
// the same connection and gives it back at its end (TestStreamsOverHTTP1Pool
// has more); Close closes the idle connections.
func TestAnswersOverHTTP1Pool(t *testing.T) {
	t.Parallel()
	for _, tc := range poolLinkKinds {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			local := &servingLocal{}
			l := startPoolLink(t, poolLinkOptions{secure: tc.secure, h2: tc.h2, local: local})
			const n = 5
			for range n {
				complete(t, l.client, forwardJob())
			}
			if got, want := l.forwarded(), slices.Repeat([]int{1}, n); !slices.Equal(got, want) {
				t.Errorf("non-streaming forwards arrived over HTTP/%v, want %v", got, want)
			}
			if got := l.conns.Load(); got != 1 {
				t.Errorf("%d sequential non-streaming forwards opened %d connections, want 1", n, got)
			}
			if got := l.client.peers[dst].heard.Load(); got != t0.UnixNano() {
				t.Errorf("the peer's last word was heard at %v, want the answers' %v", time.Unix(0, got), t0)
			}

			local.stream.Store(true)
			stream(t, l.client)
			if got := l.forwarded(); got[len(got)-1] != 1 {
				t.Errorf("a stream arrived over HTTP/%d, want HTTP/1.1", got[len(got)-1])
			}
			local.stream.Store(false)
			complete(t, l.client, forwardJob())
			if got := l.conns.Load(); got != 1 {
				t.Errorf("a stream and a non-streaming forward after it opened %d connections, want 1 (the pool's)", got)
			}

			l.client.Close()
			complete(t, l.client, forwardJob())
			if got := l.conns.Load(); got != 2 {
				t.Errorf("after Close, %d connections in all, want a new one (2)", got)
			}
			if got := l.client.peers[dst].lanes.pool.inFlight.Load(); got != 0 {
				t.Errorf("%d requests still counted in flight on the pool", got)
			}
		})
	}
}

// TestAnswersOverflowToLanes holds more non-streaming forwards open at once
// than the pool takes: answerConnsPerPeer of them go over HTTP/1.1, one
// connection each, the rest over one HTTP/2 lane rather than queue or dial
// more, and all succeed. Afterwards the pool's connections are kept idle
// for the next forwards.
func TestAnswersOverflowToLanes(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 65 mutual TLS connections; skipped with -short")
	}
	const over = 8
	n := answerConnsPerPeer + over
	local := &servingLocal{holding: int64(n), all: make(chan struct{}), release: make(chan struct{})}
	l := startPoolLink(t, poolLinkOptions{secure: true, h2: true, local: local})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a hang guard only
	defer cancel()
	var wg sync.WaitGroup
	var failed atomic.Int64
	var first atomic.Value
	for range n {
		wg.Go(func() {
			if _, err := l.client.Executor(dst).Complete(ctx, forwardJob()); err != nil {
				failed.Add(1)
				first.CompareAndSwap(nil, err)
			}
		})
	}
	select {
	case <-local.all:
	case <-ctx.Done():
		t.Fatalf("%d of %d forwards reached the destination; %d failed, first: %v", local.served.Load(), n, failed.Load(), first.Load())
	}
	var h1, h2 int
	for _, p := range l.forwarded() {
		if p == 2 {
			h2++
		} else {
			h1++
		}
	}
	if h1 != answerConnsPerPeer || h2 != over {
		t.Errorf("%d forwards at once went %d over HTTP/1.1 and %d over HTTP/2, want %d and %d", n, h1, h2, answerConnsPerPeer, over)
	}
	if got, want := l.conns.Load(), int64(answerConnsPerPeer+1); got != want {
		t.Errorf("%d forwards at once opened %d connections, want %d (the pool's and one lane)", n, got, want)
	}
	close(local.release)
	wg.Wait()
	if got := failed.Load(); got != 0 {
		t.Fatalf("%d of %d forwards failed; first: %v", got, n, first.Load())
	}
	local.holding = 0
	conns := l.conns.Load()
	for range 3 {
		complete(t, l.client, forwardJob())
	}
	if got := l.conns.Load(); got != conns {
		t.Errorf("forwards after the burst opened %d connections, want them to reuse the idle ones", got-conns)
	}
	if got := l.forwarded(); !slices.Equal(got[n:], []int{1, 1, 1}) {
		t.Errorf("forwards after the burst arrived over HTTP/%v, want HTTP/1.1", got[n:])
	}
}

// TestAnswerWritesPerRequest counts the writes on the link's TCP
// connection: a non-streaming forward on a kept-alive connection is one
// write from the source (headers, envelope and body together) and one
// from the destination (its answer), with a prompt of a few KiB too.
func TestAnswerWritesPerRequest(t *testing.T) {
	t.Parallel()
	small := forwardJob()
	large := forwardJobCanonical()
	large.Request.Messages[0].Content[0].Text = strings.Repeat("Ask me anything. ", 500) // 8.5 KB
	large.Request = clientRequest(t, large)
	for _, tc := range []struct {
		name string
		job  *dispatch.Job
	}{{"short prompt", small}, {"prompt of 8.5 KB", large}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := startPoolLink(t, poolLinkOptions{secure: true, h2: true, local: &servingLocal{}})
			complete(t, l.client, tc.job) // the handshake's writes
			l.writes.Store(0)
			l.clientWrites.Store(0)
			const n = 20
			for range n {
				complete(t, l.client, tc.job)
			}
			if got := l.clientWrites.Load(); got != n {
				t.Errorf("%d requests took %d writes at the source, want %d", n, got, n)
			}
			if got := l.writes.Load(); got != n {
				t.Errorf("%d answers took %d writes at the destination, want %d", n, got, n)
			}
		})
	}
}

// cutSecond wraps a link handler: the second forwarded request on the
// first connection finds the connection closed by the destination, which
// serves it first if served (and so records its nonce), or else closes
// the connection without reading it, as a server closing an idle
// connection just as the request arrives does.
func cutSecond(served bool, cut *atomic.Int64) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		var mu sync.Mutex
		seen := map[string]int{}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[r.RemoteAddr]++
			second := seen[r.RemoteAddr] == 2 && len(seen) == 1
			mu.Unlock()
			if !second || r.URL.Path != PathInvoke {
				h.ServeHTTP(w, r)
				return
			}
			if served {
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			cut.Add(1) // before the close, which the source sees at once
			c.Close()
		})
	}
}

// TestAnswerOnAClosedConnection: the destination closes a kept-alive
// connection just as the source sends a forward on it. The link does not
// send the forward again on its own (another replica behind the same
// address would serve it a second time): it fails as the region
// unreachable, which the gateway fails over on before the first byte, and
// the peer stays healthy.
func TestAnswerOnAClosedConnection(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{true, false} {
		t.Run(fmt.Sprintf("mutual TLS %v", secure), func(t *testing.T) {
			t.Parallel()
			var cut atomic.Int64
			local := &servingLocal{}
			l := startPoolLink(t, poolLinkOptions{secure: secure, h2: true, local: local, wrap: cutSecond(false, &cut)})
			complete(t, l.client, forwardJob())
			_, err := l.client.Executor(dst).Complete(t.Context(), forwardJob()) // on the reused connection, cut
			var ie *inference.Error
			if !errors.As(err, &ie) || ie.Kind != inference.KindUnavailable || ie.Message != "region "+dst+" is unreachable" {
				t.Fatalf("Complete on a cut connection = %v, want the region unreachable", err)
			}
			if cut.Load() != 1 {
				t.Fatalf("the destination cut %d forwards, want 1", cut.Load())
			}
			if got := len(l.forwarded()); got != 2 {
				t.Errorf("the destination received %d forwards, want 2 (the cut one not sent again)", got)
			}
			if !l.client.PeerHealthy(dst) {
				t.Errorf("peer marked down")
			}
			complete(t, l.client, forwardJob()) // a new connection
		})
	}
}

// TestAnswersWhenIdleConnectionsClose: the destination closes each
// connection as soon as it has answered, without saying so, as a server
// whose idle time-out has just passed does. The source either sees the
// close before its next forward and dials, or sends the forward on the
// closed connection: net/http sends it again on a new one if nothing of it
// was written, and otherwise it fails as the region unreachable.
// Whichever happens, no forward is served twice, and every one that
// succeeded was served.
func TestAnswersWhenIdleConnectionsClose(t *testing.T) {
	t.Parallel()
	local := &servingLocal{}
	l := startPoolLink(t, poolLinkOptions{secure: true, h2: true, local: local, closeIdle: true})
	const n = 40
	succeeded := map[string]bool{}
	for i := range n {
		job := forwardJob()
		job.RequestID = fmt.Sprintf("req-%d", i)
		_, err := l.client.Executor(dst).Complete(t.Context(), job)
		var ie *inference.Error
		switch {
		case err == nil:
			succeeded[job.RequestID] = true
		case errors.As(err, &ie) && ie.Kind == inference.KindUnavailable && ie.Message == "region "+dst+" is unreachable":
		default:
			t.Fatalf("forward %d: %v", i, err)
		}
	}
	local.mu.Lock()
	defer local.mu.Unlock()
	for id, times := range local.ids {
		if times > 1 {
			t.Errorf("%s served %d times", id, times)
		}
	}
	for id := range succeeded {
		if local.ids[id] != 1 {
			t.Errorf("%s succeeded but was served %d times", id, local.ids[id])
		}
	}
	if len(succeeded) == 0 {
		t.Errorf("no forward succeeded")
	}
}

// TestAnswerServedThenCutIsNotServedTwice: the destination served a forward
// and its connection was closed before the answer left. The link does not
// send it again: the caller learns that the region could not be reached
// (whether the request was served is unknown, as when any connection is
// cut), not that it was refused, and it was served once.
func TestAnswerServedThenCutIsNotServedTwice(t *testing.T) {
	t.Parallel()
	var cut atomic.Int64
	local := &servingLocal{}
	l := startPoolLink(t, poolLinkOptions{secure: true, h2: true, local: local, wrap: cutSecond(true, &cut)})
	complete(t, l.client, forwardJob())
	_, err := l.client.Executor(dst).Complete(t.Context(), forwardJob())
	var ie *inference.Error
	if !errors.As(err, &ie) || ie.Kind != inference.KindUnavailable || ie.Message != "region "+dst+" is unreachable" {
		t.Fatalf("Complete after a cut = %v, want the region unreachable", err)
	}
	if got := local.served.Load(); got != 2 {
		t.Errorf("the destination served %d forwards, want 2 (the cut one once)", got)
	}
	if got := len(l.forwarded()); got != 2 {
		t.Errorf("the destination received %d forwards, want 2 (the cut one not sent again)", got)
	}
	if !l.client.PeerHealthy(dst) {
		t.Errorf("peer marked down")
	}
}

// TestAnswerTimeouts: a destination that never answers fails the forward
// at FirstByteTimeout on the client's clock, on every path (the HTTP/1.1
// pool, the HTTP/2 lanes, the HTTP/1.1 fallback; answers and streams), as
// net/http's time-out, and the forward is not sent again (the destination
// has it); one that accepts connections but never completes a handshake
// fails it at ConnectTimeout, as a dial time-out; a refused connection
// counts towards marking the peer down, as on the lanes. The clock moves
// only once the request waits on its timer, so that the outcome is the
// same on a loaded machine and a fast one.
func TestAnswerTimeouts(t *testing.T) {
	t.Parallel()
	const firstByte = time.Minute // never reached on the wall clock
	forwards := []struct {
		name string
		do   func(ctx context.Context, c *Client) error
	}{
		{"answer", func(ctx context.Context, c *Client) error {
			_, err := c.Executor(dst).Complete(ctx, forwardJob())
			return err
		}},
		{"stream", func(ctx context.Context, c *Client) error {
			s, err := c.Executor(dst).Stream(ctx, forwardJob())
			if err == nil {
				s.Close()
			}
			return err
		}},
	}
	for _, path := range []struct {
		name string
		opts poolLinkOptions
		// poolFull sends the forward past the HTTP/1.1 pool; http1, to
		// the HTTP/1.1 fallback rather than the lanes.
		poolFull, http1 bool
		msg             string
	}{
		{name: "pool", opts: poolLinkOptions{secure: true, h2: true}, msg: "net/http: timeout awaiting response headers"},
		{name: "lanes", opts: poolLinkOptions{secure: true, h2: true}, poolFull: true, msg: "http2: timeout awaiting response headers"},
		{name: "lanes to a peer without HTTP/2", opts: poolLinkOptions{secure: true}, poolFull: true, msg: "net/http: timeout awaiting response headers"},
		{name: "HTTP/1.1 fallback", opts: poolLinkOptions{secure: true}, poolFull: true, http1: true, msg: "net/http: timeout awaiting response headers"},
		{name: "plain HTTP/1.1 fallback", opts: poolLinkOptions{}, poolFull: true, msg: "net/http: timeout awaiting response headers"},
	} {
		for _, fwd := range forwards {
			t.Run("first byte/"+path.name+"/"+fwd.name, func(t *testing.T) {
				t.Parallel()
				local := &servingLocal{holding: 1, all: make(chan struct{}), release: make(chan struct{})}
				t.Cleanup(func() { close(local.release) })
				o := path.opts
				o.local, o.firstByteTimeout = local, firstByte
				l := startPoolLink(t, o)
				if path.poolFull {
					l.client.peers[dst].lanes.pool.inFlight.Store(answerConnsPerPeer)
				}
				if path.http1 {
					l.client.peers[dst].lanes.useHTTP1.Store(true)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a hang guard only
				defer cancel()
				errc := make(chan error, 1)
				go func() { errc <- fwd.do(ctx, l.client) }()
				// The destination holds the forward, and the connection's
				// set-up is over: the one timer left is the first byte's.
				select {
				case <-local.all:
				case <-ctx.Done():
					t.Fatal("the forward never reached the destination")
				}
				if err := l.clock.WaitTimers(ctx, 1); err != nil {
					t.Fatalf("no first-byte timer armed: %v", err)
				}
				l.clock.Advance(firstByte - time.Nanosecond)
				if got := l.clock.Timers(); got != 1 {
					t.Fatalf("%d timers pending just before FirstByteTimeout, want the first byte's", got)
				}
				l.clock.Advance(time.Nanosecond)
				var err error
				select {
				case err = <-errc:
				case <-ctx.Done():
					t.Fatal("the forward still waits after FirstByteTimeout")
				}
				var ie *inference.Error
				var ne net.Error
				if !errors.As(err, &ie) || ie.Kind != inference.KindUnavailable || !errors.As(err, &ne) || !ne.Timeout() || !strings.Contains(err.Error(), path.msg) {
					t.Fatalf("forward to a destination that never answers = %v, want unavailable, a time-out: %q", err, path.msg)
				}
				if got := verdictOf(err); got != silent {
					t.Errorf("verdict of the time-out = %v, want silent", got)
				}
				if got := local.served.Load(); got != 1 {
					t.Errorf("the destination received %d forwards, want 1", got)
				}
			})
		}
	}
	for _, path := range []struct {
		name            string
		poolFull, http1 bool
	}{{"pool", false, false}, {"lanes", true, false}, {"HTTP/1.1 fallback", true, true}} {
		for _, fwd := range forwards {
			t.Run("connect/"+path.name+"/"+fwd.name, func(t *testing.T) {
				t.Parallel()
				const connect = time.Minute // never reached on the wall clock
				addr := silentListener(t)
				clk := clock.NewManual(t0)
				f := pkitest.New(t, "")
				source := f.Store(t, src)
				c := NewClient(ClientOptions{Region: src, Peers: []Peer{{Region: dst, Addr: addr}}, Clock: clk,
					TLS: source.ClientTLSConfig, Signer: EnvelopeSigner{Store: source}, ConnectTimeout: connect})
				t.Cleanup(c.Close)
				if path.poolFull {
					c.peers[dst].lanes.pool.inFlight.Store(answerConnsPerPeer)
				}
				if path.http1 {
					c.peers[dst].lanes.useHTTP1.Store(true)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a hang guard only
				defer cancel()
				errc := make(chan error, 1)
				go func() { errc <- fwd.do(ctx, c) }()
				if err := clk.WaitTimers(ctx, 1); err != nil {
					t.Fatalf("no connect timer armed: %v", err)
				}
				clk.Advance(connect)
				var err error
				select {
				case err = <-errc:
				case <-ctx.Done():
					t.Fatal("the forward still waits after ConnectTimeout")
				}
				var ie *inference.Error
				var oe *net.OpError
				if !errors.As(err, &ie) || ie.Kind != inference.KindUnavailable || !errors.As(err, &oe) || oe.Op != "dial" || !oe.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("forward to a peer that never completes a handshake = %v, want unavailable, a dial time-out", err)
				}
				if got := verdictOf(err); got != silent {
					t.Errorf("verdict of the time-out = %v, want silent", got)
				}
			})
		}
	}
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		f := pkitest.New(t, "")
		source := f.Store(t, src)
		c := NewClient(ClientOptions{Region: src, Peers: []Peer{{Region: dst, Addr: addr}},
			Clock: clock.NewManual(t0), TLS: source.ClientTLSConfig, Signer: EnvelopeSigner{Store: source}})
		t.Cleanup(c.Close)
		for range 2 {
			if _, err := c.Executor(dst).Complete(t.Context(), forwardJob()); !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("Complete to a closed port = %v, want connection refused", err)
			}
		}
		if c.PeerHealthy(dst) {
			t.Errorf("peer still up after two refused forwards")
		}
	})
}

// TestAnswersKeepTheConnection: whatever the destination answers (a JSON
// answer, a refusal, the answer form), the source reads it to its end and
// the next forward reuses the connection.
func TestAnswersKeepTheConnection(t *testing.T) {
	t.Parallel()
	l := startPoolLink(t, poolLinkOptions{secure: true, h2: true, local: &recorder{}})
	refused := forwardJobCanonical()
	refused.ProfileID = "us.demo.chat-small"
	refused.ProfileARN = "arn:aws:bedrock:" + src + ":111122223333:inference-profile/us.demo.chat-small"
	refused.Request = clientRequest(t, refused)
	for i := range 3 {
		if _, err := l.client.Executor(dst).Complete(t.Context(), forwardJob()); err != nil {
			t.Fatalf("JSON answer #%d: %v", i, err)
		}
		_, err := l.client.Executor(dst).Complete(t.Context(), refused)
		var ie *inference.Error
		if !errors.As(err, &ie) || ie.Kind != inference.KindPermissionDenied {
			t.Fatalf("refused forward #%d = %v, want a refusal", i, err)
		}
	}
	if got := l.conns.Load(); got != 1 {
		t.Errorf("6 sequential forwards opened %d connections, want 1", got)
	}
}

// TestAnswersVerifyTheDestination: the pool's connections verify the
// destination as the lanes do: a listener that presents another region's
// certificate for the region dialled is refused in the handshake, and
// nothing is sent to it.
func TestAnswersVerifyTheDestination(t *testing.T) {
	t.Parallel()
	f := pkitest.New(t, "")
	source, other := f.Store(t, src), f.Store(t, "us-east-1")
	local := &servingLocal{}
	ts := httptest.NewUnstartedServer(NewServer(ServerOptions{Local: local}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.EnableHTTP2 = true
	ts.TLS = other.ServerTLSConfig(func(r string) bool { return r == src })
	ts.StartTLS()
	t.Cleanup(ts.Close)
	c := NewClient(ClientOptions{Region: src, Peers: []Peer{{Region: dst, Addr: ts.Listener.Addr().String()}},
		Clock: clock.NewManual(t0), TLS: source.ClientTLSConfig, Signer: EnvelopeSigner{Store: source}})
	t.Cleanup(c.Close)
	if _, err := c.Executor(dst).Complete(t.Context(), forwardJob()); err == nil {
		t.Errorf("Complete to us-east-1's listener dialled as %s succeeded", dst)
	}
	if _, err := c.Executor(dst).Stream(t.Context(), forwardJob()); err == nil {
		t.Errorf("Stream to us-east-1's listener dialled as %s succeeded", dst)
	}
	if got := local.served.Load(); got != 0 {
		t.Errorf("the impostor served %d forwards", got)
	}
}
