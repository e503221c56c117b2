package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/bench"
)

// TestBenchFlags checks that bad bench flags are refused before anything
// starts, naming the flag and what it accepts, and that the help lists the
// sweep and scenario flags.
func TestBenchFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"concurrency zero", []string{"--concurrency", "0"}, "--concurrency"},
		{"concurrency not a number", []string{"--concurrency", "1,many"}, "--concurrency"},
		{"concurrency above the bound", []string{"--concurrency", "100000"}, "4096"},
		{"unknown scenario", []string{"--scenario", "regional"}, `scenario "regional"`},
		{"peer scenario without the peer", []string{"--scenario", "portkey"}, `scenario "portkey"`},
		{"negative concurrency step", []string{"--concurrency-step", "-1s"}, "negative"},
		{"unknown mode", []string{"--mode", "bidi"}, "--mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCLI(t, append([]string{"bench"}, tc.args...)...)
			if !errors.Is(err, errUsage) {
				t.Fatalf("bench %v: err = %v, want a usage error", tc.args, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("bench %v: err = %v, want it to mention %q", tc.args, err, tc.want)
			}
		})
	}
	_, stderr, err := runCLI(t, "bench", "-h")
	if err != nil && !errors.Is(err, errSilentSuccess) {
		t.Fatalf("bench -h: %v", err)
	}
	for _, f := range []string{"-concurrency", "-concurrency-step", "-scenario", "-cpuprofile"} {
		if !strings.Contains(stderr, f) {
			t.Errorf("bench -h lacks %s:\n%s", f, stderr)
		}
	}
}

// TestBenchGatewayProcess runs a short bench with the bare proxy and the
// nodes in a process of their own (this test binary re-executed as
// "bench serve-gateway"), the default, and one with --gateway-process=false:
// the requests are answered, the report says which layout ran, and the
// table names it.
func TestBenchGatewayProcess(t *testing.T) {
	t.Setenv("MERIDIAN_TEST_AS_MAIN", "1") // inherited by the gateway process
	tests := []struct {
		flag  []string
		want  bool
		table string
	}{
		{nil, true, "in a process of their own"},
		{[]string{"--gateway-process=false"}, false, "in the bench's process"},
	}
	for _, tc := range tests {
		out := filepath.Join(t.TempDir(), "run.json")
		args := append([]string{"bench", "--quick", "--scenario", "direct,bare,local", "--mode", "non-streaming",
			"--concurrency", "none", "--rate", "50", "--out", out}, tc.flag...)
		stdout, stderr, err := runCLI(t, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var rep bench.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Settings.GatewayProcess != tc.want {
			t.Errorf("%v: settings.gateway_process = %t, want %t", tc.flag, rep.Settings.GatewayProcess, tc.want)
		}
		if !strings.Contains(stdout, tc.table) {
			t.Errorf("%v: the table does not say %q:\n%s", tc.flag, tc.table, stdout)
		}
		if len(rep.Modes) != 1 || len(rep.Modes[0].Scenarios) != 3 {
			t.Fatalf("%v: modes = %+v, want non-streaming with direct, bare-proxy and meridian-local", tc.flag, rep.Modes)
		}
		for _, s := range rep.Modes[0].Scenarios {
			if s.Sequential.Requests == 0 || s.Sequential.Errors != 0 || s.AtRate.Errors != 0 {
				t.Errorf("%v %s: %d sequential requests, %d errors, %d at the rate; want some, none failed", tc.flag, s.Name, s.Sequential.Requests, s.Sequential.Errors, s.AtRate.Errors)
			}
		}
	}
	// The hidden gateway command takes its configuration on its input only.
	if _, _, err := runCLI(t, "bench", "serve-gateway", "extra"); !errors.Is(err, errUsage) {
		t.Errorf("bench serve-gateway extra: err = %v, want a usage error", err)
	}
}
