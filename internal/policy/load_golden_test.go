package policy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLoadGolden parses each testdata/load/<case>/policy.json and compares
// what Parse reports (every error on a line of its own, or "ok" followed by
// what CheckKeys reports) with want.txt next to it. Run with -update to
// rewrite the want files after an intended change.
func TestLoadGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "load", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join(dir, "policy.json"))
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			p, err := Parse(filepath.Base(dir), doc)
			if err != nil {
				got.WriteString(err.Error() + "\n")
			} else {
				got.WriteString("ok\n")
				if err := p.CheckKeys(); err != nil {
					got.WriteString("CheckKeys:\n" + err.Error() + "\n")
				}
			}
			wantPath := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(wantPath, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("Parse(%s) mismatch (-want +got):\n%s", dir, cmp.Diff(string(want), got.String()))
			}
		})
	}
}
