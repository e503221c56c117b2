// Package pkitest makes link certificate authorities, node certificates
// and [pki.Store]s in a test's temporary directory, for tests of the
// inter-region link.
package pkitest

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/pki"
)

// Fixture is a CA and the certificates it issued, in Dir.
type Fixture struct {
	Dir         string
	TrustDomain string
	CA          *pki.CA
	// Now is the issue time of certificates (zero: time.Now()).
	Now time.Time
}

// New creates a CA for trustDomain ("" means pki.DefaultTrustDomain) in a
// new temporary directory.
func New(t testing.TB, trustDomain string) *Fixture {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.InitDir(dir, pki.CAOptions{TrustDomain: trustDomain})
	if err != nil {
		t.Fatalf("pkitest: init CA: %v", err)
	}
	return &Fixture{Dir: dir, TrustDomain: ca.TrustDomain(), CA: ca}
}

// CAFile returns the path of the CA certificate.
func (f *Fixture) CAFile() string { return filepath.Join(f.Dir, pki.CACertFile) }

// Issue issues (or re-issues, rotating) region's certificate and returns
// its certificate and key paths.
func (f *Fixture) Issue(t testing.TB, region string) (certPath, keyPath string) {
	t.Helper()
	certPath, keyPath, _, err := pki.IssueFiles(f.Dir, pki.NodeOptions{Region: region, Now: f.Now})
	if err != nil {
		t.Fatalf("pkitest: issue %s: %v", region, err)
	}
	return certPath, keyPath
}

// Options returns StoreOptions for region's files in f (issuing the
// certificate if it does not exist yet), logging to t.
func (f *Fixture) Options(t testing.TB, region string) pki.StoreOptions {
	t.Helper()
	certPath := filepath.Join(f.Dir, pki.NodeCertFile(region))
	keyPath := filepath.Join(f.Dir, pki.NodeKeyFile(region))
	if _, err := os.Stat(certPath); err != nil {
		certPath, keyPath = f.Issue(t, region)
	}
	return pki.StoreOptions{
		CertFile:    certPath,
		KeyFile:     keyPath,
		CAFile:      f.CAFile(),
		TrustDomain: f.TrustDomain,
		Region:      region,
		Logger:      Logger(t),
	}
}

// Store returns a [pki.Store] serving region's certificate (see Options).
func (f *Fixture) Store(t testing.TB, region string) *pki.Store {
	t.Helper()
	s, err := pki.NewStore(f.Options(t, region))
	if err != nil {
		t.Fatalf("pkitest: store for %s: %v", region, err)
	}
	return s
}

// Logger returns a logger writing to t.Log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
