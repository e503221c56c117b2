package main

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
	"github.com/meridian-gateway/meridian/internal/receipt"
)

// receiptFixture is a link CA, an audit log of eu-central-1 holding one
// request's event, and the receipt eu-central-1 signed for it.
type receiptFixture struct {
	caFile, otherCA, auditDir, receipt, forged, request, response string
}

func newReceiptFixture(t *testing.T) receiptFixture {
	t.Helper()
	dir := t.TempDir()
	ca := pkitest.New(t, "")
	other := pkitest.New(t, "")
	eu, err := ca.CA.Issue(pki.NodeOptions{Region: "eu-central-1"})
	if err != nil {
		t.Fatal(err)
	}
	req, resp := []byte(`{"messages":[{"role":"user","content":"hi"}]}`), []byte(`{"choices":[{"message":{"content":"hello"}}]}`)

	root := filepath.Join(dir, "audit")
	w, err := audit.Open(audit.Config{Dir: root}, "eu-central-1", audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := &audit.Event{EventID: "req-1", EventName: "ChatCompletions", Side: audit.SideDestination, SourceRegion: "eu-west-1",
		InferenceRegion: "eu-central-1", InferenceProfileARN: "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.demo",
		ModelID: "demo", StatusCode: 200}
	hash, err := w.AppendHashed(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // writes the final digest
		t.Fatal(err)
	}
	claims := receipt.Claims{RequestID: "req-1", ProfileARN: ev.InferenceProfileARN, SourceRegion: "eu-west-1",
		InferenceRegion: "eu-central-1", Model: "demo", RequestSHA256: receipt.BodyHash(req), AnswerForm: receipt.AnswerBody,
		AnswerSHA256: receipt.BodyHash(resp), Usage: receipt.Usage{InputTokens: 5, OutputTokens: 2}, IssuedAt: time.Now(),
		Audit: receipt.AuditRef{EventID: "req-1", Hash: hash}}
	tok, err := receipt.Sign(claims, eu.Key, []*x509.Certificate{eu.Cert})
	if err != nil {
		t.Fatal(err)
	}
	claims.Audit.Hash = receipt.BodyHash([]byte("not in the log"))
	forged, err := receipt.Sign(claims, eu.Key, []*x509.Certificate{eu.Cert})
	if err != nil {
		t.Fatal(err)
	}
	f := receiptFixture{caFile: ca.CAFile(), otherCA: other.CAFile(), auditDir: filepath.Join(root, "eu-central-1"),
		receipt: filepath.Join(dir, "receipt.jws"), forged: filepath.Join(dir, "forged.jws"),
		request: filepath.Join(dir, "request.json"), response: filepath.Join(dir, "response.json")}
	for p, b := range map[string][]byte{f.receipt: []byte("x-meridian-receipt: " + tok + "\r\n"), f.forged: []byte(forged), f.request: req, f.response: resp} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestReceiptVerifyCLI(t *testing.T) {
	f := newReceiptFixture(t)
	wrong := filepath.Join(t.TempDir(), "other.json")
	os.WriteFile(wrong, []byte(`{"messages":[{"role":"user","content":"bye"}]}`), 0o600)
	tests := []struct {
		name    string
		args    []string
		wantErr error // nil, errSilentFailure or errUsage
		wantOut string
	}{
		{name: "valid", args: []string{"receipt", "verify", f.receipt, "--ca", f.caFile}, wantOut: "receipt: VALID: inference ran in eu-central-1"},
		// audit verify --receipt exits 1 for a fresh receipt's event, still
		// in the unsealed tail: the hint says how to check it.
		{name: "hint names --allow-unsealed", args: []string{"receipt", "verify", f.receipt, "--ca", f.caFile}, wantOut: "add --allow-unsealed"},
		{name: "valid with request and response", args: []string{"receipt", "verify", "--ca", f.caFile, "--request", f.request, "--response", f.response, f.receipt}, wantOut: "matches"},
		{name: "json", args: []string{"receipt", "verify", f.receipt, "--ca", f.caFile, "--json"}, wantOut: `"inference_region": "eu-central-1"`},
		{name: "request of another call", args: []string{"receipt", "verify", f.receipt, "--ca", f.caFile, "--request", wrong}, wantErr: errSilentFailure, wantOut: "MISMATCH"},
		{name: "response swapped for the request", args: []string{"receipt", "verify", f.receipt, "--ca", f.caFile, "--response", f.request}, wantErr: errSilentFailure, wantOut: "MISMATCH"},
		{name: "another CA", args: []string{"receipt", "verify", f.receipt, "--ca", f.otherCA}, wantErr: errSilentFailure, wantOut: "INVALID"},
		{name: "not a receipt", args: []string{"receipt", "verify", f.request, "--ca", f.caFile}, wantErr: errSilentFailure, wantOut: "INVALID: malformed receipt"},
		{name: "no CA", args: []string{"receipt", "verify", f.receipt}, wantErr: errUsage},
		{name: "no receipt", args: []string{"receipt", "verify", "--ca", f.caFile}, wantErr: errUsage},
		{name: "unknown subcommand", args: []string{"receipt", "sign"}, wantErr: errUsage},
		{name: "help", args: []string{"receipt", "-h"}, wantErr: errSilentSuccess},
		{name: "audit event in the log", args: []string{"audit", "verify", f.auditDir, "--receipt", f.receipt, "--ca", f.caFile}, wantOut: "covered by a signed digest"},
		{name: "audit event not in the log", args: []string{"audit", "verify", f.auditDir, "--receipt", f.forged}, wantErr: errSilentFailure, wantOut: "receipt: NOT IN LOG"},
		{name: "audit with a receipt of another CA", args: []string{"audit", "verify", f.auditDir, "--receipt", f.receipt, "--ca", f.otherCA}, wantErr: receipt.ErrUntrusted},
		{name: "audit --ca without --receipt", args: []string{"audit", "verify", f.auditDir, "--ca", f.caFile}, wantErr: errUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := runCLI(t, tc.args...)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("run(%q) = %v, want %v\nstdout: %s\nstderr: %s", tc.args, err, tc.wantErr, out, stderr)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("run(%q) printed %q, want it to contain %q", tc.args, out, tc.wantOut)
			}
		})
	}
}

// TestAuditVerifyReceiptTamperedLog: a receipt's event in an edited log is
// not vouched for.
func TestAuditVerifyReceiptTamperedLog(t *testing.T) {
	f := newReceiptFixture(t)
	logs, err := filepath.Glob(filepath.Join(f.auditDir, "audit-*.jsonl"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("audit logs: %v, %v", logs, err)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logs[0], []byte(strings.Replace(string(b), `"modelId":"demo"`, `"modelId":"dem0"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, "audit", "verify", f.auditDir, "--receipt", f.receipt, "--ca", f.caFile)
	if !errors.Is(err, errSilentFailure) || !strings.Contains(out, "TAMPERED") || !strings.Contains(out, "receipt: NOT CHECKED") {
		t.Errorf("audit verify (edited log) --receipt = %v, printed %q; want exit 1, TAMPERED and the receipt not checked", err, out)
	}
}
