package depguard

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the module path; rule patterns are relative to it.
const module = "github.com/meridian-gateway/meridian/"

// std stands for every package of the standard library in an allowed set.
const std = "std"

// pureCore may be imported by the pure packages that build on each other.
var pureCore = []string{std, "internal/textdist", "internal/policy", "internal/routing", "internal/topology", "internal/schema/bedrockmodel", "internal/profile", "internal/inference",
	"go.yaml.in/yaml/v3"}

// adapters are the packages that do I/O for the request path; the gateway
// declares interfaces they implement and must import none of them.
var adapters = []string{"internal/backend", "internal/backend/...", "internal/quota", "internal/quota/...", "internal/audit",
	"internal/audit/...", "internal/interregion", "internal/interregion/...", "internal/api/...", "internal/node", "internal/node/...",
	"internal/ui", "internal/ui/...", "internal/mockllm", "internal/mockllm/...", "github.com/aws/...", "github.com/redis/..."}

// rules is the layering the module keeps (docs/architecture.md). A
// pattern ending in "/..." matches a package and everything under it;
// a rule whose pattern matches no package (yet) is skipped. A rule
// either allows (every dependency must be in Allowed) or forbids (no
// dependency may be in Forbidden); dependencies are transitive and test
// files are not counted.
var rules = []struct {
	Pattern   string
	Allowed   []string
	Forbidden []string
	Why       string
}{
	{Pattern: "internal/routing", Allowed: []string{std}, Why: "the routing core is pure: standard library only"},
	{Pattern: "internal/policy", Allowed: []string{std, "internal/textdist"}, Why: "the policy evaluator is pure: standard library only (and the pure edit distance its refusals suggest with)"},
	{Pattern: "internal/textdist", Allowed: []string{std}, Why: "the edit distance is pure: standard library only"},
	{Pattern: "internal/inference", Allowed: []string{std}, Why: "the inference vocabulary is pure: standard library only"},
	{Pattern: "internal/topology", Allowed: []string{std, "internal/policy", "internal/routing", "internal/schema/bedrockmodel", "internal/textdist", "go.yaml.in/yaml/v3"},
		Why: "the topology is pure: the standard library, the pure core, the pure Bedrock model-id classifier and the one YAML library"},
	{Pattern: "internal/profile", Allowed: pureCore, Why: "profiles are pure: the standard library, the pure core and the one YAML library"},
	{Pattern: "internal/schema/...", Allowed: []string{std, "internal/schema/..."}, Why: "wire schemas are pure: the standard library and each other (jsonx) only"},
	{Pattern: "internal/dialect", Allowed: []string{std, "internal/inference", "internal/translate", "internal/schema/..."}, Why: "the dialect mapping is pure: the inference vocabulary and the translators only"},
	{Pattern: "internal/translate/...", Allowed: []string{std, "internal/schema/..."}, Why: "translators are pure functions: the standard library and the wire schemas only"},
	{Pattern: "internal/dispatch", Forbidden: append(adapters, "internal/gateway"),
		Why: "the job types are a leaf between the gateway and the link"},
	{Pattern: "internal/gateway/...", Forbidden: adapters,
		Why: "the gateway owns the request path and declares the interfaces its adapters implement"},
	{Pattern: "internal/api/...", Forbidden: []string{"internal/node", "internal/node/...", "internal/interregion", "internal/interregion/...", "internal/backend", "internal/backend/..."},
		Why: "front ends speak HTTP to the gateway only"},
	{Pattern: "internal/backend/...", Forbidden: []string{"internal/gateway", "internal/gateway/..."},
		Why: "backends serve the gateway's interface without knowing it"},
}

// pkg is what go list says of a package.
type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

// TestLayering checks every rule against `go list -deps -json` of the
// module's internal packages and, for each violation, prints the import
// chain that brings the forbidden package in.
func TestLayering(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(goBin, "list", "-deps", "-json=ImportPath,Standard,Imports,Deps", "../...")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(pkg)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	for _, r := range rules {
		matched := false
		for path, p := range pkgs {
			if !match(r.Pattern, path) {
				continue
			}
			matched = true
			bad := func(d string) bool {
				if r.Allowed != nil {
					dp := pkgs[d]
					return !allowed(r.Allowed, d, dp != nil && dp.Standard)
				}
				return slices.ContainsFunc(r.Forbidden, func(f string) bool { return match(f, d) })
			}
			for _, d := range p.Deps {
				if !bad(d) {
					continue
				}
				// Report where the chain first leaves what the rule allows,
				// not every package behind it.
				c := chain(pkgs, path, d)
				if len(c) > 2 && bad(c[len(c)-2]) {
					continue
				}
				names := make([]string, len(c))
				for i, p := range c {
					names[i] = rel(p)
				}
				t.Errorf("%s imports %s (%s)\n\timport chain: %s", rel(path), rel(d), r.Why, strings.Join(names, " -> "))
			}
		}
		if !matched {
			t.Logf("rule %s matches no package yet", r.Pattern)
		}
	}
}

// TestMatch pins the pattern syntax of the rules.
func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"internal/api/...", module + "internal/api/openai", true},
		{"internal/api/...", module + "internal/api", true},
		{"internal/api/...", module + "internal/apis", false},
		{"internal/node", module + "internal/node/nodetest", false},
		{"github.com/aws/...", "github.com/aws/aws-sdk-go-v2/service/bedrockruntime", true},
		{"go.yaml.in/yaml/v3", "go.yaml.in/yaml/v3", true},
	}
	for _, tc := range tests {
		if got := match(tc.pattern, tc.path); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

// match reports whether path is named by pattern: module-relative
// ("internal/...") or a full import path, with an optional "/..." suffix.
func match(pattern, path string) bool {
	if strings.HasPrefix(pattern, "internal/") {
		pattern = module + pattern
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func allowed(set []string, path string, standard bool) bool {
	for _, a := range set {
		if (a == std && standard) || match(a, path) {
			return true
		}
	}
	return false
}

// chain returns the shortest import chain from from to to, as import
// paths.
func chain(pkgs map[string]*pkg, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for p := cur; p != ""; p = prev[p] {
				path = append(path, p)
			}
			slices.Reverse(path)
			return path
		}
		if p := pkgs[cur]; p != nil {
			for _, i := range p.Imports {
				if _, seen := prev[i]; !seen {
					prev[i] = cur
					queue = append(queue, i)
				}
			}
		}
	}
	return []string{from, "…", to}
}

func rel(path string) string { return strings.TrimPrefix(path, module) }
