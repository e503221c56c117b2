package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestInitDirAndIssueFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "certs")
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ca, err := InitDir(dir, CAOptions{TrustDomain: "corp.example", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InitDir(dir, CAOptions{}); err == nil {
		t.Fatal("second InitDir on the same directory succeeded, want refusal")
	}
	if got := ca.TrustDomain(); got != "corp.example" {
		t.Errorf("TrustDomain() = %q, want corp.example", got)
	}
	if !ca.Cert.IsCA || ca.Cert.NotAfter.Sub(now) != DefaultCAValidity {
		t.Errorf("CA: IsCA %v, lifetime %v; want true, %v", ca.Cert.IsCA, ca.Cert.NotAfter.Sub(now), DefaultCAValidity)
	}

	certPath, keyPath, issued, err := IssueFiles(dir, NodeOptions{
		Region: "eu-west-1", DNSNames: []string{"node.eu.example"}, IPs: []net.IP{net.ParseIP("10.0.0.7")},
		ValidFor: 30 * 24 * time.Hour, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		mode fs.FileMode
	}{
		{filepath.Join(dir, CAKeyFile), 0o600}, {filepath.Join(dir, CACertFile), 0o644},
		{keyPath, 0o600}, {certPath, 0o644},
	} {
		st, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != f.mode {
			t.Errorf("mode of %s = %v, want %v", filepath.Base(f.path), st.Mode().Perm(), f.mode)
		}
	}
	if filepath.Base(certPath) != "eu-west-1.crt" || filepath.Base(keyPath) != "eu-west-1.key" {
		t.Errorf("paths = %s, %s", certPath, keyPath)
	}

	certs, err := ReadCertificates(certPath)
	if err != nil {
		t.Fatal(err)
	}
	c := certs[0]
	id, err := IdentityFromCertificate(c)
	if err != nil || id != (Identity{"corp.example", "eu-west-1"}) {
		t.Errorf("identity = %v, %v; want spiffe://corp.example/region/eu-west-1", id, err)
	}
	if !slices.Equal(c.DNSNames, []string{"localhost", "node.eu.example"}) {
		t.Errorf("DNSNames = %v", c.DNSNames)
	}
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	if !slices.Equal(ips, []string{"127.0.0.1", "::1", "10.0.0.7"}) {
		t.Errorf("IPAddresses = %v", ips)
	}
	if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Errorf("ExtKeyUsage = %v, want server and client auth", c.ExtKeyUsage)
	}
	if c.IsCA {
		t.Error("node certificate is a CA")
	}
	if got := c.NotAfter.Sub(now); got != 30*24*time.Hour {
		t.Errorf("lifetime = %v, want 720h", got)
	}
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve.Params().Name != "P-256" {
		t.Errorf("public key %T, want ECDSA P-256", c.PublicKey)
	}
	if !issued.Key.PublicKey.Equal(c.PublicKey) {
		t.Error("written certificate does not match the issued key")
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: poolOf(ca.Cert), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("node certificate does not verify against its CA: %v", err)
	}

	var b strings.Builder
	if err := Inspect(c, now).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"spiffe://corp.example/region/eu-west-1", "(30 days left)", "node.eu.example"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Inspect text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestIssueRefusals(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca, err := NewCA(CAOptions{ValidFor: 24 * time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts NodeOptions
	}{
		{"outlives CA", NodeOptions{Region: "eu-west-1", ValidFor: 48 * time.Hour, Now: now}},
		{"no region", NodeOptions{Now: now}},
		{"bad region", NodeOptions{Region: "EU/west", Now: now}},
		{"negative", NodeOptions{Region: "eu-west-1", ValidFor: -time.Hour, Now: now}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ca.Issue(tc.opts); err == nil {
				t.Fatalf("Issue(%+v) succeeded, want error", tc.opts)
			}
		})
	}
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
