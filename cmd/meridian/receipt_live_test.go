package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/node/nodetest"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/receipt"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestReceiptFromLiveNode: a receipt a running node attached to an answer
// verifies with `meridian receipt verify` against the request and response
// the client saved, and `meridian audit verify DIR --receipt` finds its
// event in the node's audit log.
func TestReceiptFromLiveNode(t *testing.T) {
	dir, auditDir, ca, _ := liveReceipt(t, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"receipt", "verify", filepath.Join(dir, "receipt.jws"), "--ca", ca,
			"--request", filepath.Join(dir, "request.json"), "--response", filepath.Join(dir, "response.json")}, "receipt: VALID: inference ran in eu-central-1"},
		{[]string{"audit", "verify", filepath.Join(auditDir, "eu-central-1"), "--allow-unsealed", "--receipt", filepath.Join(dir, "receipt.jws"), "--ca", ca}, "of the verified log"},
	} {
		out, stderr, err := runCLI(t, tc.args...)
		if err != nil || !strings.Contains(out, tc.want) {
			t.Errorf("meridian %s = %v\nstdout: %s\nstderr: %s\nwant it to contain %q", strings.Join(tc.args, " "), err, out, stderr, tc.want)
		}
	}
}

// TestReceiptWithoutAuditTrail: a node whose audit trail is disabled still
// signs receipts, with an empty audit hash, and says so.
func TestReceiptWithoutAuditTrail(t *testing.T) {
	dir, _, ca, tok := liveReceipt(t, "audit: {disabled: true}\n")
	claims, err := receipt.Parse(tok)
	if err != nil || claims.Claims.Audit.Hash != "" {
		t.Fatalf("receipt %v, audit %+v: want an empty audit hash", err, claims)
	}
	out, stderr, err := runCLI(t, "receipt", "verify", filepath.Join(dir, "receipt.jws"), "--ca", ca)
	if err != nil || !strings.Contains(out, "keeps no audit trail") {
		t.Errorf("receipt verify = %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
}

// liveReceipt starts a one-region node (auditYAML replaces its audit
// section), asks it for an answer with a receipt and saves receipt,
// request and response in dir.
func liveReceipt(t *testing.T, auditYAML string) (dir, auditDir, ca, tok string) {
	t.Helper()
	dir = t.TempDir()
	lc, err := pki.Provision(filepath.Join(dir, "pki"), "", "eu-central-1")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := auth.NewKey()
	auditDir = filepath.Join(dir, "audit")
	if auditYAML == "" {
		auditYAML = fmt.Sprintf("audit: {dir: %q, digest_interval: 1s}\n", auditDir)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	linkLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	y := fmt.Sprintf(`account: "111122223333"
%sserver: {data_dir: %q}
link: {ca_file: %q, cert_file: %q, key_file: %q}
geographies: {eu: {name: EU}}
regions:
  - {id: eu-central-1, geography: eu, location: {lat: 50, lon: 8}, listen: %q, link: %q}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-central-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
principals:
  - {id: tester, api_keys: [%q]}
`, auditYAML, filepath.Join(dir, "data"), lc.CAFile, lc.CertFile, lc.KeyFile, ln.Addr(), linkLn.Addr(), auth.HashKey(key))
	cfg, err := topology.Parse([]byte(y), "live.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := nodetest.Start(t, node.Options{Config: cfg, Region: "eu-central-1", ClientListener: ln, LinkListener: linkLn})

	body := []byte(`{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"where did this run?"}],"max_tokens":8}`)
	req, _ := http.NewRequest(http.MethodPost, "http://"+n.ClientAddr()+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(receipt.Header, "true")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tok = resp.Header.Get(receipt.Header)
	if resp.StatusCode != http.StatusOK || tok == "" {
		t.Fatalf("status %d, receipt %q: %s", resp.StatusCode, tok, answer)
	}
	files := map[string][]byte{"receipt.jws": []byte(tok), "request.json": body, "response.json": answer}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, auditDir, lc.CAFile, tok
}
