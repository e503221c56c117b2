package interregion

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
)

// connRecorder records every connection net/http gives a forward.
type connRecorder struct {
	mu    sync.Mutex
	conns []net.Conn
	seen  map[net.Conn]bool
}

// context returns ctx with a trace that records the forward's connections.
func (r *connRecorder) context(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.seen == nil {
			r.seen = map[net.Conn]bool{}
		}
		if !r.seen[info.Conn] {
			r.seen[info.Conn] = true
			r.conns = append(r.conns, info.Conn)
		}
	}})
}

// linkConnOf returns the linkConn under c, a connection the link client
// dialled, failing t if there is none.
func linkConnOf(t *testing.T, c net.Conn) (*tls.Conn, *linkConn) {
	t.Helper()
	tc, ok := c.(*tls.Conn)
	if !ok {
		t.Fatalf("forward on a %T, want a *tls.Conn", c)
	}
	lc, ok := tc.NetConn().(*linkConn)
	if !ok {
		t.Fatalf("TLS connection over a %T, want a *linkConn: a dialer of the link does not wrap its connections", tc.NetConn())
	}
	return tc, lc
}

// TestSessionKeyOncePerConnection forwards many requests, some at once,
// streamed and not, over HTTP/2 lanes and the HTTP/1.1 pool, and over the
// HTTP/1.1 fallback when the peer does not offer HTTP/2: every forward
// verifies at the destination (its MAC was made with the key of the
// connection it went on), and each connection's key was exported once,
// however many requests it carried.
func TestSessionKeyOncePerConnection(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{true, false} {
		l := startLinkProto(t, true, h2)
		c := l.client(t, false)
		var rec connRecorder
		ctx := rec.context(t.Context())
		const rounds, parallel = 3, 6
		for range rounds {
			var wg sync.WaitGroup
			errs := make(chan error, 2*parallel)
			for range parallel {
				wg.Go(func() {
					_, err := c.Executor(dst).Complete(ctx, forwardJob())
					errs <- err
				})
				wg.Go(func() {
					st, err := c.Executor(dst).Stream(ctx, forwardJob())
					if err == nil {
						st.Close()
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("HTTP/2 offered %v: forward: %v", h2, err)
				}
			}
		}
		// Streams take the pool too while it has room: one more with
		// the pool full goes over the lanes.
		release := fillPool(t, c)
		st, err := c.Executor(dst).Stream(ctx, forwardJob())
		release()
		if err != nil {
			t.Fatalf("HTTP/2 offered %v: stream with the pool full: %v", h2, err)
		}
		st.Close()
		if got, want := len(l.local.served()), 2*rounds*parallel+1; got != want {
			t.Errorf("HTTP/2 offered %v: %d forwards served, want %d", h2, got, want)
		}
		rec.mu.Lock()
		conns := rec.conns
		rec.mu.Unlock()
		if len(conns) == 0 || len(conns) >= 2*rounds*parallel+1 {
			t.Errorf("HTTP/2 offered %v: %d connections for %d forwards, want some reused", h2, len(conns), 2*rounds*parallel)
		}
		protos := map[bool]bool{} // over HTTP/2

		for _, conn := range conns {
			tc, lc := linkConnOf(t, conn)
			if lc.exports.Load() != 1 {
				t.Errorf("HTTP/2 offered %v: the key of connection %v exported %d times, want once", h2, conn.LocalAddr(), lc.exports.Load())
			}
			protos[tc.ConnectionState().NegotiatedProtocol == "h2"] = true
		}
		// The pool's HTTP/1.1 connections, and the lanes' HTTP/2 ones or
		// the HTTP/1.1 fallback's: every dialer of the link was used.
		if !protos[false] || protos[true] != h2 {
			t.Errorf("HTTP/2 offered %v: connections over HTTP/2 and HTTP/1.1: %v", h2, protos)
		}
	}
}

// TestSessionMACOfEachConnection: a forward that net/http sends again on
// another connection (its GotConn hook runs again) carries the MAC under
// that connection's key, not the first's, and each connection's key is
// still exported only once.
func TestSessionMACOfEachConnection(t *testing.T) {
	t.Parallel()
	l := startLinkProto(t, true, true)
	var conns []net.Conn
	for range 2 {
		// A client each: two connections with keys of their own.
		var rec connRecorder
		if _, err := l.client(t, false).Executor(dst).Complete(rec.context(t.Context()), forwardJob()); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, rec.conns...)
	}
	if len(conns) != 2 {
		t.Fatalf("%d connections, want 2", len(conns))
	}
	e := envelope.Envelope{RequestID: "req-retried", SourceRegion: src, DestinationRegion: dst,
		ProfileARN: forwardJob().ProfileARN, IssuedAt: t0, Nonce: envelope.Nonce{7}}
	p, err := envelope.Prepare(e)
	if err != nil {
		t.Fatal(err)
	}
	req, err := EnvelopeSigner{}.SignForwarded(httptest.NewRequest(http.MethodPost, "https://"+l.addr+"/forward", nil), e)
	if err != nil {
		t.Fatal(err)
	}
	trace := httptrace.ContextClientTrace(req.Context())
	var macs []string
	for _, conn := range conns {
		trace.GotConn(httptrace.GotConnInfo{Conn: conn, Reused: true})
		tc, lc := linkConnOf(t, conn)
		cs := tc.ConnectionState()
		k, err := envelope.SessionKeyFrom(&cs)
		if err != nil {
			t.Fatal(err)
		}
		got := req.Header.Get(envelope.HeaderMAC)
		if want := p.MAC(&k); got != want {
			t.Errorf("MAC on connection %v: %s, want %s (under that connection's key)", conn.LocalAddr(), got, want)
		}
		if n := lc.exports.Load(); n != 1 {
			t.Errorf("the key of connection %v exported %d times, want once", conn.LocalAddr(), n)
		}
		macs = append(macs, got)
	}
	if macs[0] == macs[1] {
		t.Errorf("the same MAC on two connections")
	}
}

// TestLinkConnKeyForItsTLSConnectionOnly: a linkConn gives its key only
// for the TLS connection it was first asked for; no dialer makes a second
// one over it, but if one did it would get no key (and its requests no
// MAC), never the first one's.
func TestLinkConnKeyForItsTLSConnectionOnly(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	lc := &linkConn{Conn: a}
	first := tls.Client(lc, &tls.Config{ServerName: "x"})
	second := tls.Client(lc, &tls.Config{ServerName: "x"})
	p, err := envelope.Prepare(envelope.Envelope{RequestID: "req-1", SourceRegion: src, DestinationRegion: dst,
		ProfileARN: forwardJob().ProfileARN, IssuedAt: t0, Nonce: envelope.Nonce{7}})
	if err != nil {
		t.Fatal(err)
	}
	// No handshake: the first has no key either, but it is the one
	// the linkConn answers for.
	if _, err := lc.mac(first, p); err == nil || !strings.Contains(err.Error(), "no completed TLS handshake") {
		t.Fatalf("MAC on a connection without a handshake: %v", err)
	}
	if _, err := lc.mac(second, p); err == nil || !strings.Contains(err.Error(), "other than the one") {
		t.Fatalf("MAC on a second TLS connection over the linkConn: %v, want a refusal", err)
	}
	if _, err := connMAC(second, p); err == nil {
		t.Fatal("connMAC gave a MAC for the second TLS connection")
	}
	if n := lc.exports.Load(); n != 1 {
		t.Errorf("%d exports, want 1", n)
	}
}
