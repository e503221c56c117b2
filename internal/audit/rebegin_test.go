package audit

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestStreamRebegun: a stream whose intent is journaled again (the gateway
// journals one per attempt, and a failover names another region) still
// ends as exactly one event, named after the last intent when it is
// interrupted: at Close, and at the next Open after a crash.
func TestStreamRebegun(t *testing.T) {
	t.Parallel()
	for _, ends := range []bool{false, true} {
		root, clk := t.TempDir(), newFakeClock()
		w := openTest(t, root, clk, nil)
		ctx := t.Context()
		first, last := testEvent(1), testEvent(1)
		first.InferenceRegion, last.InferenceRegion = "eu-central-1", "eu-north-1"
		for _, e := range []*Event{first, last} {
			if err := w.Begin(ctx, e); err != nil {
				t.Fatalf("Begin(%s): %v", e.InferenceRegion, err)
			}
		}
		want := []string{"req-000001/interrupted"}
		if ends {
			if err := w.Append(ctx, last); err != nil {
				t.Fatal(err)
			}
			want = []string{"req-000001/"}
		}
		w2 := restartCrashed(t, w, clk)
		for _, wr := range []*Writer{w, w2} {
			dir := wr.Dir()
			evs := readEvents(t, dir)
			if got := eventIDs(evs); !slices.Equal(got, want) {
				t.Fatalf("ends=%v, %s: log = %v, want %v", ends, dir, got, want)
			}
			if evs[0].InferenceRegion != last.InferenceRegion {
				t.Errorf("ends=%v, %s: event names %s, want the last intent's %s", ends, dir, evs[0].InferenceRegion, last.InferenceRegion)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, journalName)); len(b) != 0 {
				t.Errorf("ends=%v, %s: journal holds %q, want it empty", ends, dir, b)
			}
			if _, err := Verify(dir, wr.PublicKey()); err != nil {
				t.Errorf("ends=%v: verify: %v", ends, err)
			}
		}
	}
}
