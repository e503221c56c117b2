package interregion

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
)

// TestExpiredPeerCertificateOnOpenConnection: TLS checks a certificate's
// validity only at the handshake. A connection made while the source's
// certificate was valid is refused, request by request, once it has
// expired (on the destination's clock), with the link's refusal
// (unauthenticated), and nothing is served: the connection stops being
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
		Verifier:   envelope.NewVerifier(envelope.VerifierOptions{Region: dst, VerifySigner: dstStore.VerifyPeer, Checker: euChecker}),
		Clock:      dstClock,
		Connection: dstStore.CheckConnection,
	}})
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
			if code != http.StatusForbidden || we.Code != "link_unauthenticated" {
				t.Errorf("request on an open connection after the peer's certificate expired: status %d %+v, want 403 link_unauthenticated", code, we)
			}
			if n := len(l.local.served()); n != served {
				t.Errorf("destination served %d more jobs after the expiry", n-served)
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
