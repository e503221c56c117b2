package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashDirEnv = "MERIDIAN_AUDIT_CRASH_DIR"

// TestCrashChild is the process TestCrash kills: it appends events from
// several goroutines with fsync=always and prints "ACK <id>" once Append has
// returned for an event, until it is killed.
func TestCrashChild(t *testing.T) {
	root := os.Getenv(crashDirEnv)
	if root == "" {
		t.Skip("runs only as the child of TestCrash")
	}
	w, err := Open(Config{Dir: root, Fsync: SyncAlways, RotateBytes: 256 << 10, RecordContent: true}, testRegion, Options{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	prompt := strings.Repeat("a long prompt spanning pages ", 700) // ~20 KB: multi-page writes
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				e := testEvent(g*1_000_000 + i)
				e.Content = &Content{Prompt: prompt, Completion: "ok"}
				if err := w.Append(context.Background(), e); err != nil {
					mu.Lock()
					fmt.Println("ERR", err)
					mu.Unlock()
					continue
				}
				mu.Lock()
				fmt.Println("ACK", e.EventID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrash kills a writing process with SIGKILL and checks that verify
// reports at most a torn tail, that every event whose Append returned is in
// the log, and that a restarted writer continues the chain.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	root := t.TempDir()
	acked := map[string]bool{}
	killChild(t, "TestCrashChild", crashDirEnv, root, func(l string) bool {
		switch {
		case strings.HasPrefix(l, "ACK "):
			acked[strings.TrimPrefix(l, "ACK ")] = true
		case strings.HasPrefix(l, "ERR "):
			t.Errorf("child: %s", l)
		}
		return len(acked) >= 400
	})

	dir := filepath.Join(root, testRegion)
	pub, err := ReadPublicKey(filepath.Join(root, DefaultKeyName+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	checkCrashLog := func(stage string) {
		rep, err := Verify(dir, pub)
		if err != nil {
			t.Fatalf("%s: Verify = %v, want at most a torn tail", stage, err)
		}
		for _, w := range rep.Warnings {
			if w.Kind.Tampering() {
				t.Errorf("%s: warning %v", stage, w)
			}
		}
		t.Logf("%s: %d events in %d files, %d digests, warnings: %v", stage, rep.Events, rep.Files, rep.Digests, rep.Warnings)
		present := map[string]bool{}
		for _, e := range readEvents(t, dir) {
			present[e.EventID] = true
		}
		missing := 0
		for id := range acked {
			if !present[id] {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d acknowledged events are missing from the log", stage, missing, len(acked))
		}
	}
	checkCrashLog("after SIGKILL")

	w := openTest(t, root, newFakeClock(), nil)
	appendN(t, w, 5_000_000, 5)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	checkCrashLog("after restart")
}

// killChild runs the test binary's test named child as a child process,
// with env set to root, hands each line the child prints to onLine, and
// kills it with SIGKILL once onLine says it has seen enough. It fails the
// test if the child ended before that.
func killChild(t *testing.T, child, env, root string, onLine func(line string) (enough bool)) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+child+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+root)
	cmd.Stderr = t.Output()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// Hang guard only: a child that stops writing is killed, and the test
	// fails below because it was not killed by the test.
	guard := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer guard.Stop()
	killed := false
	for l := range lines {
		if !onLine(l) || killed {
			continue
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed = true
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("child %s exited without being killed", child)
	}
}
