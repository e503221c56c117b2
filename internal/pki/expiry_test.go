package pki_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
)

// expiredCalls records StoreOptions.OnExpired's calls.
type expiredCalls struct {
	mu    sync.Mutex
	peers []string
}

func (e *expiredCalls) add(peer string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.peers = append(e.peers, peer)
}

func (e *expiredCalls) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.peers...)
}

// TestExpiredLoggedAfterWarning: the "expires soon" warning logged before
// the expiry does not hide the "expired" line, an ERROR logged at the first
// check past NotAfter; OnExpired is called once for the node's own chain.
func TestExpiredLoggedAfterWarning(t *testing.T) {
	t.Parallel()
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := pkitest.New(t, "")
	f.Now = issued
	opts := f.Options(t, "eu-west-1")
	clk := clock.NewManual(issued.Add(time.Hour))
	var logs bytes.Buffer
	var calls expiredCalls
	opts.Clock, opts.OnExpired = clk, calls.add
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s, err := pki.NewStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	notAfter := s.Certificate().Leaf.NotAfter

	clk.Set(notAfter.Add(-time.Hour))
	s.Reload()
	if !strings.Contains(logs.String(), `level=WARN msg="link certificate expires soon" certificate=node`) {
		t.Fatalf("no warning an hour before the expiry:\n%s", logs.String())
	}
	if got := calls.get(); len(got) != 0 {
		t.Fatalf("OnExpired called before the expiry: %q", got)
	}
	clk.Set(notAfter.Add(time.Second))
	s.Reload()
	s.Reload()
	if n := strings.Count(logs.String(), `level=ERROR msg="link certificate expired" certificate=node`); n != 1 {
		t.Errorf("%d ERROR lines for the expiry (two polls a second after it, an hour after the warning), want 1:\n%s", n, logs.String())
	}
	if got := calls.get(); len(got) != 2 || got[0] != "" || got[1] != "" {
		t.Errorf("OnExpired calls = %q, want one for the node's own chain per poll", got)
	}
}

// chainPKI is a root CA allowing one intermediate, an intermediate, and
// the times they expire, for tests of chains (built by hand: `meridian
// certs` issues node certificates from the root alone).
type chainPKI struct {
	dir   string
	base  time.Time
	root  *pki.CA
	inter *pki.CA
}

func newChainPKI(t testing.TB, base time.Time, rootFor, interFor time.Duration) *chainPKI {
	t.Helper()
	dir := t.TempDir()
	root, err := pki.InitDir(dir, pki.CAOptions{Now: base, ValidFor: rootFor, MaxPathLen: 1})
	if err != nil {
		t.Fatal(err)
	}
	if root.Cert.MaxPathLen != 1 {
		t.Fatalf("root MaxPathLen = %d, want 1", root.Cert.MaxPathLen)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := sign(t, root, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "intermediate"},
		NotBefore: base.Add(-time.Minute), NotAfter: base.Add(interFor),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
		SubjectKeyId: []byte("intermediate-key"),
		URIs:         []*url.URL{{Scheme: "spiffe", Host: pki.DefaultTrustDomain}},
	}, key)
	return &chainPKI{dir: dir, base: base, root: root, inter: &pki.CA{Cert: cert, Key: key}}
}

func sign(t testing.TB, parent *pki.CA, tmpl *x509.Certificate, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl.AuthorityKeyId = parent.Cert.SubjectKeyId
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent.Cert, &key.PublicKey, parent.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leaf issues region's node certificate from parent, valid for validFor,
// and writes it (followed by the chain's other certificates) and its key
// to files; it returns the certificate and StoreOptions for them.
func (p *chainPKI) leaf(t testing.TB, parent *pki.CA, region string, validFor time.Duration, chain ...*x509.Certificate) (*x509.Certificate, pki.StoreOptions) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	id := pki.Identity{TrustDomain: pki.DefaultTrustDomain, Region: region}
	c := sign(t, parent, &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: region},
		NotBefore: p.base.Add(-time.Minute), NotAfter: p.base.Add(validFor),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{id.URI()},
	}, key)
	var certPEM []byte
	for _, x := range append([]*x509.Certificate{c}, chain...) {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})...)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	opts := pki.StoreOptions{CertFile: filepath.Join(dir, "node.crt"), KeyFile: filepath.Join(dir, "node.key"),
		CAFile: filepath.Join(p.dir, pki.CACertFile), Region: region}
	writeString(t, opts.CertFile, string(certPEM))
	writeString(t, opts.KeyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	return c, opts
}

// TestIntermediateChain: a node certificate issued by an intermediate,
// whose file carries the intermediate, is not reported as untrusted; the
// expiry gauge and the expiry log follow the intermediate when it expires
// first, and the CA the chain ends in when that does.
func TestIntermediateChain(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	p := newChainPKI(t, base, 40*day, 20*day)
	_, opts := p.leaf(t, p.inter, "eu-west-1", 30*day, p.inter.Cert)
	clk := clock.NewManual(base.Add(time.Hour))
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	opts.Clock, opts.Registerer, opts.Logger = clk, reg, slog.New(slog.NewTextHandler(&logs, nil))
	s, err := pki.NewStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "does not chain") {
		t.Errorf("false untrusted warning for a chain with its intermediate:\n%s", logs.String())
	}
	if got, want := gauge(t, reg, "meridian_link_certificate_expiry_seconds", "node"), (20*day - time.Hour).Seconds(); math.Abs(got-want) > 1 {
		t.Errorf("node expiry gauge = %v, want %v (the intermediate's, which expires before the leaf)", got, want)
	}
	clk.Set(base.Add(20*day + time.Second))
	s.Reload()
	if !strings.Contains(logs.String(), `level=ERROR msg="link certificate expired" certificate=intermediate`) {
		t.Errorf("no ERROR line for the intermediate's expiry:\n%s", logs.String())
	}

	// A leaf valid longer than the root it is issued from: the gauge
	// shows the root's expiry.
	_, usOpts := p.leaf(t, p.root, "us-east-1", 60*day)
	reg2 := prometheus.NewRegistry()
	usOpts.Clock, usOpts.Registerer = clock.NewManual(base.Add(time.Hour)), reg2
	if _, err := pki.NewStore(usOpts); err != nil {
		t.Fatal(err)
	}
	if got, want := gauge(t, reg2, "meridian_link_certificate_expiry_seconds", "node"), (40*day - time.Hour).Seconds(); math.Abs(got-want) > 1 {
		t.Errorf("node expiry gauge = %v, want %v (the root's)", got, want)
	}
}

// TestCheckConnection: a connection's certificates, verified at its
// handshake, are checked again for every request against the store's
// clock: the peer's leaf, the intermediates it sent, and this node's own
// chain.
func TestCheckConnection(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	p := newChainPKI(t, base, 400*day, 20*day)
	_, ownOpts := p.leaf(t, p.root, "us-east-1", 100*day)
	euLeaf, _ := p.leaf(t, p.inter, "eu-west-1", 30*day, p.inter.Cert)
	shortLeaf, _ := p.leaf(t, p.root, "eu-central-1", 5*day)
	// Issued by the root, sent with the (unneeded) intermediate, which
	// expires on day 20: verification does not use it.
	extraLeaf, _ := p.leaf(t, p.root, "ap-south-1", 50*day, p.inter.Cert)
	// An old copy of the root (same subject and key, expiring on day 20),
	// as a fullchain file may carry it: the bundle holds the root.
	oldRootTmpl := &x509.Certificate{SerialNumber: big.NewInt(99), RawSubject: p.root.Cert.RawSubject,
		SubjectKeyId: p.root.Cert.SubjectKeyId, NotBefore: base.Add(-time.Minute), NotAfter: base.Add(20 * day),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	oldRootDER, err := x509.CreateCertificate(rand.Reader, oldRootTmpl, oldRootTmpl, &p.root.Key.PublicKey, p.root.Key)
	if err != nil {
		t.Fatal(err)
	}
	oldRoot, err := x509.ParseCertificate(oldRootDER)
	if err != nil {
		t.Fatal(err)
	}
	// A copy of the intermediate with a NotAfter far later (its signature
	// is the root's, not the CA's: what a peer could add to its chain).
	laterTmpl := &x509.Certificate{SerialNumber: big.NewInt(98), RawSubject: p.inter.Cert.RawSubject, RawIssuer: p.inter.Cert.RawIssuer,
		SubjectKeyId: p.inter.Cert.SubjectKeyId, NotBefore: base.Add(-time.Minute), NotAfter: base.Add(400 * day),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	laterDER, err := x509.CreateCertificate(rand.Reader, laterTmpl, p.root.Cert, &p.root.Key.PublicKey, p.root.Key)
	if err != nil {
		t.Fatal(err)
	}
	oldRootLater, err := x509.ParseCertificate(laterDER)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(base)
	ownOpts.Clock = clk
	s, err := pki.NewStore(ownOpts)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		at    time.Duration // after base
		chain []*x509.Certificate
		want  string // in the error; "" for none
	}{
		{"all valid", day, []*x509.Certificate{euLeaf, p.inter.Cert}, ""},
		{"short leaf valid", 4 * day, []*x509.Certificate{shortLeaf}, ""},
		{"peer leaf expired", 6 * day, []*x509.Certificate{shortLeaf}, "the peer's certificate chain expired at 2026-03-06T00:00:00Z"},
		{"peer intermediate expired", 21 * day, []*x509.Certificate{euLeaf, p.inter.Cert}, "the peer's certificate chain expired at 2026-03-21T00:00:00Z"},
		// Every certificate sent counts (no signature is read per request):
		// a stale one fails closed.
		{"unneeded expired certificate in the peer's chain", 21 * day, []*x509.Certificate{extraLeaf, p.inter.Cert}, "the peer's certificate chain expired at 2026-03-21T00:00:00Z"},
		{"old root copy in the peer's chain", 21 * day, []*x509.Certificate{extraLeaf, oldRoot}, "the peer's certificate chain expired at 2026-03-21T00:00:00Z"},
		{"a later copy of an expired intermediate added", 21 * day, []*x509.Certificate{euLeaf, p.inter.Cert, oldRootLater}, "the peer's certificate chain expired at 2026-03-21T00:00:00Z"},
		{"peer leaf beside an unneeded certificate expired", 51 * day, []*x509.Certificate{extraLeaf, p.inter.Cert}, "the peer's certificate chain expired at 2026-03-21T00:00:00Z"},
		{"own chain expired", 101 * day, []*x509.Certificate{euLeaf, p.inter.Cert}, "own link certificate chain"},
		{"no peer certificate", 101 * day, nil, ""},
	}
	for _, tc := range tests {
		clk.Set(base.Add(tc.at))
		err := s.CheckConnection(&tls.ConnectionState{HandshakeComplete: true, PeerCertificates: tc.chain})
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v, want nil", tc.name, err)
			}
			continue
		}
		var pe *pki.PeerError
		var oe *pki.OwnChainExpiredError
		if strings.HasPrefix(tc.name, "own") {
			// Not a PeerError: the peer's certificate is not at fault.
			if !errors.As(err, &oe) || errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want an OwnChainExpiredError containing %q", tc.name, err, tc.want)
			}
			continue
		}
		if !errors.As(err, &pe) || pe.Reason != pki.ReasonExpired || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a %s PeerError containing %q", tc.name, err, pki.ReasonExpired, tc.want)
		}
	}
}

// TestOwnChainIgnoresUnneededCertificate: the node's own file carries an
// intermediate its chain does not need, which expires on day 20: the
// node's chain expiry is its leaf's (Verify's chains), so it keeps
// accepting forwards after day 20.
func TestOwnChainIgnoresUnneededCertificate(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	p := newChainPKI(t, base, 400*day, 20*day)
	peerLeaf, _ := p.leaf(t, p.root, "eu-west-1", 100*day)
	_, ownOpts := p.leaf(t, p.root, "us-east-1", 100*day, p.inter.Cert)
	for _, at := range []time.Duration{day, 21 * day} { // the store loaded before and after the extra's expiry
		clk := clock.NewManual(base.Add(at))
		ownOpts.Clock = clk
		s, err := pki.NewStore(ownOpts)
		if err != nil {
			t.Fatal(err)
		}
		clk.Set(base.Add(21 * day))
		if err := s.CheckConnection(&tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{peerLeaf}}); err != nil {
			t.Errorf("loaded on day %d: CheckConnection on day 21: %v, want nil", int(at/day), err)
		}
		clk.Set(base.Add(101 * day))
		if err := s.CheckConnection(&tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{peerLeaf}}); err == nil {
			t.Errorf("loaded on day %d: CheckConnection on day 101 (own leaf expired): nil, want a refusal", int(at/day))
		}
	}
}

// TestClientClosesOnPeerExpiry: a client handshake records the server's
// chain expiry, and the first reload past it calls OnExpired for that
// region on every poll while it stands (a connection busy at one poll may
// be idle at the next).
func TestClientClosesOnPeerExpiry(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	p := newChainPKI(t, base, 400*day, 300*day)
	_, srcOpts := p.leaf(t, p.root, "eu-west-1", 100*day)
	_, dstOpts := p.leaf(t, p.inter, "eu-central-1", 10*day, p.inter.Cert)
	clk := clock.NewManual(base)
	var calls expiredCalls
	srcOpts.Clock, srcOpts.OnExpired = clk, calls.add
	dstOpts.Clock = clk
	src, err := pki.NewStore(srcOpts)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := pki.NewStore(dstOpts)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := linkServer(t, dst, "eu-west-1")
	resp, err := linkClient(src.ClientTLSConfig("eu-central-1")).Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	clk.Set(base.Add(10*day - time.Second))
	src.Reload()
	if got := calls.get(); len(got) != 0 {
		t.Fatalf("OnExpired before the peer's expiry: %q", got)
	}
	clk.Set(base.Add(10*day + time.Second))
	src.Reload()
	src.Reload()
	if got := calls.get(); len(got) != 2 || got[0] != "eu-central-1" || got[1] != "eu-central-1" {
		t.Errorf("OnExpired calls = %q, want one for eu-central-1 per poll", got)
	}
}

// TestRenewedPeerNotReportedExpired: the peer renews before its first
// certificate's expiry and this node makes a new handshake with it; at the
// old expiry the connections made with the old chain are closed when idle
// (one OnExpired call, an INFO line), and no ERROR says new handshakes
// fail.
func TestRenewedPeerNotReportedExpired(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	p := newChainPKI(t, base, 400*day, 300*day)
	_, srcOpts := p.leaf(t, p.root, "eu-west-1", 100*day)
	_, dstOpts := p.leaf(t, p.root, "eu-central-1", 10*day)
	clk := clock.NewManual(base)
	var logs bytes.Buffer
	var calls expiredCalls
	srcOpts.Clock, srcOpts.OnExpired, srcOpts.Logger = clk, calls.add, slog.New(slog.NewTextHandler(&logs, nil))
	dstOpts.Clock = clk
	src, err := pki.NewStore(srcOpts)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := pki.NewStore(dstOpts)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := linkServer(t, dst, "eu-west-1")
	cl := linkClient(src.ClientTLSConfig("eu-central-1"))
	get := func() {
		t.Helper()
		resp, err := cl.Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get()
	// Day 5: the destination renews, and the source makes a new
	// handshake with it.
	clk.Set(base.Add(5 * day))
	_, renewedOpts := p.leaf(t, p.root, "eu-central-1", 100*day)
	certPEM, _ := os.ReadFile(renewedOpts.CertFile)
	keyPEM, _ := os.ReadFile(renewedOpts.KeyFile)
	writeString(t, dstOpts.KeyFile, string(keyPEM))
	writeString(t, dstOpts.CertFile, string(certPEM))
	if changed, err := dst.Reload(); !changed || err != nil {
		t.Fatalf("renewal: changed=%v err=%v", changed, err)
	}
	cl.Transport.(*http.Transport).CloseIdleConnections()
	get()
	clk.Set(base.Add(10*day + time.Second))
	src.Reload()
	src.Reload()
	if strings.Contains(logs.String(), "peer's link certificate chain expired") {
		t.Errorf("ERROR line for a peer that renewed in time:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `level=INFO msg="a peer's older link certificate chain expired; it renewed`) {
		t.Errorf("no INFO line for the old chain's expiry:\n%s", logs.String())
	}
	if got := calls.get(); len(got) != 1 || got[0] != "eu-central-1" {
		t.Errorf("OnExpired calls = %q, want one for eu-central-1 (the old chain's idle connections)", got)
	}
}

// BenchmarkCheckConnection is the cost the link server adds to every
// forwarded request: a peer chain of leaf and intermediate, a bundle of
// one root.
func BenchmarkCheckConnection(b *testing.B) {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	p := newChainPKI(b, base, 400*day, 300*day)
	_, ownOpts := p.leaf(b, p.root, "us-east-1", 100*day)
	euLeaf, _ := p.leaf(b, p.inter, "eu-west-1", 30*day, p.inter.Cert)
	ownOpts.Clock = clock.NewManual(base.Add(day))
	s, err := pki.NewStore(ownOpts)
	if err != nil {
		b.Fatal(err)
	}
	cs := &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{euLeaf, p.inter.Cert}}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.CheckConnection(cs); err != nil {
			b.Fatal(err)
		}
	}
}
