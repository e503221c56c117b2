package pki

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ServingOptions configure [NewServingStore].
type ServingOptions struct {
	// CertFile and KeyFile hold the listener's PEM certificate chain and
	// private key. Both are required.
	CertFile, KeyFile string
	// ClientCAFile, if set, holds the PEM bundle that client certificates
	// are verified against; a client may then present one (it is optional:
	// API keys still work).
	ClientCAFile string
	// NextProtos are the ALPN protocols offered, e.g. h2 and http/1.1.
	NextProtos []string
	// PollInterval is how often [ServingStore.Run] rereads the files. If
	// zero, [DefaultPollInterval].
	PollInterval time.Duration
	// ExpiryWarning is how long before the certificate's expiry warnings
	// start. If zero, [DefaultExpiryWarning].
	ExpiryWarning time.Duration
	// Logger receives reloads, refused reloads and expiry warnings.
	Logger *slog.Logger
	// Registerer, if not nil, receives
	// meridian_client_certificate_expiry_seconds and
	// meridian_client_certificate_reloads_total{result}.
	Registerer prometheus.Registerer
	// Clock tells the time. If nil, the system clock.
	Clock Clock
}

// servingMaterial is one consistent snapshot of the files, with the TLS
// configuration handshakes use.
type servingMaterial struct {
	cert                   *tls.Certificate // Leaf set
	certPEM, keyPEM, caPEM []byte
	pool                   *x509.CertPool
	cfg                    *tls.Config
	// verified caches CheckClientChain's results for this pool: leaf
	// SHA-256 → when the verified chain's first certificate expires.
	verifiedMu sync.Mutex
	verified   map[[32]byte]time.Time
}

// maxVerifiedChains bounds the chain cache of one client CA bundle; past
// it the cache starts over.
const maxVerifiedChains = 4096

// ServingStore serves a client-facing listener's certificate and client CA
// bundle from disk, rereading them so that a rotation (a renewed
// certificate, a new client CA) applies to the next handshake without a
// restart; established connections continue. A changed file that cannot be
// read or is invalid is logged and the previous material kept. Safe for
// concurrent use.
type ServingStore struct {
	opts  ServingOptions
	log   *slog.Logger
	clock Clock
	cur   atomic.Pointer[servingMaterial]

	mu      sync.Mutex // serializes reloads; guards the fields below
	expiry  expiryWarner
	reloads reloadLog
}

// NewServingStore loads the files named in opts. Unlike later reloads, a
// failure here is returned: a listener does not start without a valid
// certificate.
func NewServingStore(opts ServingOptions) (*ServingStore, error) {
	if opts.CertFile == "" || opts.KeyFile == "" {
		return nil, errors.New("serving certificate: set both cert_file and key_file")
	}
	s := &ServingStore{opts: opts, log: opts.Logger, clock: opts.Clock}
	s.log, s.clock, s.opts.PollInterval, s.opts.ExpiryWarning = watchDefaults(s.log, s.clock, s.opts.PollInterval, s.opts.ExpiryWarning)
	s.expiry = expiryWarner{log: s.log, what: "client listener certificate", within: s.opts.ExpiryWarning}
	m, err := s.load(nil)
	if err != nil {
		return nil, err
	}
	s.cur.Store(m)
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meridian_client_certificate_reloads_total",
		Help: "Client listener certificate, key and client CA reloads that changed the served material (changed) or were refused (error).",
	}, []string{"result"})
	s.reloads = reloadLog{log: s.log, what: "client listener certificate",
		changed: reloads.WithLabelValues("changed"), refused: reloads.WithLabelValues("error")}
	if reg := opts.Registerer; reg != nil {
		expiry := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "meridian_client_certificate_expiry_seconds",
			Help: "Seconds until the client listener's certificate expires; negative once expired.",
		}, func() float64 { return s.cur.Load().cert.Leaf.NotAfter.Sub(s.clock.Now()).Seconds() })
		for _, c := range []prometheus.Collector{reloads, expiry} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register client certificate metrics: %w", err)
			}
		}
	}
	s.mu.Lock()
	s.checkExpiryLocked()
	s.mu.Unlock()
	return s, nil
}

// TLSConfig returns the listener's configuration: every handshake gets the
// current certificate and client CA bundle. Give it to http.Server.TLSConfig
// and call ServeTLS with empty file names.
func (s *ServingStore) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: s.opts.NextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.cur.Load().cfg, nil
		},
	}
}

// CheckClientChain verifies a client's certificate chain (leaf first, as
// presented at the handshake) against the current client CA bundle, for
// client authentication, at the current time. Results are cached per
// bundle, so a request on an established connection costs a hash and a map
// lookup; a rotated bundle starts a new cache.
func (s *ServingStore) CheckClientChain(chain []*x509.Certificate) error {
	m := s.cur.Load()
	if m.pool == nil {
		return errors.New("this listener has no client CA bundle")
	}
	if len(chain) == 0 {
		return errors.New("no client certificate")
	}
	now := s.clock.Now()
	key := sha256.Sum256(chain[0].Raw)
	m.verifiedMu.Lock()
	until, ok := m.verified[key]
	m.verifiedMu.Unlock()
	if ok && now.Before(until) {
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	chains, err := chain[0].Verify(x509.VerifyOptions{Roots: m.pool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return err
	}
	until = chain[0].NotAfter
	for _, c := range chains[0] {
		if c.NotAfter.Before(until) {
			until = c.NotAfter
		}
	}
	m.verifiedMu.Lock()
	if m.verified == nil || len(m.verified) >= maxVerifiedChains {
		m.verified = map[[32]byte]time.Time{}
	}
	m.verified[key] = until
	m.verifiedMu.Unlock()
	return nil
}

// Certificate returns the current certificate (Leaf set). It must not be
// modified.
func (s *ServingStore) Certificate() *tls.Certificate { return s.cur.Load().cert }

// Run rereads the files every PollInterval until ctx is done, then returns
// ctx.Err(). Reload failures are logged, never returned.
func (s *ServingStore) Run(ctx context.Context) error {
	return pollReload(ctx, s.clock, s.opts.PollInterval, s.Reload)
}

// Reload rereads the files now. If their content changed and is valid, it
// serves the next handshakes and changed is true. The pair and the CA
// bundle are replaced independently; a bad file keeps the previous version
// of that part, is logged once per distinct problem, and is returned.
func (s *ServingStore) Reload() (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	m, err := s.load(old)
	if m != old {
		s.cur.Store(m)
		changed = true
		s.log.Info("client listener certificates reloaded",
			"cert_file", s.opts.CertFile, "serial", fmt.Sprintf("%x", m.cert.Leaf.SerialNumber), "not_after", m.cert.Leaf.NotAfter)
	}
	s.reloads.record(changed, err)
	s.checkExpiryLocked()
	return changed, err
}

// load reads the files. With old == nil every problem is an error.
// Otherwise it returns old, or a new material mixing old and new parts,
// plus the problems found.
func (s *ServingStore) load(old *servingMaterial) (*servingMaterial, error) {
	certPEM, errC := os.ReadFile(s.opts.CertFile)
	keyPEM, errK := os.ReadFile(s.opts.KeyFile)
	next := &servingMaterial{}
	var errs []error
	switch {
	case errC != nil || errK != nil:
		errs = append(errs, fmt.Errorf("read certificate: %w", errors.Join(errC, errK)))
	case old == nil || !bytes.Equal(certPEM, old.certPEM) || !bytes.Equal(keyPEM, old.keyPEM):
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			// Often a rotation caught between writing the key and the
			// certificate: the next poll sees both.
			errs = append(errs, fmt.Errorf("certificate %s and key %s: %w (fix: install a PEM certificate and its matching private key)", s.opts.CertFile, s.opts.KeyFile, err))
			break
		}
		if now := s.clock.Now(); now.After(pair.Leaf.NotAfter) {
			errs = append(errs, fmt.Errorf("certificate %s expired at %s (fix: install a renewed certificate; it is picked up without a restart)", s.opts.CertFile, pair.Leaf.NotAfter.Format(time.RFC3339)))
			break
		}
		next.cert, next.certPEM, next.keyPEM = &pair, certPEM, keyPEM
	}
	if s.opts.ClientCAFile != "" {
		caPEM, err := os.ReadFile(s.opts.ClientCAFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("read client_ca_file: %w", err))
		case old == nil || !bytes.Equal(caPEM, old.caPEM):
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(caPEM) {
				errs = append(errs, fmt.Errorf("client_ca_file %s holds no PEM certificate (fix: point it at the PEM bundle of the CAs that issue client certificates)", s.opts.ClientCAFile))
				break
			}
			next.pool, next.caPEM = pool, caPEM
		}
	}
	err := errors.Join(errs...)
	if old == nil {
		if err != nil {
			return nil, err
		}
	} else {
		if next.cert == nil && next.pool == nil {
			return old, err // nothing new and valid
		}
		if next.cert == nil {
			next.cert, next.certPEM, next.keyPEM = old.cert, old.certPEM, old.keyPEM
		}
		if next.pool == nil {
			next.pool, next.caPEM = old.pool, old.caPEM
		}
	}
	next.cfg = &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: s.opts.NextProtos, Certificates: []tls.Certificate{*next.cert}}
	if next.pool != nil {
		next.cfg.ClientCAs, next.cfg.ClientAuth = next.pool, tls.VerifyClientCertIfGiven
		// A resumed session would skip verification against the current
		// bundle (its tickets are the parent configuration's): every
		// connection is verified in full, as on the link.
		next.cfg.SessionTicketsDisabled = true
	}
	return next, err
}

func (s *ServingStore) checkExpiryLocked() {
	s.expiry.check(s.clock.Now(), "listener", s.opts.CertFile, s.cur.Load().cert.Leaf)
}
