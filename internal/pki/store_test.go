package pki_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
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

// nodeFiles copies region's certificate and key from f, and the CA
// bundle, into a directory of their own, as a node's disk would hold
// them, and returns StoreOptions pointing there.
func nodeFiles(t *testing.T, f *pkitest.Fixture, region string) pki.StoreOptions {
	t.Helper()
	opts := f.Options(t, region)
	dir := t.TempDir()
	for _, p := range []*string{&opts.CertFile, &opts.KeyFile, &opts.CAFile} {
		dst := filepath.Join(dir, filepath.Base(*p))
		copyFile(t, *p, dst)
		*p = dst
	}
	return opts
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestStoreKeepsMaterialWhenFilesAreBad(t *testing.T) {
	t.Parallel()
	f := pkitest.New(t, "")
	opts := nodeFiles(t, f, "eu-west-1")
	var logs bytes.Buffer
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s, err := pki.NewStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	orig := s.Certificate()

	otherCA := pkitest.New(t, "")
	otherCert, otherKey := otherCA.Issue(t, "eu-west-1")
	usCert, usKey := f.Issue(t, "us-east-1")
	newCert, newKey := f.Issue(t, "eu-west-1")

	steps := []struct {
		name        string
		write       func()
		wantChanged bool
		wantErr     string
	}{
		{"unchanged", func() {}, false, ""},
		{"garbage certificate", func() { writeString(t, opts.CertFile, "not a certificate") }, false, "load link certificate"},
		{"missing key file", func() { copyFile(t, newCert, opts.CertFile); os.Remove(opts.KeyFile) }, false, "read link certificate"},
		{"key of another certificate (rotation half done)", func() { copyFile(t, otherKey, opts.KeyFile) }, false, "private key does not match"},
		{"certificate of another region", func() { copyFile(t, usCert, opts.CertFile); copyFile(t, usKey, opts.KeyFile) }, false, `want "eu-west-1"`},
		{"garbage CA bundle", func() { writeString(t, opts.CAFile, "junk") }, false, "CA bundle"},
		{"valid rotation", func() {
			copyFile(t, newCert, opts.CertFile)
			copyFile(t, newKey, opts.KeyFile)
			copyFile(t, f.CAFile(), opts.CAFile)
		}, true, ""},
		// A certificate from a CA the node does not trust is still served
		// (peers may trust it), with a warning.
		{"certificate of an untrusted CA", func() { copyFile(t, otherCert, opts.CertFile); copyFile(t, otherKey, opts.KeyFile) }, true, ""},
	}
	for _, st := range steps {
		st.write()
		before := s.Certificate()
		changed, err := s.Reload()
		if changed != st.wantChanged || (err == nil) != (st.wantErr == "") || (err != nil && !strings.Contains(err.Error(), st.wantErr)) {
			t.Fatalf("%s: Reload() = %v, %v; want %v, error containing %q", st.name, changed, err, st.wantChanged, st.wantErr)
		}
		if !st.wantChanged && s.Certificate() != before {
			t.Fatalf("%s: served certificate changed after a refused reload", st.name)
		}
	}
	if s.Certificate() == orig {
		t.Error("certificate never rotated")
	}
	if !strings.Contains(logs.String(), "keeping the previous material") || !strings.Contains(logs.String(), "does not chain") {
		t.Errorf("logs lack the refusal and chain warnings:\n%s", logs.String())
	}
}

func writeString(t testing.TB, path, s string) {
	t.Helper()
	if err := pki.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestStoreExpiryWarning(t *testing.T) {
	t.Parallel()
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := pkitest.New(t, "")
	f.Now = issued
	opts := f.Options(t, "eu-west-1")
	clock := clock.NewManual(issued.Add(time.Hour))
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	opts.Clock, opts.Registerer = clock, reg
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s, err := pki.NewStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	notAfter := s.Certificate().Leaf.NotAfter
	if strings.Contains(logs.String(), "expires soon") {
		t.Fatalf("warning logged 89 days before expiry:\n%s", logs.String())
	}

	clock.Set(notAfter.Add(-10 * 24 * time.Hour))
	s.Reload()
	s.Reload()
	if n := strings.Count(logs.String(), "link certificate expires soon"); n != 1 {
		t.Fatalf("%d expiry warnings 10 days before expiry (two polls), want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "days_left=10") {
		t.Errorf("warning lacks days_left=10:\n%s", logs.String())
	}
	clock.Set(notAfter.Add(-8 * 24 * time.Hour))
	s.Reload()
	if n := strings.Count(logs.String(), "link certificate expires soon"); n != 2 {
		t.Errorf("%d expiry warnings after another day, want 2", n)
	}

	got := gauge(t, reg, "meridian_link_certificate_expiry_seconds", "node")
	if want := (8 * 24 * time.Hour).Seconds(); math.Abs(got-want) > 1 {
		t.Errorf("node expiry gauge = %v, want %v", got, want)
	}
	if ca := gauge(t, reg, "meridian_link_certificate_expiry_seconds", "ca"); ca < (9 * 365 * 24 * time.Hour).Seconds() {
		t.Errorf("ca expiry gauge = %v, want about 10 years", ca)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name, cert string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "certificate" && l.GetValue() == cert {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("metric %s{certificate=%q} not found", name, cert)
	return 0
}

// TestRotationDuringLoad rotates both nodes' certificates and the CA while
// requests stream over keep-alive connections: no request fails, and new
// handshakes present the new certificates.
func TestRotationDuringLoad(t *testing.T) {
	t.Parallel()
	oldCA := pkitest.New(t, "")
	srvOpts := nodeFiles(t, oldCA, "eu-west-1")
	cliOpts := nodeFiles(t, oldCA, "us-east-1")
	server, err := pki.NewStore(srvOpts)
	if err != nil {
		t.Fatal(err)
	}
	client, err := pki.NewStore(cliOpts)
	if err != nil {
		t.Fatal(err)
	}
	var seenMu sync.Mutex
	seenClientSerials := map[string]bool{}
	ts, _ := linkServer(t, server, "us-east-1")
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenMu.Lock()
		seenClientSerials[r.TLS.PeerCertificates[0].SerialNumber.String()] = true
		seenMu.Unlock()
		io.WriteString(w, "ok")
	})

	// Workers: two HTTP/2 clients and two HTTP/1.1 keep-alive clients,
	// created before the rotation and used throughout it.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{}) // unbuffered: waitRequests counts only requests completed while it waits
	var errMu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for i := range 4 {
		tr := &http.Transport{TLSClientConfig: client.ClientTLSConfig("eu-west-1"), ForceAttemptHTTP2: i%2 == 0}
		c := &http.Client{Transport: tr}
		wg.Go(func() {
			defer tr.CloseIdleConnections()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL, nil)
				resp, err := c.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					errMu.Lock()
					errs = append(errs, err)
					errMu.Unlock()
				}
				select {
				case done <- struct{}{}:
				default:
				}
			}
		})
	}
	waitRequests := func(n int) {
		for range n {
			select {
			case <-done:
			case <-t.Context().Done():
				t.Fatal("requests stopped")
			}
		}
	}
	reload := func(s *pki.Store) {
		t.Helper()
		if changed, err := s.Reload(); err != nil || !changed {
			t.Fatalf("Reload() = %v, %v; want true, nil", changed, err)
		}
	}

	waitRequests(50)
	// Step 1: trust both CAs.
	newCA := pkitest.New(t, "")
	bundle := concatFiles(t, oldCA.CAFile(), newCA.CAFile())
	copyFile(t, bundle, srvOpts.CAFile)
	copyFile(t, bundle, cliOpts.CAFile)
	reload(server)
	reload(client)
	waitRequests(50)
	// Step 2: new certificates from the new CA, on both sides.
	for _, n := range []struct {
		opts   pki.StoreOptions
		region string
	}{{srvOpts, "eu-west-1"}, {cliOpts, "us-east-1"}} {
		crt, key := newCA.Issue(t, n.region)
		copyFile(t, key, n.opts.KeyFile)
		copyFile(t, crt, n.opts.CertFile)
	}
	reload(server)
	reload(client)
	waitRequests(50)
	// Step 3: drop the old CA.
	copyFile(t, newCA.CAFile(), srvOpts.CAFile)
	copyFile(t, newCA.CAFile(), cliOpts.CAFile)
	reload(server)
	reload(client)
	waitRequests(50)

	// A new connection uses the new certificates on both sides.
	fresh := &http.Client{Transport: &http.Transport{TLSClientConfig: client.ClientTLSConfig("eu-west-1"), ForceAttemptHTTP2: true}}
	resp, err := fresh.Get(ts.URL)
	if err != nil {
		t.Fatalf("new handshake after rotation: %v", err)
	}
	resp.Body.Close()
	if got, want := resp.TLS.PeerCertificates[0].SerialNumber, server.Certificate().Leaf.SerialNumber; got.Cmp(want) != 0 {
		t.Errorf("new connection: server serial %x, want the rotated %x", got, want)
	}
	cancel()
	wg.Wait()

	seenMu.Lock()
	defer seenMu.Unlock()
	if !seenClientSerials[client.Certificate().Leaf.SerialNumber.String()] {
		t.Error("server never saw the rotated client certificate")
	}
	if len(errs) > 0 {
		t.Errorf("%d requests failed during rotation; first: %v", len(errs), errs[0])
	}
}
