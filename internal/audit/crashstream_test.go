package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const streamCrashDirEnv = "MERIDIAN_AUDIT_STREAM_CRASH_DIR"

// TestStreamCrashChild is the process TestStreamCrash kills: streams from
// several goroutines, each a Begin ("BEGUN <id>" once it returned) and an
// Append ("ACK <id>"), until it is killed.
func TestStreamCrashChild(t *testing.T) {
	root := os.Getenv(streamCrashDirEnv)
	if root == "" {
		t.Skip("runs only as the child of TestStreamCrash")
	}
	w, err := Open(Config{Dir: root}, testRegion, Options{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	say := func(s ...any) {
		mu.Lock()
		fmt.Println(s...)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				e := testEvent(g*1_000_000 + i)
				if err := w.Begin(context.Background(), e); err != nil {
					say("ERR", err)
					continue
				}
				say("BEGUN", e.EventID)
				if err := w.Append(context.Background(), e); err != nil {
					say("ERR", err)
					continue
				}
				say("ACK", e.EventID)
			}
		})
	}
	wg.Wait()
}

// TestStreamCrash is a crash smoke test: it kills a process running
// streams with SIGKILL at an arbitrary point and checks that the
// restarted writer leaves exactly one event per begun stream: its own for
// every acknowledged one, never a duplicate. Where the kill lands is left
// to chance: in some runs (about one in three) end records of streams
// whose events are in the log are still pending, in others not; it logs
// which. TestPendingEndCrash covers that case deterministically.
func TestStreamCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	root := t.TempDir()
	begun, acked := map[string]bool{}, map[string]bool{}
	killChild(t, "TestStreamCrashChild", streamCrashDirEnv, root, func(l string) bool {
		switch {
		case strings.HasPrefix(l, "BEGUN "):
			begun[strings.TrimPrefix(l, "BEGUN ")] = true
		case strings.HasPrefix(l, "ACK "):
			acked[strings.TrimPrefix(l, "ACK ")] = true
		case strings.HasPrefix(l, "ERR "):
			t.Errorf("child: %s", l)
		}
		return len(acked) >= 300
	})

	dir := filepath.Join(root, testRegion)
	// Streams whose event is in the log and whose end is not in the
	// journal: what recovery must not write again.
	open := map[string]bool{}
	for _, r := range journalRecords(t, dir) {
		op, id, _ := strings.Cut(r, " ")
		open[id] = op == "begin"
	}
	pendingEnds := 0
	for _, e := range readEvents(t, dir) {
		if open[e.EventID] {
			pendingEnds++
		}
	}
	w := openTest(t, root, newFakeClock(), nil)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(dir, w.PublicKey()); err != nil {
		t.Fatalf("Verify after restart: %v", err)
	}
	events := map[string][]string{} // id: error codes
	for _, e := range readEvents(t, dir) {
		events[e.EventID] = append(events[e.EventID], e.ErrorCode)
	}
	interrupted := 0
	for id, codes := range events {
		if len(codes) > 1 {
			t.Errorf("%s has %d events %q, want one", id, len(codes), codes)
		}
		if codes[0] == InterruptedErrorCode {
			interrupted++
		}
	}
	for id := range begun {
		if len(events[id]) == 0 {
			t.Errorf("begun stream %s has no event", id)
		}
	}
	for id := range acked {
		if c := events[id]; len(c) == 0 || c[0] == InterruptedErrorCode {
			t.Errorf("acknowledged stream %s has events %q, want its own", id, c)
		}
	}
	t.Logf("%d streams begun, %d acknowledged, %d with their event in the log but no end record at the crash; after restart %d events, %d interrupted",
		len(begun), len(acked), pendingEnds, len(events), interrupted)
}
