package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/validate")

// TestValidateGolden runs `config validate` on each testdata/validate/<case>
// topology and compares what it prints with want.txt (-update rewrites it).
func TestValidateGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/validate/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			out, stderr, err := runCLI(t, "config", "validate", filepath.Join(dir, "topology.yaml"))
			if err != nil && !errors.Is(err, errSilentFailure) {
				t.Fatalf("config validate = %v", err)
			}
			got := out + stderr
			golden := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("config validate %s (-want +got):\n%s", dir, diff)
			}
		})
	}
}
