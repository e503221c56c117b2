package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestSubcommandHelp: -h on a verb with subcommands prints its usage and
// succeeds; it is never taken as an operand (keys hash -h hashed "-h") nor
// reported as an unknown subcommand, and no message says "usage:" twice.
func TestSubcommandHelp(t *testing.T) {
	for _, args := range [][]string{
		{"keys", "-h"}, {"keys", "--help"}, {"keys", "hash", "-h"}, {"config", "-h"}, {"config", "validate", "-h"},
		{"audit", "-h"}, {"audit", "--help"},
	} {
		out, stderr, err := runCLI(t, args...)
		if !errors.Is(err, errSilentSuccess) {
			t.Errorf("run(%q) = %v, want the help shown (stderr %q)", args, err, stderr)
		}
		if !strings.Contains(out, "usage: meridian "+args[0]) || strings.Contains(out, "sha256:") {
			t.Errorf("run(%q) printed %q, want its usage", args, out)
		}
	}
	_, _, err := runCLI(t, "config", "frobnicate")
	if err == nil || strings.Count(err.Error(), "usage") != 1 {
		t.Errorf("config with a bad subcommand: %v, want one usage error saying \"usage\" once", err)
	}
}

// TestJSONLogKeysAreUnique: logs of the audit component repeated the
// component and region keys, which some log pipelines reject.
func TestJSONLogKeysAreUnique(t *testing.T) {
	var buf bytes.Buffer
	lf := logFlags{format: "json", level: "info"}
	log, err := lf.logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	log.With("component", "audit", "region", "eu-west-1").With("component", "audit", "region", "eu-west-1").Info("audit key created")
	if n := strings.Count(buf.String(), `"component"`) + strings.Count(buf.String(), `"region"`); n != 2 {
		t.Errorf("log line %s: component and region appear %d times in all, want once each", buf.String(), n)
	}
}
