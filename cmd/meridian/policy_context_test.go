package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicySimulateRequestKeys: both forms of the simulator say which
// per-request keys the policies read that the simulation has no value for,
// and name --context; the --config form fills the time and the listener's
// transport as the node would (the example's listeners have no TLS).
func TestPolicySimulateRequestKeys(t *testing.T) {
	dir := t.TempDir()
	ip := filepath.Join(dir, "ip.json")
	os.WriteFile(ip, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
		{"Sid":"NotCorp","Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"},"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"}}}]}`), 0o644)
	example, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	// A guardrail denying plain HTTP: the example's listeners have no TLS,
	// so the node denies every call, and so must the simulation.
	withGuardrail := strings.Replace(string(example), "\nguardrails: []\n", `
guardrails:
  - name: https-only
    policy:
      Version: "2012-10-17"
      Statement:
        - { Sid: All, Effect: Allow, Action: "*", Resource: "*" }
        - { Sid: DenyHTTP, Effect: Deny, Action: "*", Resource: "*", Condition: { Bool: { "aws:SecureTransport": "false" } } }
`, 1)
	if withGuardrail == string(example) {
		t.Fatal("test bug: the example has no empty guardrails list")
	}
	topo := filepath.Join(dir, "topology.yaml")
	os.WriteFile(topo, []byte(withGuardrail), 0o644)
	const arn = "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small"
	form2 := []string{"--config", topo, "--principal", "claims-service", "--profile", "eu.demo.chat-small", "--region", "eu-west-1"}
	for _, tc := range []struct {
		name             string
		args             []string
		wantOut, wantErr string
		noNote           bool
	}{
		{"form 1 without context", []string{"--policy", ip, "--action", "bedrock:InvokeModel", "--resource", arn}, "", "note: the policies read aws:CurrentTime, aws:SourceIp", false},
		{"form 1 with context", []string{"--policy", ip, "--action", "bedrock:InvokeModel", "--resource", arn, "--context", "aws:SourceIp=10.0.0.1", "--context", "aws:CurrentTime=2026-12-08T00:00:00Z"}, "allow", "", true},
		{"form 2: the listener's transport", form2, "denied by guardrail https-only/DenyHTTP", "", true},
		{"form 2: --context overrides it", append(form2, "--context", "aws:SecureTransport=true"), "eu-west-1: allow", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := runCLI(t, append([]string{"policy", "simulate"}, tc.args...)...)
			if err != nil {
				t.Fatalf("policy simulate: %v\n%s", err, stderr)
			}
			if !strings.Contains(out, tc.wantOut) || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stdout %q\nstderr %q\nwant stdout containing %q, stderr containing %q", out, stderr, tc.wantOut, tc.wantErr)
			}
			if tc.noNote && strings.Contains(out+stderr, "--context KEY=VALUE") {
				t.Errorf("unexpected note:\n%s%s", out, stderr)
			}
			if !tc.noNote && !strings.Contains(out+stderr, "--context KEY=VALUE") {
				t.Errorf("no note naming --context:\n%s%s", out, stderr)
			}
		})
	}
}
