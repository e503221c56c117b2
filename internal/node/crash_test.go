package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestCrashNodeChild is the node that TestSIGKILLLosesOnlyUnansweredEvents
// starts in a child process and kills. It does nothing in a normal run.
func TestCrashNodeChild(t *testing.T) {
	cfgPath := os.Getenv("MERIDIAN_CRASH_NODE_CONFIG")
	if cfgPath == "" {
		t.Skip("child process of TestSIGKILLLosesOnlyUnansweredEvents")
	}
	cfg, err := topology.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	fmt.Println(crashChildReady) // the parent waits for this line
	select {}                    // serve until killed
}

// TestSIGKILLLosesOnlyUnansweredEvents kills a node with SIGKILL during
// load: every request that got an answer has its audit event, and verify
// reports at most a torn tail, never tampering.
func TestSIGKILLLosesOnlyUnansweredEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	key, _ := auth.NewKey()
	cfgPath := filepath.Join(dir, "crash.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
audit: { dir: %q, fsync: interval, fsync_interval: 50ms, digest_interval: 200ms }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: %q, link: "127.0.0.1:0" }
models: [ { id: demo.chat-small } ]
deployments: [ { model: demo.chat-small, region: eu-west-1, backend: { type: mock, tokens_per_second: 0 } } ]
principals: [ { id: tester, api_keys: [%q] } ]
`, filepath.Join(dir, "audit"), addr, auth.HashKey(key))), 0o644)
	child := startCrashChild(t, cfgPath)
	var mu sync.Mutex
	var answered []string
	// The node is killed once enough requests were answered under load
	// (a count, not a time).
	const beforeKill = 200
	enough := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		stream := w%2 == 1 // half the workers stream: answered means [DONE] arrived
		wg.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions",
					strings.NewReader(fmt.Sprintf(`{"model":"eu.demo.chat-small","stream":%v,"max_tokens":4,"messages":[{"role":"user","content":"x"}]}`, stream)))
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := client.Do(req)
				if err != nil {
					continue // the node died mid-request: unanswered
				}
				ok := false
				if stream {
					b, rerr := io.ReadAll(resp.Body)
					ok = rerr == nil && strings.HasSuffix(strings.TrimSpace(string(b)), "data: [DONE]")
				} else {
					var body map[string]any
					ok = json.NewDecoder(resp.Body).Decode(&body) == nil
				}
				resp.Body.Close()
				if resp.StatusCode == 200 && ok {
					mu.Lock()
					answered = append(answered, resp.Header.Get("X-Meridian-Request-Id"))
					if len(answered) == beforeKill {
						close(enough)
					}
					mu.Unlock()
				}
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(time.Minute): // a hang guard only
		t.Fatal("the node answered too few requests under load")
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	close(stop)
	wg.Wait()
	if len(answered) < 50 {
		t.Fatalf("only %d requests answered before the kill: the load did not run", len(answered))
	}
	logged := map[string]bool{}
	if err := audit.Query(filepath.Join(dir, "audit"), audit.Filter{}, func(e *audit.Event) error {
		logged[e.EventID] = true
		return nil
	}); err != nil {
		t.Fatalf("query after SIGKILL: %v", err)
	}
	missing := 0
	for _, id := range answered {
		if !logged[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d answered requests have no audit event after SIGKILL", missing, len(answered))
	}
	rep, err := audit.Verify(filepath.Join(dir, "audit", "eu-west-1"), nil)
	if err != nil {
		t.Fatalf("verify after SIGKILL reports tampering: %v", err)
	}
	t.Logf("%d answered, %d events, %d digests, warnings: %v", len(answered), rep.Events, rep.Digests, rep.Warnings)
}

// TestCrashMidStreamKeepsEvents kills a node while streams are partly
// delivered (their first chunks reached the clients): each of them still
// ends as exactly one audit event, written as interrupted by the next
// start from the journal of stream intents, and the log verifies.
func TestCrashMidStreamKeepsEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	key, _ := auth.NewKey()
	cfgPath := filepath.Join(dir, "crash.yaml")
	// Two tokens a second: a stream of 40 tokens runs for 20 seconds.
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
audit: { dir: %q, fsync: interval }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: %q, link: "127.0.0.1:0" }
models: [ { id: demo.chat-small } ]
deployments: [ { model: demo.chat-small, region: eu-west-1, backend: { type: mock, tokens_per_second: 2 } } ]
principals: [ { id: tester, api_keys: [%q] } ]
`, filepath.Join(dir, "audit"), addr, auth.HashKey(key))), 0o644)
	child := startCrashChild(t, cfgPath)
	const streams = 4
	var ids []string
	client := &http.Client{Timeout: 30 * time.Second}
	for range streams {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions",
			strings.NewReader(`{"model":"eu.demo.chat-small","stream":true,"max_tokens":40,"messages":[{"role":"user","content":"x"}]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream: %v %v", resp, err)
		}
		defer resp.Body.Close()
		// The first chunk arrived: the stream is partly delivered.
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "data: ") {
			t.Fatalf("first chunk = %q, %v", line, err)
		}
		ids = append(ids, resp.Header.Get("X-Meridian-Request-Id"))
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()

	// The next start recovers the interrupted streams.
	w, err := audit.Open(audit.Config{Dir: filepath.Join(dir, "audit")}, "eu-west-1", audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	events := map[string][]*audit.Event{}
	if err := audit.Query(filepath.Join(dir, "audit"), audit.Filter{}, func(e *audit.Event) error {
		events[e.EventID] = append(events[e.EventID], e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		evs := events[id]
		if len(evs) != 1 {
			t.Errorf("partly delivered stream %s has %d audit events after SIGKILL, want exactly 1", id, len(evs))
			continue
		}
		if e := evs[0]; e.ErrorCode != audit.InterruptedErrorCode || e.StatusCode != 200 || e.InferenceRegion != "eu-west-1" || e.UserIdentity.PrincipalID != "tester" {
			t.Errorf("stream %s: event %+v, want status 200, errorCode interrupted, where it ran and who asked", id, e)
		}
	}
	if len(events) != streams {
		t.Errorf("log holds events of %d requests, want %d (one per request)", len(events), streams)
	}
	if _, err := audit.Verify(filepath.Join(dir, "audit", "eu-west-1"), w.PublicKey()); err != nil {
		t.Errorf("verify after recovery: %v", err)
	}
}

// crashChildReady is the line TestCrashNodeChild prints once its node
// serves.
const crashChildReady = "MERIDIAN_CRASH_NODE_READY"

// startCrashChild starts TestCrashNodeChild on cfgPath in a child process
// and returns once the child says its node serves. The child is killed at
// the end of the test.
func startCrashChild(t *testing.T, cfgPath string) *exec.Cmd {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestCrashNodeChild$", "-test.v")
	child.Env = append(os.Environ(), "MERIDIAN_CRASH_NODE_CONFIG="+cfgPath)
	child.Stdout, child.Stderr = pw, os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	t.Cleanup(func() {
		child.Process.Kill()
		pr.Close()
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		said := false
		for sc.Scan() { // read to the end, so the child never blocks writing
			if !said && strings.TrimSpace(sc.Text()) == crashChildReady {
				said = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(time.Minute): // a hang guard only
		t.Fatal("the child node never said it serves")
	}
	return child
}
