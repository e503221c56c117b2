package telemetry

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestRequestLinesCarryTheTrace: every line the request path logs about a
// request (one naming its request_id) is logged with a context, so that it
// carries the request's trace_id (UniqueKeys) like "request denied" and
// "request finished" do: slog's *Context methods, Log or LogAttrs, never
// with context.Background() or context.TODO().
func TestRequestLinesCarryTheTrace(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "gateway", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no gateway sources: %v", err)
	}
	withContext := map[string]bool{"DebugContext": true, "InfoContext": true, "WarnContext": true, "ErrorContext": true, "Log": true, "LogAttrs": true}
	plain := map[string]bool{"Debug": true, "Info": true, "Warn": true, "Error": true}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (!withContext[sel.Sel.Name] && !plain[sel.Sel.Name]) || !isLogger(sel.X) || !namesRequest(call) {
				return true
			}
			checked++
			pos := fset.Position(call.Pos())
			if plain[sel.Sel.Name] {
				t.Errorf("%s: %s names a request but is logged without its context (use %sContext)", pos, sel.Sel.Name, sel.Sel.Name)
				return true
			}
			if len(call.Args) > 0 {
				if c, ok := call.Args[0].(*ast.CallExpr); ok {
					if s, ok := c.Fun.(*ast.SelectorExpr); ok && (s.Sel.Name == "Background" || s.Sel.Name == "TODO") {
						t.Errorf("%s: %s names a request but is logged with context.%s", pos, sel.Sel.Name, s.Sel.Name)
					}
				}
			}
			return true
		})
	}
	if checked < 5 {
		t.Errorf("only %d request log lines found in internal/gateway: the check no longer sees them", checked)
	}
}

// isLogger reports whether x is a logger field (g.log, s.g.log, ...).
func isLogger(x ast.Expr) bool {
	s, ok := x.(*ast.SelectorExpr)
	return ok && s.Sel.Name == "log"
}

// namesRequest reports whether a log call names its request: one of its
// arguments mentions telemetry.AttrRequestID, or it logs attributes built
// beside it (LogAttrs with a slice).
func namesRequest(call *ast.CallExpr) bool {
	found := false
	for _, a := range call.Args {
		ast.Inspect(a, func(n ast.Node) bool {
			if s, ok := n.(*ast.SelectorExpr); ok && s.Sel.Name == "AttrRequestID" {
				found = true
			}
			return !found
		})
		if _, ok := a.(*ast.Ident); ok && len(call.Args) > 3 {
			// attrs... of LogAttrs: built beside the call.
			found = found || call.Ellipsis.IsValid()
		}
	}
	return found
}
