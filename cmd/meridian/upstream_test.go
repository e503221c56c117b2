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

// TestMain lets a test run this test binary as the meridian command: with
// MERIDIAN_TEST_AS_MAIN=1 in its environment it runs main on its
// arguments instead of the tests, as meridian bench --upstream-process
// runs its own binary's mockllm command.
func TestMain(m *testing.M) {
	if os.Getenv("MERIDIAN_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBenchUpstreamProcess runs a short bench with mockllm in a process of
// its own: the requests are answered and the report says where the
// upstream ran.
func TestBenchUpstreamProcess(t *testing.T) {
	t.Setenv("MERIDIAN_TEST_AS_MAIN", "1") // inherited by the upstream process
	out := filepath.Join(t.TempDir(), "run.json")
	_, stderr, err := runCLI(t, "bench", "--quick", "--upstream-process", "--scenario", "direct,bare", "--mode", "non-streaming",
		"--concurrency", "none", "--rate", "50", "--out", out)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Settings.UpstreamProcess {
		t.Error("settings.upstream_process = false, want true")
	}
	if len(rep.Modes) != 1 || len(rep.Modes[0].Scenarios) != 2 {
		t.Fatalf("modes = %+v, want non-streaming with direct and bare-proxy", rep.Modes)
	}
	for _, s := range rep.Modes[0].Scenarios {
		if s.Sequential.Requests == 0 || s.Sequential.Errors != 0 {
			t.Errorf("%s: %d sequential requests, %d errors; want some, none failed", s.Name, s.Sequential.Requests, s.Sequential.Errors)
		}
	}
}

// TestUpstreamProcessFailsToStart: an upstream process that exits at once
// fails the cluster's start with what it said, instead of a time-out.
func TestUpstreamProcessFailsToStart(t *testing.T) {
	t.Setenv("MERIDIAN_TEST_AS_MAIN", "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c, err := bench.StartCluster(t.Context(), bench.ClusterOptions{Upstream: bench.UpstreamConfig(8),
		UpstreamProcess: []string{exe, "mockllm", "--no-such-flag"}})
	if err == nil {
		c.Close()
		t.Fatal("StartCluster succeeded with an upstream that cannot start")
	}
	if !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("err = %v, want the process's exit and its complaint about the flag", err)
	}
}

// TestMockLLMListenFD: --listen fd:N is refused unless N can be an
// inherited descriptor, naming the flag.
func TestMockLLMListenFD(t *testing.T) {
	for _, v := range []string{"fd:", "fd:x", "fd:1", "fd:-3"} {
		_, _, err := runCLI(t, "mockllm", "--listen", v)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--listen") {
			t.Errorf("mockllm --listen %s: err = %v, want a usage error naming --listen", v, err)
		}
	}
}
