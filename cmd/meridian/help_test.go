package main

import (
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
