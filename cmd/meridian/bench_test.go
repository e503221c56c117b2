package main

import (
	"errors"
	"strings"
	"testing"
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
