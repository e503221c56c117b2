package policy

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the package pure: it may import only the standard library
// and internal/textdist (a pure edit distance, standard library only).
func TestDeps(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/meridian-gateway/meridian/internal/policy" && dep != "github.com/meridian-gateway/meridian/internal/textdist" {
			t.Errorf("internal/policy depends on %s; the policy core imports only the standard library and internal/textdist", dep)
		}
	}
	std, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(std)) {
		for _, banned := range []string{"net/http", "os/exec", "database/sql"} {
			if dep == banned {
				t.Errorf("internal/policy depends on %s; it performs no I/O", dep)
			}
		}
	}
}
