package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/clock"
)

const exampleConfig = "../../docs/config.example.yaml"

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(t.Context(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestCLI(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), "geography: eu\n", "geography: europe\n", 1)
	broken = strings.Replace(broken, "rpm: 1200", "rpm: 0", 1)
	os.WriteFile(bad, []byte(broken), 0o644)
	tests := []struct {
		name    string
		args    []string
		wantErr error // nil, errUsage or errSilentFailure
		out     []string
		stderr  []string
	}{
		{name: "help", args: []string{"help"}, out: []string{"serve", "demo", "mockllm", "config", "profiles", "policy"}},
		{name: "unknown verb", args: []string{"frobnicate"}, wantErr: errUsage},
		// The reference file names ./link, which `meridian certs` fills where
		// it is served (TestConfigExampleServes): the topology alone here.
		{name: "validate the reference config", args: []string{"config", "validate", "--skip-files", exampleConfig}, out: []string{"is valid"}},
		{name: "validate reports every problem", args: []string{"config", "validate", "--skip-files", bad}, wantErr: errSilentFailure,
			stderr: []string{`"europe" is not a defined geography`, "capacity must be positive", "2 problem(s)", "bad.yaml:"}},
		{name: "profiles list", args: []string{"profiles", "list", "--config", exampleConfig}, out: []string{"eu.demo.chat-small", "global.demo.chat-small", "claims-eu", "APPLICATION"}},
		{name: "profiles list for a region", args: []string{"profiles", "list", "--config", exampleConfig, "--region", "us-east-1"},
			out: []string{"us.demo.chat-small", "arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.demo.chat-small"}},
		{name: "profiles list bad region", args: []string{"profiles", "list", "--config", exampleConfig, "--region", "mars-1"}, wantErr: errUsage},
		{name: "keys new", args: []string{"keys", "new"}, out: []string{"key:  mk-", "hash: sha256:"}},
		{name: "keys hash", args: []string{"keys", "hash", "mk-test"}, out: []string{"sha256:"}},
		{name: "policy simulate from the config", args: []string{"policy", "simulate", "--config", exampleConfig, "--principal", "claims-service", "--profile", "eu.demo.chat-small", "--region", "eu-west-1"},
			out: []string{"allowed:", "eu-central-1", "eu-west-1"}},
		{name: "policy simulate unknown principal", args: []string{"policy", "simulate", "--config", exampleConfig, "--principal", "nobody", "--profile", "eu.demo.chat-small", "--region", "eu-west-1"}, wantErr: errUsage},
		{name: "serve without flags", args: []string{"serve"}, wantErr: errUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := runCLI(t, tc.args...)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("run(%v) = %v\nstderr: %s", tc.args, err, stderr)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("run(%v) = %v, want %v", tc.args, err, tc.wantErr)
			}
			for _, w := range tc.out {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestPolicySimulateJSONDecision(t *testing.T) {
	out, _, err := runCLI(t, "policy", "simulate", "--config", exampleConfig, "--principal", "claims-service", "--profile", "global.demo.chat-small", "--region", "eu-west-1", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		AllowedRegions []string `json:"allowedRegions"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	// invoke-eu-only allows only eu.* profiles: a global profile is denied.
	if len(rep.AllowedRegions) != 0 {
		t.Errorf("global profile under invoke-eu-only allowed in %v", rep.AllowedRegions)
	}
}

// TestAuditVerifyAcrossKeyRotation: `audit verify` takes --public-key once
// per key a log was signed with; with one of two it does not call the log
// tampered but UNVERIFIED, naming the key not given and how to pass it, and
// fails (exit 1): a writer of the log without the private key could have
// named a key of its own, so only the missing key tells a rotation from a
// forgery.
func TestAuditVerifyAcrossKeyRotation(t *testing.T) {
	root, keys := t.TempDir(), t.TempDir()
	var pubs []string
	for i, id := range []string{"old", "new"} {
		priv, pub, err := audit.GenerateKey(filepath.Join(keys, id))
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, pub)
		// Each writer runs a minute after the last: its file gets a name
		// of its own (names carry the second), without waiting for one.
		start := time.Date(2026, 11, 25, 9, i, 0, 0, time.UTC)
		w, err := audit.Open(audit.Config{Dir: root, KeyFile: priv}, "eu-west-1", audit.Options{Clock: clock.NewManual(start)})
		if err != nil {
			t.Fatal(err)
		}
		e := &audit.Event{EventID: fmt.Sprintf("req-%d", i), EventName: "ChatCompletions", SourceRegion: "eu-west-1", StatusCode: 200}
		if err := w.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, err := runCLI(t, "audit", "verify", root, "--public-key", pubs[0], "--public-key", pubs[1])
	if err != nil || !strings.Contains(out, "intact") || !strings.Contains(out, "2 events") {
		t.Fatalf("audit verify with both keys = %v\n%s%s", err, out, stderr)
	}
	newID := ""
	if k, err := audit.ReadPublicKey(pubs[1]); err == nil {
		newID = audit.KeyID(k)
	}
	out, _, err = runCLI(t, "audit", "verify", root, "--public-key", pubs[0])
	if !errors.Is(err, errSilentFailure) || strings.Contains(out, "TAMPERED") || strings.Contains(out, "forged") ||
		!strings.Contains(out, "UNVERIFIED: signed by a key not given: "+newID) || !strings.Contains(out, "pass --public-key for each key the trail used") {
		t.Errorf("audit verify with the old key only = %v, want exit 1 and UNVERIFIED naming key %s\n%s", err, newID, out)
	}
}
