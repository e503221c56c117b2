package otel

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestPrivateCollector: spans reach an https collector whose certificate
// a private CA signed, trusted through ca_file, with the header read from
// the environment; a ca_file that holds no certificate is refused by name.
func TestPrivateCollector(t *testing.T) {
	t.Parallel()
	var exports atomic.Int32
	var auth atomic.Value
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" {
			exports.Add(1)
			auth.Store(r.Header.Get("Authorization"))
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := topology.Telemetry{OTLP: topology.OTLP{Endpoint: srv.URL, CAFile: ca, HeadersEnv: map[string]string{"authorization": "OTLP_AUTH"}},
		Traces: topology.Traces{Enabled: true}}
	getenv := func(k string) string {
		if k == "OTLP_AUTH" {
			return "Bearer t"
		}
		return ""
	}
	tel, err := New(Options{Region: "eu-west-1", Registerer: prometheus.NewRegistry(), Config: cfg, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	tel.Record(arrive(t, tel, ""), served("source"))
	if err := tel.ForceFlush(t.Context()); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}
	if exports.Load() == 0 || auth.Load() != "Bearer t" {
		t.Errorf("collector saw %d trace exports, authorization %v", exports.Load(), auth.Load())
	}

	bad := filepath.Join(dir, "empty.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	cfg.OTLP.CAFile = bad
	if _, err := New(Options{Region: "eu-west-1", Registerer: prometheus.NewRegistry(), Config: cfg, Getenv: getenv}); err == nil ||
		!strings.Contains(err.Error(), "telemetry.otlp.ca_file") {
		t.Errorf("New with a CA file holding no certificate: %v, want an error naming telemetry.otlp.ca_file", err)
	}
	cfg.OTLP.CAFile = ""
	if _, err := New(Options{Region: "eu-west-1", Registerer: prometheus.NewRegistry(), Config: cfg}); err == nil ||
		!strings.Contains(err.Error(), "OTLP_AUTH is empty") {
		t.Errorf("New without the header's variable: %v, want an error naming it", err)
	}
}
