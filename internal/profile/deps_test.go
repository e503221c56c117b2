package profile_test

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDeps keeps package profile pure (the pure core imports no adapter:
// docs/architecture.md, "Package map and layering"): beside the standard library it may depend only on
// internal/topology and what topology itself depends on (policy, routing,
// the pure Bedrock model-id classifier, the YAML parser), and its own files import no package that does I/O or
// starts goroutines.
func TestDeps(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	list := func(pkg string) []string {
		out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		return strings.Fields(string(out))
	}
	const mod = "github.com/meridian-gateway/meridian/internal/"
	allowed := map[string]bool{mod + "profile": true}
	for _, p := range list("../topology") {
		allowed[p] = true
	}
	for _, p := range list(".") {
		if !allowed[p] {
			t.Errorf("profile depends on %s; the pure core may import only the standard library and internal/topology", p)
		}
		if strings.HasPrefix(p, mod) && !map[string]bool{"profile": true, "topology": true, "policy": true, "routing": true, "schema/bedrockmodel": true, "textdist": true}[strings.TrimPrefix(p, mod)] {
			t.Errorf("profile depends on %s, an adapter", p)
		}
	}
}

// TestNoIO: the package's own files import nothing that reaches files,
// sockets, the clock's goroutines or locks; time is passed in (now).
func TestNoIO(t *testing.T) {
	t.Parallel()
	forbidden := map[string]bool{"os": true, "io/fs": true, "net": true, "net/http": true, "sync": true, "sync/atomic": true,
		"log": true, "log/slog": true, "context": true, "os/exec": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if forbidden[p] {
				t.Errorf("%s imports %s; package profile performs no I/O and holds no locks", f, p)
			}
		}
	}
}
