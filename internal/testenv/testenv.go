// Package testenv holds helpers for tests that need programs outside Go
// (redis-server, chromium): they skip when the program is missing, unless
// MERIDIAN_INTEGRATION=required, in which case they fail.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether integration dependencies must be present
// (MERIDIAN_INTEGRATION=required, as CI sets it).
func Required() bool { return os.Getenv("MERIDIAN_INTEGRATION") == "required" }

// LookPath returns the path of the first of names found on PATH (or given as
// an absolute path that exists). When none is found, the test is skipped, or
// failed when [Required] is true.
func LookPath(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if Required() {
		t.Fatalf("none of %v found on PATH, and MERIDIAN_INTEGRATION=required", names)
	}
	t.Skipf("none of %v found on PATH; skipping (set MERIDIAN_INTEGRATION=required to fail instead)", names)
	return ""
}
