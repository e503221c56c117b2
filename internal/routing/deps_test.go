package routing_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the routing core pure: it may import only the standard
// library (docs/architecture.md, "Package map and layering").
func TestDeps(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/meridian-gateway/meridian/internal/routing" {
			t.Errorf("routing depends on %s; the pure core may import only the standard library", p)
		}
	}
}
