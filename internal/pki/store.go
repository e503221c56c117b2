package pki

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// Defaults for [StoreOptions] fields left zero.
const (
	DefaultPollInterval  = 5 * time.Second
	DefaultExpiryWarning = 14 * 24 * time.Hour
	// warnEvery limits the expiry warning to one log line per certificate
	// per period, however often the files are polled.
	warnEvery = 24 * time.Hour
)

// Clock tells the time; tests inject a fake one.
type Clock interface{ Now() time.Time }

// StoreOptions configures [NewStore].
type StoreOptions struct {
	// CertFile and KeyFile hold the node's PEM certificate and private key;
	// CAFile holds the PEM bundle of CA certificates trusted for peers
	// (during a CA rotation, the old and the new CA). All three are
	// required.
	CertFile, KeyFile, CAFile string
	// TrustDomain is the trust domain every peer and this node's own
	// certificate must belong to. If empty, [DefaultTrustDomain].
	TrustDomain string
	// Region, if set, is the region this node's certificate must name; a
	// rotated certificate for another region is refused.
	Region string
	// PollInterval is how often [Store.Run] rereads the files. If zero,
	// [DefaultPollInterval].
	PollInterval time.Duration
	// ExpiryWarning is how long before a certificate's expiry the store
	// starts logging warnings. If zero, [DefaultExpiryWarning] (14 days).
	ExpiryWarning time.Duration
	// Logger receives reload failures and expiry warnings. If nil, nothing
	// is logged.
	Logger *slog.Logger
	// Registerer, if not nil, receives the gauge
	// meridian_link_certificate_expiry_seconds{certificate="node"|"ca"}
	// (seconds until the node's certificate chain (the earliest NotAfter
	// of the leaf, the intermediates of its file the chain uses and the CA
	// it chains to; see verifiedNotAfter),
	// or the first-expiring CA of the bundle, expires; negative once
	// expired) and the counter
	// meridian_link_certificate_reloads_total{result="changed"|"error"}.
	Registerer prometheus.Registerer
	// Clock tells the time for certificate validity and expiry. If nil, the
	// system clock.
	Clock Clock
	// PeerRejected, if not nil, is called (from the handshake goroutine)
	// with every peer certificate the link TLS configurations refuse, so the
	// caller can count meridian_link_rejections_total{reason} and log it.
	PeerRejected func(*PeerError)
	// OnExpired, if not nil, is called (from [Store.Reload], so from
	// [Store.Run]'s goroutine, on every poll while the expiry stands) when
	// the node's own certificate chain has expired, and for each peer
	// region whose chain, as verified by a handshake of
	// [Store.ClientTLSConfig], has expired since (once only when the
	// region's most recent handshake verified a chain still valid: it
	// renewed): the caller closes its idle link connections, so that the
	// next request makes a new handshake, which fails closed (the link
	// server also closes a connection it refuses for expiry, so busy
	// connections end too). peer is "" for the node's
	// own chain. It runs with the store's reload lock held: it must not
	// call the store's Reload.
	OnExpired func(peer string)
}

// material is one consistent snapshot of the files.
type material struct {
	cert *tls.Certificate // Leaf set
	// chain is the rest of the certificate file (intermediates), parsed.
	chain []*x509.Certificate
	// notAfter is when the node's certificate chain stops being valid:
	// the earliest NotAfter of the leaf, the file's intermediates the
	// chain uses and the bundle CA it verifies to (see verifiedNotAfter).
	notAfter time.Time
	id       Identity
	pool     *x509.CertPool
	cas      []*x509.Certificate
	certPEM  []byte
	keyPEM   []byte
	caPEM    []byte
}

// Store holds the node's link certificate, key and CA bundle, rereads them
// from disk ([Store.Reload], or periodically in [Store.Run]) and serves the
// current material to TLS handshakes through callbacks, so a rotation
// takes effect for new handshakes while established connections continue.
// A changed file that cannot be read or is invalid (unparsable, key not
// matching the certificate, wrong identity, expired) is logged and the
// previous material kept. A Store is safe for concurrent use.
type Store struct {
	opts  StoreOptions
	td    string
	log   *slog.Logger
	clock Clock

	cur atomic.Pointer[material]

	mu      sync.Mutex // serializes reloads; guards the fields below
	expiry  expiryWarner
	reloads reloadLog
	// ownFired is the notAfter of the node's chain OnExpired was called
	// for.
	ownFired time.Time

	peersMu sync.Mutex
	// peerNotAfter holds, by region, the chain expiries this node's
	// client handshakes verified.
	peerNotAfter map[string]*peerExpiry
}

// NewStore loads the files named in opts and returns a Store serving them.
// Unlike later reloads, a failure here is returned: a node does not start
// without valid link material.
func NewStore(opts StoreOptions) (*Store, error) {
	var missing []error
	for _, f := range []struct{ name, val string }{{"cert_file", opts.CertFile}, {"key_file", opts.KeyFile}, {"ca_file", opts.CAFile}} {
		if f.val == "" {
			missing = append(missing, fmt.Errorf("link store: %s is empty; set it to a PEM file (see `meridian certs`)", f.name))
		}
	}
	if err := errors.Join(missing...); err != nil {
		return nil, err
	}
	s := &Store{opts: opts, td: opts.TrustDomain, log: opts.Logger, clock: opts.Clock}
	if s.td == "" {
		s.td = DefaultTrustDomain
	}
	if err := checkName("trust domain", s.td, 255, true); err != nil {
		return nil, err
	}
	s.log, s.clock, s.opts.PollInterval, s.opts.ExpiryWarning = watchDefaults(s.log, s.clock, s.opts.PollInterval, s.opts.ExpiryWarning)
	s.expiry = expiryWarner{log: s.log, what: "link certificate", within: s.opts.ExpiryWarning}
	m, err := s.load(nil)
	if err != nil {
		return nil, err
	}
	s.cur.Store(m)
	if err := s.register(opts.Registerer); err != nil {
		return nil, err
	}
	s.checkExpiry()
	return s, nil
}

func (s *Store) register(reg prometheus.Registerer) error {
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meridian_link_certificate_reloads_total",
		Help: "Link certificate, key and CA bundle reloads that changed the served material (changed) or were refused (error).",
	}, []string{"result"})
	s.reloads = reloadLog{log: s.log, what: "link certificate",
		changed: reloads.WithLabelValues("changed"), refused: reloads.WithLabelValues("error")}
	if reg == nil {
		return nil
	}
	expiry := func(kind string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "meridian_link_certificate_expiry_seconds",
			Help:        "Seconds until the link certificate's chain (node: the earliest of the leaf, its intermediates and the CA it chains to) or the first-expiring CA of the bundle (ca) expires; negative once expired.",
			ConstLabels: prometheus.Labels{"certificate": kind},
		}, f)
	}
	for _, c := range []prometheus.Collector{
		reloads,
		expiry("node", func() float64 { return s.cur.Load().notAfter.Sub(s.clock.Now()).Seconds() }),
		expiry("ca", func() float64 { return firstExpiry(s.cur.Load().cas).Sub(s.clock.Now()).Seconds() }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register link certificate metrics: %w", err)
		}
	}
	return nil
}

func firstExpiry(cas []*x509.Certificate) time.Time {
	var t time.Time
	for _, c := range cas {
		if t.IsZero() || c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}

// Certificate returns the node's current certificate and key, with Leaf
// set. The envelope signer uses its key. The returned value must not be
// modified.
func (s *Store) Certificate() *tls.Certificate { return s.cur.Load().cert }

// Identity returns the identity named by the node's current certificate.
func (s *Store) Identity() Identity { return s.cur.Load().id }

// TrustDomain returns the trust domain the store enforces.
func (s *Store) TrustDomain() string { return s.td }

// CAs returns the CA certificates of the current bundle, in the file's
// order (the link CA bundle GET /meridian/v1/trust publishes). The caller
// must not modify the slice.
func (s *Store) CAs() []*x509.Certificate { return s.cur.Load().cas }

// Pool returns the current CA bundle as a pool. It must not be modified.
func (s *Store) Pool() *x509.CertPool { return s.cur.Load().pool }

// Run rereads the files every PollInterval until ctx is done, then returns
// ctx.Err(). Reload failures are logged, never returned.
func (s *Store) Run(ctx context.Context) error {
	return pollReload(ctx, s.clock, s.opts.PollInterval, s.Reload)
}

// Reload rereads the files now. If their content changed and is valid, it
// becomes the material for new handshakes and changed is true. If a file is
// unreadable or invalid, the previous material is kept, the problem is
// logged (once per distinct problem) and returned. The certificate/key pair
// and the CA bundle are replaced independently, so a bad CA file does not
// hold back a good certificate, and vice versa. It also logs expiry
// warnings.
func (s *Store) Reload() (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	m, err := s.load(old)
	if m != old {
		s.cur.Store(m)
		changed = true
		s.log.Info("link certificates reloaded",
			"identity", m.id.String(),
			"serial", fmt.Sprintf("%x", m.cert.Leaf.SerialNumber),
			"not_after", m.cert.Leaf.NotAfter,
			"cas", len(m.cas))
	}
	s.reloads.record(changed, err)
	s.checkExpiryLocked()
	return changed, err
}

// load reads the three files. With old == nil every problem is an error.
// Otherwise it returns old, or a new material mixing old and new parts,
// plus the problems found.
func (s *Store) load(old *material) (*material, error) {
	certPEM, errC := os.ReadFile(s.opts.CertFile)
	keyPEM, errK := os.ReadFile(s.opts.KeyFile)
	caPEM, errA := os.ReadFile(s.opts.CAFile)
	now := s.clock.Now()

	next := &material{}
	var errs []error
	pairChanged := old == nil || !bytes.Equal(certPEM, old.certPEM) || !bytes.Equal(keyPEM, old.keyPEM)
	switch {
	case errC != nil || errK != nil:
		errs = append(errs, fmt.Errorf("read link certificate: %w", errors.Join(errC, errK)))
	case pairChanged:
		cert, id, err := s.parsePair(certPEM, keyPEM, now)
		if err != nil {
			errs = append(errs, err)
			break
		}
		next.cert, next.id, next.certPEM, next.keyPEM = cert, id, certPEM, keyPEM
		next.chain = intermediates(cert)
	}
	caChanged := old == nil || !bytes.Equal(caPEM, old.caPEM)
	switch {
	case errA != nil:
		errs = append(errs, fmt.Errorf("read link CA bundle: %w", errA))
	case caChanged:
		cas, err := ParseCertificates(caPEM)
		if err != nil {
			errs = append(errs, fmt.Errorf("read link CA bundle %s: %w", s.opts.CAFile, err))
			break
		}
		pool := x509.NewCertPool()
		for _, c := range cas {
			pool.AddCert(c)
		}
		next.cas, next.pool, next.caPEM = cas, pool, caPEM
	}
	err := errors.Join(errs...)
	if old == nil {
		if err != nil {
			return nil, err
		}
		s.complete(next)
		return next, nil
	}
	if next.cert == nil && next.pool == nil {
		return old, err // nothing new and valid
	}
	if next.cert == nil {
		next.cert, next.id, next.certPEM, next.keyPEM, next.chain = old.cert, old.id, old.certPEM, old.keyPEM, old.chain
	}
	if next.pool == nil {
		next.cas, next.pool, next.caPEM = old.cas, old.pool, old.caPEM
	}
	s.complete(next)
	return next, err
}

func (s *Store) parsePair(certPEM, keyPEM []byte, now time.Time) (*tls.Certificate, Identity, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// Typically a rotation caught between writing the key and the
		// certificate; the next poll sees both.
		return nil, Identity{}, fmt.Errorf("load link certificate %s with key %s: %w", s.opts.CertFile, s.opts.KeyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, Identity{}, fmt.Errorf("parse link certificate %s: %w", s.opts.CertFile, err)
		}
		pair.Leaf = leaf
	}
	id, err := IdentityFromCertificate(leaf)
	if err != nil {
		return nil, Identity{}, fmt.Errorf("link certificate %s: %w", s.opts.CertFile, err)
	}
	if id.TrustDomain != s.td {
		return nil, Identity{}, fmt.Errorf("link certificate %s: trust domain %q, want %q (link.trust_domain)", s.opts.CertFile, id.TrustDomain, s.td)
	}
	if s.opts.Region != "" && id.Region != s.opts.Region {
		return nil, Identity{}, fmt.Errorf("link certificate %s is for region %q, want %q; issue one with `meridian certs issue --region %s`", s.opts.CertFile, id.Region, s.opts.Region, s.opts.Region)
	}
	if now.After(leaf.NotAfter) {
		return nil, Identity{}, fmt.Errorf("link certificate %s expired at %s", s.opts.CertFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	// The envelope is signed with this key (see docs/security.md), so it
	// must be the ECDSA P-256 key our CA issues.
	if k, ok := pair.PrivateKey.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		return nil, Identity{}, fmt.Errorf("link key %s: %w (want P-256)", s.opts.KeyFile, errNotECDSA)
	}
	return &pair, id, nil
}

// intermediates returns the certificates of cert's file after the leaf;
// an unparsable one is left out (crypto/tls sends it as it is).
func intermediates(cert *tls.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, der := range cert.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// complete sets m.notAfter, and logs when the node's own certificate does
// not chain to its own CA bundle (with the intermediates its file
// carries): peers with the same bundle would refuse it. The material is
// still used, because peers may already trust a newer CA.
func (s *Store) complete(m *material) {
	opts := x509.VerifyOptions{Roots: m.pool, CurrentTime: s.clock.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if len(m.chain) > 0 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range m.chain {
			opts.Intermediates.AddCert(c)
		}
	}
	chains, err := m.cert.Leaf.Verify(opts)
	m.notAfter = verifiedNotAfter(chains, m.cert.Leaf, m.chain, m.cas)
	if err != nil {
		s.log.Warn("link certificate does not chain to the configured CA bundle; peers using the same bundle will refuse it",
			"cert_file", s.opts.CertFile, "ca_file", s.opts.CAFile, telemetry.AttrError, err)
	}
}

// chainNotAfter returns when a peer's chain stops being valid: the
// earliest NotAfter of the leaf, of every certificate sent with it and of
// the bundle CAs that issued any of them. Every certificate the peer sends
// counts, whether its chain needs it or not: the check reads no signature
// (it runs on every request), so a path inferred by names alone could be
// steered by a certificate the peer adds (an unsigned copy of an expired
// intermediate with a later NotAfter), and it fails closed instead. A peer
// whose file carries a stale certificate it no longer needs is refused
// once that certificate expires (retryably: the source fails over) until
// the file is cleaned. It is cheap enough for every request (a few
// comparisons per certificate).
func chainNotAfter(leaf *x509.Certificate, chain, cas []*x509.Certificate) time.Time {
	t := leaf.NotAfter
	for i := -1; i < len(chain); i++ {
		c := leaf
		if i >= 0 {
			c = chain[i]
			if c.NotAfter.Before(t) {
				t = c.NotAfter
			}
		}
		if ca := latestIssuer(c, cas, nil); ca != nil && ca.NotAfter.Before(t) {
			t = ca.NotAfter
		}
	}
	return t
}

// latestIssuer returns the certificate of certs, other than self, that
// names itself as c's issuer (subject, and key id when both carry one)
// and is valid longest; nil if none.
func latestIssuer(c *x509.Certificate, certs []*x509.Certificate, self *x509.Certificate) *x509.Certificate {
	var best *x509.Certificate
	for _, x := range certs {
		if x == self || !bytes.Equal(x.RawSubject, c.RawIssuer) {
			continue
		}
		if len(c.AuthorityKeyId) > 0 && len(x.SubjectKeyId) > 0 && !bytes.Equal(x.SubjectKeyId, c.AuthorityKeyId) {
			continue
		}
		if best == nil || x.NotAfter.After(best.NotAfter) {
			best = x
		}
	}
	return best
}

// verifiedNotAfter returns when the node's own chain stops being valid:
// of the chains verification builds (from the leaf through the file's
// intermediates to the bundle), the one whose earliest NotAfter is latest,
// so that a certificate of the file no chain needs changes nothing. If
// none verifies (a chain to a CA the bundle does not hold yet), the
// earliest of every certificate, as chainNotAfter.
func verifiedNotAfter(chains [][]*x509.Certificate, leaf *x509.Certificate, chain, cas []*x509.Certificate) time.Time {
	var best time.Time
	for _, ch := range chains {
		var t time.Time
		for _, c := range ch {
			if t.IsZero() || c.NotAfter.Before(t) {
				t = c.NotAfter
			}
		}
		if t.After(best) {
			best = t
		}
	}
	if best.IsZero() {
		return chainNotAfter(leaf, chain, cas)
	}
	return best
}

// CheckConnection reports whether a link connection may still carry
// requests at the store's clock's time: its peer's certificate chain
// (cs.PeerCertificates, leaf first, and the CA of the current bundle it
// chains to) and this node's current certificate chain are all within
// their NotAfter. TLS checks validity only at the handshake; the link
// server calls this for every request, so a connection made before a
// certificate expired stops being used when it does (see
// docs/security.md, "Certificate expiry"). It returns a [*PeerError] with
// [ReasonExpired] for the peer's chain, an [*OwnChainExpiredError] for
// this node's. cs is the request's verified connection state.
func (s *Store) CheckConnection(cs *tls.ConnectionState) error {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return nil // no peer certificate: refused by the envelope's own checks
	}
	m := s.cur.Load()
	now := s.clock.Now()
	if now.After(m.notAfter) {
		return &OwnChainExpiredError{CertFile: s.opts.CertFile, NotAfter: m.notAfter}
	}
	if t := chainNotAfter(cs.PeerCertificates[0], cs.PeerCertificates[1:], m.cas); now.After(t) {
		id, _ := IdentityFromCertificate(cs.PeerCertificates[0])
		return &PeerError{Server: true, Reason: ReasonExpired, Peer: id,
			Err: fmt.Errorf("the peer's certificate chain expired at %s", t.UTC().Format(time.RFC3339))}
	}
	return nil
}

// peerExpiry is what OnExpired knows of a peer region's chains, as this
// node's client handshakes verified them.
type peerExpiry struct {
	// earliest is the earliest chain expiry among the handshakes since
	// OnExpired was last called for the region: a connection made by one
	// of them may still be open.
	earliest time.Time
	// latest is the chain expiry of the most recent handshake: what a new
	// handshake would most likely find (a peer that renewed in time has a
	// later one than its older connections).
	latest time.Time
	// logged is the latest expiry an expired ERROR line was written for.
	logged time.Time
}

// notePeer records, for OnExpired, the expiry of the chain a client
// handshake with region verified.
func (s *Store) notePeer(region string, chain []*x509.Certificate) {
	if s.opts.OnExpired == nil {
		return
	}
	t := chainNotAfter(chain[0], chain[1:], s.cur.Load().cas)
	s.peersMu.Lock()
	defer s.peersMu.Unlock()
	if s.peerNotAfter == nil {
		s.peerNotAfter = map[string]*peerExpiry{}
	}
	p, ok := s.peerNotAfter[region]
	if !ok {
		p = &peerExpiry{earliest: t}
		s.peerNotAfter[region] = p
	}
	if t.Before(p.earliest) {
		p.earliest = t
	}
	p.latest = t
}

// fireExpiredLocked calls OnExpired for the node's own chain and each
// peer's that expired by now: on every call while the expiry stands (a
// connection that was busy at the last call may be idle now), so with
// each poll of [Store.Run]. A peer whose most recent handshake verified a
// chain still valid renewed in time: its older connections' chains
// expired, so its idle connections are closed once and that is logged at
// INFO; one whose most recent chain expired is logged at ERROR once per
// expiry. The caller holds s.mu.
func (s *Store) fireExpiredLocked(now time.Time) {
	f := s.opts.OnExpired
	if f == nil {
		return
	}
	m := s.cur.Load()
	if now.After(m.notAfter) {
		if !m.notAfter.Equal(s.ownFired) {
			s.ownFired = m.notAfter
			s.log.Warn("link certificate chain expired: closing idle link connections; new handshakes with it fail until a renewed certificate is installed",
				"cert_file", s.opts.CertFile, "not_after", m.notAfter)
		}
		f("")
	}
	type fire struct {
		region      string
		renewed     bool
		log         bool
		old, latest time.Time
	}
	var fires []fire
	s.peersMu.Lock()
	for region, p := range s.peerNotAfter {
		switch {
		case !now.After(p.earliest):
		case !now.After(p.latest):
			fires = append(fires, fire{region: region, renewed: true, old: p.earliest, latest: p.latest})
			p.earliest = p.latest
		default:
			fires = append(fires, fire{region: region, log: !p.logged.Equal(p.latest), latest: p.latest})
			p.logged = p.latest
		}
	}
	s.peersMu.Unlock()
	sort.Slice(fires, func(i, j int) bool { return fires[i].region < fires[j].region })
	for _, x := range fires {
		switch {
		case x.renewed:
			s.log.Info("a peer's older link certificate chain expired; it renewed: closing idle link connections made with the old chain",
				"peer", x.region, "old_not_after", x.old, "not_after", x.latest)
		case x.log:
			s.log.Error("a peer's link certificate chain expired: closing idle link connections to it; new handshakes fail until it installs a renewed certificate",
				"peer", x.region, "not_after", x.latest)
		}
		f(x.region)
	}
}

func (s *Store) checkExpiry() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkExpiryLocked()
}

func (s *Store) checkExpiryLocked() {
	m := s.cur.Load()
	now := s.clock.Now()
	s.expiry.check(now, "node", s.opts.CertFile, m.cert.Leaf)
	for _, c := range m.chain {
		s.expiry.check(now, "intermediate", s.opts.CertFile, c)
	}
	for _, c := range m.cas {
		s.expiry.check(now, "ca", s.opts.CAFile, c)
	}
	s.fireExpiredLocked(now)
}
