package audit

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestLogDirsFindsReplicas: LogDirs finds the logs Query reads at any
// depth: the parent of replicas' audit directories (two levels above the
// files) gives one directory per replica and region, each a chain of its
// own that verifies on its own, and both Query and LogDirs see the same
// events.
func TestLogDirsFindsReplicas(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	clk := newFakeClock()
	var want []string
	var keys []string
	for _, r := range []string{"replica-a", "replica-b"} {
		w := openTest(t, filepath.Join(root, r), clk, nil)
		appendN(t, w, 0, 3)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		want = append(want, w.Dir())
		keys = append(keys, filepath.Join(root, r, DefaultKeyName+".pub"))
	}
	for _, tc := range []struct {
		dir  string
		want []string
	}{{root, want}, {filepath.Join(root, "replica-a"), want[:1]}, {want[1], want[1:]}} {
		got, err := LogDirs(tc.dir)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("LogDirs(%s) = %v, want %v", tc.dir, got, tc.want)
		}
	}
	n := 0
	if err := Query(root, Filter{}, func(*Event) error { n++; return nil }); err != nil || n != 6 {
		t.Errorf("Query(root) = %d events, %v; want 6", n, err)
	}
	for i, d := range want {
		k, err := ReadPublicKey(keys[i])
		if err != nil {
			t.Fatal(err)
		}
		if rep, err := Verify(d, k); err != nil || rep.Events != 3 {
			t.Errorf("Verify(%s) = %+v, %v; want its own 3 events intact", d, rep, err)
		}
	}
}
