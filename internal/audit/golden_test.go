package audit

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/verify/v1 with a newly written log")

// TestGoldenLog verifies a log written by format version 1.0 and kept in
// testdata: every later version of verify must accept it, so that logs
// written today stay verifiable (run with -update only when the format
// version changes).
func TestGoldenLog(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "verify", "v1")
	if *update {
		os.RemoveAll(dir)
		w := openTest(t, dir, newFakeClock(), func(c *Config) { c.RotateBytes = 4000 })
		appendN(t, w, 0, 6)
		if err := w.Digest(t.Context()); err != nil {
			t.Fatal(err)
		}
		appendN(t, w, 6, 6)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, DefaultKeyName)) // keep only the public key
		os.Remove(filepath.Join(w.Dir(), ".lock"))
	}
	pub, err := ReadPublicKey(filepath.Join(dir, DefaultKeyName+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(filepath.Join(dir, testRegion), pub)
	if err != nil {
		t.Fatalf("Verify(%s) = %v", dir, err)
	}
	if rep.Events != 12 || rep.Digests != 2 || rep.Files < 3 || len(rep.Warnings) != 0 {
		t.Errorf("Verify(%s) = %d events, %d files, %d digests, %v; want 12, at least 3, 2, none", dir, rep.Events, rep.Files, rep.Digests, rep.Warnings)
	}
	// The encoder still writes the same bytes for the same event.
	evs := readEvents(t, filepath.Join(dir, testRegion))
	lines := readLines(t, filepath.Join(dir, testRegion, mustFirstLog(t, filepath.Join(dir, testRegion))))
	got := string(sealed(t, evs[0], evs[0].PrevHash)) + "\n"
	if got != lines[0] {
		t.Errorf("re-encoding the first golden event:\n got %s\nwant %s", got, lines[0])
	}
}

func mustFirstLog(t *testing.T, dir string) string {
	t.Helper()
	logs, _, err := listDir(dir)
	if err != nil || len(logs) == 0 {
		t.Fatalf("no log in %s: %v", dir, err)
	}
	return logs[0].name
}
