package node

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/mockllm"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// testCA issues certificates for the client-TLS test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, cn string) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate and key for cn (server when ip is set).
func (ca *testCA) issue(t *testing.T, cn string, server bool) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	c, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writePair(t *testing.T, dir, name string, c tls.Certificate) (string, string) {
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o644)
	kb, _ := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certPath, keyPath
}

// TestClientTLSAndCertificatePrincipals: the client listener serves TLS;
// a client certificate from the client CA authenticates as the principal
// that lists its subject; API keys keep working; an unknown certificate or
// one from another CA gets nowhere.
func TestClientTLSAndCertificatePrincipals(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, rogueCA := newTestCA(t, "server ca"), newTestCA(t, "client ca"), newTestCA(t, "rogue ca")
	srvCert, srvKey := writePair(t, dir, "server", serverCA.issue(t, "eu-west-1.example", true))
	clientCAPath := filepath.Join(dir, "client-ca.pem")
	os.WriteFile(clientCAPath, clientCA.pem, 0o644)
	key, _ := auth.NewKey()
	up := httptest.NewServer(mockllm.New(mockllm.Config{Models: []string{"m"}, CompletionTokens: 3}).Handler())
	defer up.Close()
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	y := fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
audit: { disabled: true }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: %q, link: "127.0.0.1:0",
      tls: { cert_file: %q, key_file: %q, client_ca_file: %q } }
models: [ { id: demo.chat-small } ]
deployments: [ { model: demo.chat-small, region: eu-west-1, backend: { type: openai, url: %q, model: m } } ]
principals:
  - { id: batch-job, client_cert_subjects: ["batch.internal"] }
  - { id: keyed, api_keys: [%q] }
`, cl.Addr(), srvCert, srvKey, clientCAPath, up.URL+"/v1", auth.HashKey(key))
	cfg, err := topology.Parse([]byte(y), "tls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	n, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true, ClientListener: cl, LinkListener: ll, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(t.Context())
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(serverCA.pem)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
	}
	call := func(c *http.Client, apiKey string) (int, string) {
		req, _ := http.NewRequest("POST", "https://"+cl.Addr().String()+"/v1/chat/completions", strings.NewReader(chatBody("eu.demo.chat-small", false)))
		if apiKey != "" {
			req.Header.Set("Authorization", "Bearer "+apiKey)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name   string
		client *http.Client
		key    string
		want   int
	}{
		{"certificate of a listed subject", client(clientCA.issue(t, "batch.internal", false)), "", 200},
		{"API key over TLS", client(), key, 200},
		{"certificate of an unlisted subject", client(clientCA.issue(t, "someone.else", false)), "", 401},
		{"no credentials", client(), "", 401},
	}
	for _, tc := range tests {
		if status, body := call(tc.client, tc.key); status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.want)
		}
	}
	// A certificate from another CA never authenticates: the client does
	// not even offer it (its issuer is not among the acceptable CAs), or the
	// handshake refuses it.
	if status, body := call(client(rogueCA.issue(t, "batch.internal", false)), ""); status != 0 && status != 401 {
		t.Errorf("certificate from another CA: %d %s, want 401 or a refused handshake", status, body)
	}

	// Rotation: a new server certificate from another CA and a new client
	// CA bundle, written over the old files, serve the next handshakes
	// without a restart. A connection opened before keeps working for API
	// keys, but its certificate of the removed client CA no longer
	// authenticates.
	keptKey := client()
	oldCert := clientCA.issue(t, "batch.internal", false)
	keptCert := client(oldCert)
	for name, c := range map[string]struct {
		c   *http.Client
		key string
	}{"API key": {keptKey, key}, "certificate": {keptCert, ""}} {
		if status, body := call(c.c, c.key); status != 200 {
			t.Fatalf("before rotation, %s: %d %s", name, status, body)
		}
	}
	serverCA2, clientCA2 := newTestCA(t, "server ca 2"), newTestCA(t, "client ca 2")
	newServer := serverCA2.issue(t, "eu-west-1.example", true)
	writePair(t, dir, "server", newServer)
	if err := os.WriteFile(clientCAPath, clientCA2.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	// The background poll may get there first; either way the new
	// certificate must be the one served.
	if _, err := n.clientCerts.Reload(); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	if got := n.clientCerts.Certificate().Certificate[0]; !bytes.Equal(got, newServer.Certificate[0]) {
		t.Fatal("after Reload, the listener still holds the old certificate")
	}
	roots2 := x509.NewCertPool()
	roots2.AppendCertsFromPEM(serverCA2.pem)
	client2 := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots2, Certificates: certs}}}
	}
	if status, body := call(keptKey, key); status != 200 {
		t.Errorf("API key on a connection from before the rotation: %d %s, want 200", status, body)
	}
	if status, body := call(keptCert, ""); status != 401 || !strings.Contains(body, "no longer trusted") {
		t.Errorf("old-CA certificate on a connection from before the rotation: %d %s, want 401 no longer trusted", status, body)
	}
	if status, body := call(client2(clientCA2.issue(t, "batch.internal", false)), ""); status != 200 {
		t.Errorf("after rotation, new server CA and a certificate of the new client CA: %d %s, want 200", status, body)
	}
	if status, body := call(client(), key); status != 0 {
		t.Errorf("after rotation, a client trusting only the old server CA: %d %s, want a refused handshake", status, body)
	}
	// A client that presents its old-CA certificate whatever the server
	// asks for: the handshake itself refuses it.
	forced := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots2,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &oldCert, nil }}}}
	if status, body := call(forced, ""); status != 0 {
		t.Errorf("after rotation, a forced certificate of the old client CA: %d %s, want a refused handshake", status, body)
	}
	// A broken file keeps the previous material.
	if err := os.WriteFile(filepath.Join(dir, "server.crt"), []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := n.clientCerts.Reload(); changed || err == nil {
		t.Errorf("Reload(broken certificate) = %v, %v; want unchanged and an error", changed, err)
	}
	if status, body := call(client2(), key); status != 200 {
		t.Errorf("after a broken rotation: %d %s, want 200 with the previous certificate", status, body)
	}

	// Plain HTTP to the TLS listener gets nowhere.
	resp, err := http.Post("http://"+cl.Addr().String()+"/v1/chat/completions", "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP accepted on a TLS listener")
		}
	}
}

// TestServerProtocolsFollowGODEBUG: the client listener's ALPN list and its
// protocols agree, and HTTP/2 is off when GODEBUG turns net/http's off.
func TestServerProtocolsFollowGODEBUG(t *testing.T) {
	tests := []struct {
		godebug string
		h2      bool
		alpn    []string
	}{
		{"", true, []string{"h2", "http/1.1"}},
		{"http2client=0", true, []string{"h2", "http/1.1"}},
		{"madvdontneed=1,http2server=0", false, []string{"http/1.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.godebug, func(t *testing.T) {
			t.Setenv("GODEBUG", tc.godebug)
			p, alpn := serverProtocols()
			if !p.HTTP1() || p.HTTP2() != tc.h2 || !slices.Equal(alpn, tc.alpn) {
				t.Errorf("serverProtocols() = HTTP/1 %v, HTTP/2 %v, %v; want HTTP/1, HTTP/2 %v, %v", p.HTTP1(), p.HTTP2(), alpn, tc.h2, tc.alpn)
			}
		})
	}
}
