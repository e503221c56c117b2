package policy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the want files of testdata/simulate and testdata/load")

// goldenInput is testdata/simulate/<case>/input.json: policies by name, the
// request and its context.
type goldenInput struct {
	Policies   map[string]json.RawMessage `json:"policies"`
	Guardrails map[string]json.RawMessage `json:"guardrails"`
	Action     string                     `json:"action"`
	Resource   string                     `json:"resource"`
	Context    json.RawMessage            `json:"context"`
}

func documents(m map[string]json.RawMessage) []Document {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []Document
	for _, n := range names {
		out = append(out, Document{Name: n, JSON: m[n]})
	}
	return out
}

// TestSimulateGolden runs each testdata/simulate/<case>/input.json through
// Simulate and compares the JSON report with want.json next to it. Run with
// -update to rewrite the want files after an intended change.
func TestSimulateGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "simulate", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "input.json"))
			if err != nil {
				t.Fatal(err)
			}
			var in goldenInput
			if err := json.Unmarshal(raw, &in); err != nil {
				t.Fatalf("%s/input.json: %v", dir, err)
			}
			sim := SimulateInput{Policies: documents(in.Policies), Guardrails: documents(in.Guardrails), Action: in.Action, Resource: in.Resource}
			if len(in.Context) > 0 {
				if sim.Context, err = ParseContextJSON(in.Context); err != nil {
					t.Fatalf("%s/input.json context: %v", dir, err)
				}
			}
			rep, err := Simulate(sim)
			if err != nil {
				t.Fatalf("Simulate(%s): %v", dir, err)
			}
			got, _ := json.MarshalIndent(rep, "", "  ")
			got = append(got, '\n')
			wantPath := filepath.Join(dir, "want.json")
			if *update {
				if err := os.WriteFile(wantPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Simulate(%s) report mismatch (-want +got):\n%s", dir, cmp.Diff(string(want), string(got)))
			}
		})
	}
}
