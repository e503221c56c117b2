package depguard

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// wallClock are the functions of package time that read or wait on the
// wall clock. Production code under internal/ reads an injected
// clock.Clock instead (docs/architecture.md, "Time"); cmd/ is the edge
// and passes clock.Wall.
var wallClock = map[string]bool{"Now": true, "Since": true, "Until": true, "After": true, "AfterFunc": true,
	"NewTimer": true, "NewTicker": true, "Tick": true, "Sleep": true}

// wallClockAllowed lists the places that may still use them, each with
// its reason. A key is a directory ending in "/" (everything under it), or
// "file:func" for one function ("file:" for package-level declarations);
// func is "Name" or "Recv.Name". A "file:func" entry that no longer
// matches anything fails the test, so the table only shrinks.
var wallClockAllowed = map[string]string{
	"internal/clock/":                              "the wall clock itself (clock.Wall)",
	"internal/node/listener.go:newAdmission":       "net.Conn deadlines are read against the system clock, whatever the node's clock",
	"internal/node/listener.go:refuseConn":         "net.Conn deadlines are read against the system clock, whatever the node's clock",
	"internal/telemetry/requestid.go:NewRequestID": "the id's time prefix makes ids sortable across processes; it decides nothing",
	"internal/testenv/log.go:Log.Await":            "a test's hang guard: it only ends a wait that a bug would make endless, never times behaviour",
}

// TestNoWallClock fails on every bare wall-clock call (or wait) (or reference, such
// as a time.Now passed as a func) in non-test Go files under internal/
// outside wallClockAllowed, naming file, line and function.
func TestNoWallClock(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	used := map[string]bool{}
	var found []string
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		for _, c := range wallClockCalls(t, path) {
			if key, ok := allowedWallClock(rel, c.fn); ok {
				used[key] = true
				continue
			}
			found = append(found, rel+":"+strconv.Itoa(c.line)+": time."+c.name+" in "+cmpOr(c.fn, "a package-level declaration"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(found)
	for _, f := range found {
		t.Errorf("%s: read the injected clock.Clock (or add a reasoned entry to wallClockAllowed)", f)
	}
	for key := range wallClockAllowed {
		if !strings.HasSuffix(key, "/") && !used[key] {
			t.Errorf("wallClockAllowed[%q] matches no wall-clock use any more: remove it", key)
		}
	}
}

type wallClockCall struct {
	name string // Now, Since…
	line int
	fn   string // enclosing function: Name or Recv.Name; empty at package level
}

// wallClockCalls parses path and returns its uses of package time's
// wall-clock functions, however "time" is imported.
func wallClockCalls(t *testing.T, path string) []wallClockCall {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	pkg := ""
	for _, imp := range f.Imports {
		if imp.Path.Value != `"time"` {
			continue
		}
		pkg = "time"
		if imp.Name != nil {
			pkg = imp.Name.Name
		}
	}
	if pkg == "" || pkg == "_" {
		return nil
	}
	var out []wallClockCall
	scan := func(n ast.Node, fn string) {
		ast.Inspect(n, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == pkg && wallClock[sel.Sel.Name] && !shadowed(f, pkg) {
				out = append(out, wallClockCall{name: sel.Sel.Name, line: fset.Position(sel.Pos()).Line, fn: fn})
			}
			return true
		})
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok {
			scan(d, "")
			continue
		}
		name := fd.Name.Name
		if fd.Recv != nil && len(fd.Recv.List) == 1 {
			name = recvName(fd.Recv.List[0].Type) + "." + name
		}
		scan(fd, name)
	}
	return out
}

// shadowed reports whether the file declares something named pkg at
// package level, which would make pkg.X not package time's. (A local of
// that name is not looked for: the project does not shadow imports.)
func shadowed(f *ast.File, pkg string) bool {
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok != token.IMPORT {
			for _, s := range g.Specs {
				if v, ok := s.(*ast.ValueSpec); ok {
					for _, n := range v.Names {
						if n.Name == pkg {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

// recvName is the type name of a method receiver: T for T, *T, T[P].
func recvName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return "?"
		}
	}
}

// allowedWallClock reports whether a use in file rel inside fn is allowed,
// and by which entry.
func allowedWallClock(rel, fn string) (string, bool) {
	if key := rel + ":" + fn; wallClockAllowed[key] != "" {
		return key, true
	}
	for key := range wallClockAllowed {
		if strings.HasSuffix(key, "/") && strings.HasPrefix(rel, key) {
			return key, true
		}
	}
	return "", false
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestWallClockCallsFindsEveryForm: the scanner sees calls and func
// values, an aliased import, and names the enclosing method by its type.
func TestWallClockCallsFindsEveryForm(t *testing.T) {
	t.Parallel()
	src := `package p

import tm "time"

var start = tm.Now()

type T struct{ now func() tm.Time }

func (t *T) wait(d tm.Duration) {
	t.now = tm.Now
	<-tm.After(d)
	_ = tm.Duration(0) // not a clock read
}
`
	path := filepath.Join(t.TempDir(), "p.go")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	got := wallClockCalls(t, path)
	want := []wallClockCall{{"Now", 5, ""}, {"Now", 10, "T.wait"}, {"After", 11, "T.wait"}}
	if !slices.Equal(got, want) {
		t.Errorf("wallClockCalls = %+v, want %+v", got, want)
	}
}
