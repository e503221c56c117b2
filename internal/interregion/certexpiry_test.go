package interregion

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
)

// TestExpiredPeerCertificateOnOpenConnection: TLS checks a certificate's
// validity only at the handshake. A connection made while the source's
// certificate was valid is refused, request by request, once it has
// expired (on the destination's clock), with the link's retryable refusal
// (unavailable, link_certificate_expired: the source fails over), nothing
// is served, and the connection is closed after the answer: it stops being
// used at the expiry, not at the next reconnect.
func TestExpiredPeerCertificateOnOpenConnection(t *testing.T) {
	t.Parallel()
	// A CA of its own, made before t0 (pkitest.New's is made now).
	dir := t.TempDir()
	ca, err := pki.InitDir(dir, pki.CAOptions{Now: t0.Add(-48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f := &pkitest.Fixture{Dir: dir, TrustDomain: ca.TrustDomain(), CA: ca}
	// The destination's clock: t0 plus skew (a test clock that can go
	// back, for each sealing's subtest).
	var skew atomic.Int64
	dstClock := nowClock(func() time.Time { return t0.Add(time.Duration(skew.Load())) })
	// The source's certificate was issued a day before the destination's,
	// so it expires first.
	f.Now = t0.Add(-24 * time.Hour)
	srcOpts := f.Options(t, src)
	srcOpts.Clock = clock.NewManual(t0)
	f.Now = t0
	dstOpts := f.Options(t, dst)
	dstOpts.Clock = dstClock
	l := &link{local: &recorder{}, fixture: f}
	l.source = newStore(t, srcOpts)
	dstStore := newStore(t, dstOpts)
	h := NewServer(ServerOptions{Local: l.local, Verifier: EnvelopeVerifier{
		Verifier: envelope.NewVerifier(envelope.VerifierOptions{Region: dst, VerifySigner: dstStore.VerifyPeer, Checker: euChecker}),
		Clock:    dstClock,
	}, Connection: dstStore.CheckConnection})
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.Config.ConnContext = ConnContext
	ts.TLS = dstStore.ServerTLSConfig(func(r string) bool { return r == src })
	ts.StartTLS()
	t.Cleanup(ts.Close)
	l.addr = ts.Listener.Addr().String()
	expiry := l.source.Certificate().Leaf.NotAfter

	for _, s := range sealings {
		t.Run(s.name, func(t *testing.T) {
			skew.Store(0)
			c := l.dial(t)
			job := forwardJob()
			job.RequestID = "req-valid-" + s.name
			hdr, body := sealedRequest(t, l, c, s, job)
			if code, we := c.send(hdr, body); code != http.StatusOK {
				t.Fatalf("request while the certificate is valid: status %d %+v", code, we)
			}
			served := len(l.local.served())

			// The same connection, a second after the source's
			// certificate expired on the destination's clock.
			skew.Store(int64(expiry.Add(time.Second).Sub(t0)))
			job = forwardJob()
			job.RequestID = "req-expired-" + s.name
			hdr, body = sealedRequest(t, l, c, s, job)
			code, we := c.send(hdr, body)
			if code != http.StatusServiceUnavailable || we.Code != CodeCertificateExpired || !we.err(dst).Kind.Retryable() {
				t.Errorf("request on an open connection after the peer's certificate expired: status %d %+v, want 503 %s (retryable)", code, we, CodeCertificateExpired)
			}
			if n := len(l.local.served()); n != served {
				t.Errorf("destination served %d more jobs after the expiry", n-served)
			}
			if _, err := c.br.ReadByte(); err == nil {
				t.Errorf("the connection is still open after the refusal, want it closed")
			}
		})
	}
}

func newStore(t *testing.T, opts pki.StoreOptions) *pki.Store {
	t.Helper()
	s, err := pki.NewStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// blockingLocal serves forwarded jobs, holding the one with request id
// "block" until release is closed.
type blockingLocal struct {
	mu      sync.Mutex
	served  []string
	arrived chan struct{}
	release chan struct{}
}

func (b *blockingLocal) ServeForwarded(ctx context.Context, job *dispatch.Job) (*dispatch.Outcome, error) {
	if job.RequestID == "block" {
		close(b.arrived)
		<-b.release
	}
	b.mu.Lock()
	b.served = append(b.served, job.RequestID)
	b.mu.Unlock()
	return &dispatch.Outcome{Response: &inference.Response{}}, nil
}

// TestExpiredCertificateOnBusyConnection: the destination's certificate
// expires while a forward is in flight on the source's HTTP/2 lane (a
// connection OnExpired cannot close: it is never idle). Requests sent on
// it afterwards get a retryable refusal (the gateway fails over before
// the first byte, rather than answering 403), the refusal ends the
// connection (GOAWAY: the request in flight still completes), the
// refusals do not count as the peer heard, and the probes, whose new
// handshakes fail, mark the peer down.
func TestExpiredCertificateOnBusyConnection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, err := pki.InitDir(dir, pki.CAOptions{Now: t0.Add(-48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f := &pkitest.Fixture{Dir: dir, TrustDomain: ca.TrustDomain(), CA: ca}
	var skew atomic.Int64
	dstClock := nowClock(func() time.Time { return t0.Add(time.Duration(skew.Load())) })
	f.Now = t0.Add(-24 * time.Hour)
	dstOpts := f.Options(t, dst) // the destination's certificate expires first
	dstOpts.Clock = dstClock
	f.Now = t0
	srcOpts := f.Options(t, src)
	srcClk := clock.NewManual(t0)
	srcOpts.Clock = srcClk
	var client *Client
	var fired atomic.Int32
	srcOpts.OnExpired = func(peer string) { fired.Add(1); client.CloseIdleConnections(peer) }
	srcStore := newStore(t, srcOpts)
	dstStore := newStore(t, dstOpts)
	local := &blockingLocal{arrived: make(chan struct{}), release: make(chan struct{})}
	h := NewServer(ServerOptions{Local: local, Verifier: EnvelopeVerifier{
		Verifier: envelope.NewVerifier(envelope.VerifierOptions{Region: dst, VerifySigner: dstStore.VerifyPeer, Checker: euChecker}),
		Clock:    dstClock,
	}, Connection: dstStore.CheckConnection})
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.Config.ConnContext = ConnContext
	ts.EnableHTTP2 = true
	ts.TLS = dstStore.ServerTLSConfig(func(r string) bool { return r == src })
	ts.StartTLS()
	t.Cleanup(ts.Close)
	cliClk := clock.NewManual(t0)
	client = NewClient(ClientOptions{Region: src, Peers: []Peer{{Region: dst, Addr: ts.Listener.Addr().String()}},
		TLS: srcStore.ClientTLSConfig, Signer: EnvelopeSigner{Store: srcStore}, Clock: cliClk,
		DownAfter: 10 * time.Second, ProbeInterval: time.Second})
	t.Cleanup(client.Close)
	client.probe(t.Context(), client.peers[dst])
	if !client.PeerHealthy(dst) {
		t.Fatal("peer not healthy before the expiry")
	}

	done := make(chan error, 1)
	go func() {
		job := forwardJob()
		job.RequestID = "block"
		_, err := client.Executor(dst).Complete(context.Background(), job)
		done <- err
	}()
	<-local.arrived
	expiry := dstStore.Certificate().Leaf.NotAfter
	skew.Store(int64(expiry.Add(time.Second).Sub(t0)))
	srcClk.Set(expiry.Add(time.Second))
	srcStore.Reload() // OnExpired(dst) closes idle connections; the busy one survives
	if fired.Load() == 0 {
		t.Fatal("OnExpired not called after the peer's expiry")
	}
	check := func(what string, err error) {
		t.Helper()
		e := inference.AsError(err)
		if err == nil || !e.Kind.Retryable() || e.Kind == inference.KindPermissionDenied {
			t.Errorf("%s: %v (kind %v), want a retryable error", what, err, e.Kind)
		}
	}
	job := forwardJob()
	job.RequestID = "between"
	_, err = client.Executor(dst).Complete(context.Background(), job)
	check("request on the surviving busy connection", err)
	close(local.release)
	if err := <-done; err != nil {
		t.Errorf("the request in flight at the expiry: %v, want it served", err)
	}
	for i := range 3 {
		fired.Store(0)
		srcStore.Reload()
		if fired.Load() == 0 {
			t.Errorf("poll %d after the expiry: OnExpired not called, want it on every poll while the expiry stands", i)
		}
		job := forwardJob()
		job.RequestID = "after"
		cliClk.Advance(2 * time.Second)
		_, err := client.Executor(dst).Complete(context.Background(), job)
		check("request after the expiry", err)
	}
	for range 2 {
		client.probe(t.Context(), client.peers[dst])
		cliClk.Advance(2 * time.Second)
	}
	if client.PeerHealthy(dst) {
		t.Error("peer still healthy after failing probes, want it down")
	}
	local.mu.Lock()
	defer local.mu.Unlock()
	if len(local.served) != 1 || local.served[0] != "block" {
		t.Errorf("destination served %q, want only the request in flight at the expiry", local.served)
	}
}

// TestExpiredCertificateOnStateRoutes: the state fetch and push are
// refused on a connection whose certificate expired, as forwards are: an
// expired peer's pushed load and application profiles are not applied,
// and this node's state is not served to it.
func TestExpiredCertificateOnStateRoutes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, err := pki.InitDir(dir, pki.CAOptions{Now: t0.Add(-48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f := &pkitest.Fixture{Dir: dir, TrustDomain: ca.TrustDomain(), CA: ca}
	var skew atomic.Int64
	dstClock := nowClock(func() time.Time { return t0.Add(time.Duration(skew.Load())) })
	f.Now = t0.Add(-24 * time.Hour)
	srcOpts := f.Options(t, src) // the source's certificate expires first
	srcOpts.Clock = clock.NewManual(t0)
	f.Now = t0
	dstOpts := f.Options(t, dst)
	dstOpts.Clock = dstClock
	l := &link{local: &recorder{}, fixture: f}
	l.source = newStore(t, srcOpts)
	dstStore := newStore(t, dstOpts)
	var pushes atomic.Int32
	h := NewServer(ServerOptions{Local: l.local, State: func() any { return map[string]string{"state": "secret"} },
		OnPush:     func(string, json.RawMessage) { pushes.Add(1) },
		Connection: dstStore.CheckConnection})
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.Config.ConnContext = ConnContext
	ts.TLS = dstStore.ServerTLSConfig(func(r string) bool { return r == src })
	ts.StartTLS()
	t.Cleanup(ts.Close)
	l.addr = ts.Listener.Addr().String()
	expiry := l.source.Certificate().Leaf.NotAfter
	for _, tc := range []struct {
		method string
		body   string
	}{{http.MethodGet, ""}, {http.MethodPost, `{"region":"eu-west-1"}`}} {
		t.Run(tc.method, func(t *testing.T) {
			skew.Store(0)
			c := l.dial(t)
			send := func() *http.Response {
				t.Helper()
				req, _ := http.NewRequest(tc.method, "https://"+dst+PathState, strings.NewReader(tc.body))
				if err := req.Write(c.tc); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(c.br, req)
				if err != nil {
					t.Fatal(err)
				}
				return resp
			}
			resp := send()
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				t.Fatalf("before the expiry: status %d", resp.StatusCode)
			}
			before := pushes.Load()
			skew.Store(int64(expiry.Add(time.Second).Sub(t0)))
			resp = send()
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var we wireError
			json.Unmarshal(body, &we)
			if resp.StatusCode != http.StatusServiceUnavailable || we.Code != CodeCertificateExpired || resp.Header.Get(HeaderLinkRefused) == "" {
				t.Errorf("after the expiry: status %d %s, want 503 %s with %s", resp.StatusCode, body, CodeCertificateExpired, HeaderLinkRefused)
			}
			if strings.Contains(string(body), "secret") {
				t.Errorf("state served after the expiry: %s", body)
			}
			if n := pushes.Load(); n != before {
				t.Errorf("push applied after the expiry")
			}
		})
	}
}
