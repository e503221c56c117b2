package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testRegion = "eu-west-1"

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// openTest opens a writer on root with a fake clock; mutate adjusts the
// configuration.
func openTest(t testing.TB, root string, clk *fakeClock, mutate func(*Config)) *Writer {
	t.Helper()
	cfg := Config{Dir: root}
	if mutate != nil {
		mutate(&cfg)
	}
	w, err := Open(cfg, testRegion, Options{Clock: clk, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return w
}

// testEvent returns a plausible source-side event number i.
func testEvent(i int) *Event {
	inference := "eu-central-1"
	if i%3 == 0 {
		inference = "eu-west-1"
	}
	e := &Event{
		EventID:   fmt.Sprintf("req-%06d", i),
		EventTime: Time{time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)},
		EventName: "ChatCompletions",
		UserIdentity: UserIdentity{
			PrincipalID: fmt.Sprintf("team-%d", i%2), Type: "apiKey", APIKeyID: fmt.Sprintf("key-%d", i%2),
		},
		SourceIPAddress:     "192.0.2.10",
		UserAgent:           "curl/8.5.0",
		SourceRegion:        testRegion,
		InferenceRegion:     inference,
		InferenceProfileARN: "arn:aws:bedrock:eu-west-1:000000000000:inference-profile/eu.demo.chat-small",
		ModelID:             "eu.demo.chat-small",
		Decision:            Decision{Allowed: true},
		RouteReason:         "headroom",
		Attempts:            []Attempt{{Region: inference, Outcome: "ok", DurationMs: 120, Status: 200}},
		StatusCode:          200,
		Usage:               Usage{InputTokens: 12, OutputTokens: 40},
		LatencyMs:           130,
		TTFTMs:              20,
		Content:             &Content{Prompt: "hello", Completion: "world"},
	}
	if i%5 == 4 {
		e.Decision = Decision{Allowed: false, Reason: "explicit deny in policy eu-only"}
		e.InferenceRegion, e.RouteReason, e.Attempts = "", "", nil
		e.StatusCode, e.ErrorCode = 403, "AccessDeniedException"
		e.Usage, e.TTFTMs = Usage{}, 0
	}
	return e
}

func appendN(t testing.TB, w *Writer, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := w.Append(context.Background(), testEvent(i)); err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
	}
}

func mustVerify(t *testing.T, dir string, w *Writer) *Report {
	t.Helper()
	rep, err := Verify(dir, mustPublicKey(t, w))
	if err != nil {
		t.Fatalf("Verify(%s) = %v, want no error", dir, err)
	}
	return rep
}

func mustPublicKey(t testing.TB, w *Writer) ed25519.PublicKey {
	t.Helper()
	return w.PublicKey()
}

// readEvents returns every event in dir, in log order.
func readEvents(t testing.TB, dir string) []*Event {
	t.Helper()
	var out []*Event
	if err := Query(dir, Filter{}, func(e *Event) error { out = append(out, e); return nil }); err != nil {
		t.Fatalf("Query(%s): %v", dir, err)
	}
	return out
}

func TestAppendVerify(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	clk := newFakeClock()
	w := openTest(t, root, clk, nil)
	appendN(t, w, 0, 50)
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	rep := mustVerify(t, w.Dir(), w)
	if rep.Events != 50 || rep.Files != 1 || rep.Digests != 1 || len(rep.Warnings) != 0 {
		t.Errorf("Verify = %d events, %d files, %d digests, warnings %v; want 50, 1, 1, none", rep.Events, rep.Files, rep.Digests, rep.Warnings)
	}
	if want := testEvent(0).EventTime.Time; !rep.First.Equal(want) {
		t.Errorf("First = %v, want %v", rep.First, want)
	}
	evs := readEvents(t, w.Dir())
	for i, e := range evs {
		if e.EventID != testEvent(i).EventID || e.RecordingRegion != testRegion || e.Side != SideSource || e.EventVersion != EventVersion {
			t.Errorf("event %d = %s/%s/%s/%s", i, e.EventID, e.RecordingRegion, e.Side, e.EventVersion)
		}
		if e.Content != nil {
			t.Errorf("event %d has content with record_content off", i)
		}
	}
	if err := w.Append(context.Background(), testEvent(99)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
}

func TestRecordContent(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w := openTest(t, root, newFakeClock(), func(c *Config) { c.RecordContent = true; c.Fsync = SyncAlways })
	appendN(t, w, 0, 3)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, e := range readEvents(t, w.Dir()) {
		if e.Content == nil || e.Content.Prompt != "hello" {
			t.Errorf("event %s content = %+v, want the prompt recorded", e.EventID, e.Content)
		}
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	clk := newFakeClock()
	w := openTest(t, root, clk, func(c *Config) { c.RotateBytes = 4000; c.RotateInterval = time.Hour })
	appendN(t, w, 0, 30) // about 900 bytes each: several files by size
	clk.Advance(time.Hour)
	appendN(t, w, 30, 1) // a new file by time
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	logs, _, err := listDir(w.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) < 4 {
		t.Fatalf("got %d files, want rotation by size into several", len(logs))
	}
	last := logs[len(logs)-1]
	if last.seq != 31 {
		t.Errorf("last file %s starts at event %d, want 31 (rotated by time)", last.name, last.seq)
	}
	for _, lf := range logs[:len(logs)-1] {
		fi, err := os.Stat(filepath.Join(w.Dir(), lf.name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 4000 {
			t.Errorf("%s is %d bytes, want at most rotate_bytes 4000", lf.name, fi.Size())
		}
	}
	// The first event of each file links to the last event of the previous one.
	for i := 1; i < len(logs); i++ {
		prev := readLines(t, filepath.Join(w.Dir(), logs[i-1].name))
		next := readLines(t, filepath.Join(w.Dir(), logs[i].name))
		if got, want := parsed(t, next[0]).PrevHash, parsed(t, prev[len(prev)-1]).Hash; got != want {
			t.Errorf("%s:1 prevHash = %s, want the hash of %s's last event %s", logs[i].name, got, logs[i-1].name, want)
		}
		if want := logs[i-1].seq + uint64(len(prev)); logs[i].seq != want {
			t.Errorf("%s starts at event %d, want %d", logs[i].name, logs[i].seq, want)
		}
	}
	rep := mustVerify(t, w.Dir(), w)
	if rep.Events != 31 || rep.Files != len(logs) {
		t.Errorf("Verify = %d events in %d files, want 31 in %d", rep.Events, rep.Files, len(logs))
	}
}

func TestDigestInterval(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	clk := newFakeClock()
	w := openTest(t, root, clk, func(c *Config) { c.DigestInterval = time.Minute })
	appendN(t, w, 0, 5)
	clk.Advance(time.Minute)
	// Digest is a barrier: the writer handled the tick before it, and there
	// is nothing new to digest.
	if err := w.Digest(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, digests, _ := listDir(w.Dir())
	if len(digests) != 1 {
		t.Fatalf("after one interval: %d digests, want 1", len(digests))
	}
	clk.Advance(time.Minute) // nothing new: no digest
	// Barrier again: the writer must handle this tick before the next
	// events arrive, or it would digest them on the tick.
	if err := w.Digest(t.Context()); err != nil {
		t.Fatal(err)
	}
	appendN(t, w, 5, 5)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, digests, _ = listDir(w.Dir())
	if len(digests) != 2 {
		t.Fatalf("after close: %d digests, want 2", len(digests))
	}
	mustVerify(t, w.Dir(), w)
}

func TestRestartResumesChain(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	clk := newFakeClock()
	w := openTest(t, root, clk, nil)
	appendN(t, w, 0, 10)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	w = openTest(t, root, clk, nil)
	appendN(t, w, 10, 10)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, w.Dir(), w)
	if rep.Events != 20 || rep.Files != 2 || rep.Digests != 2 || len(rep.Warnings) != 0 {
		t.Errorf("Verify = %d events, %d files, %d digests, %v; want 20, 2, 2, none", rep.Events, rep.Files, rep.Digests, rep.Warnings)
	}
}

// TestRestartAfterCrash simulates a crash before the digest with a torn
// last line: the restarted writer resumes after the last complete event, in
// a new file, and its first digest covers the events the crash left
// uncovered.
func TestRestartAfterCrash(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	clk := newFakeClock()
	w := openTest(t, root, clk, nil)
	appendN(t, w, 0, 5)
	if err := w.Digest(t.Context()); err != nil {
		t.Fatal(err)
	}
	appendN(t, w, 5, 5)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dir := w.Dir()
	logs, digests, _ := listDir(dir)
	// Undo the shutdown digest and tear the last line, as a crash would.
	if err := os.Remove(filepath.Join(dir, digests[len(digests)-1].name)); err != nil {
		t.Fatal(err)
	}
	torn := filepath.Join(dir, logs[0].name)
	f, err := os.OpenFile(torn, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"eventVersion":"1.0","eventId":"req-torn","eventTi`)
	f.Close()

	rep, err := Verify(dir, mustPublicKey(t, w))
	if err != nil {
		t.Fatalf("Verify after crash = %v, want only warnings", err)
	}
	if got := kinds(rep.Warnings); got != "not yet covered by a digest@6,torn tail@11" {
		t.Errorf("warnings after crash = %s", got)
	}

	clk.Advance(time.Second)
	w = openTest(t, root, clk, nil)
	appendN(t, w, 10, 3)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep = mustVerify(t, dir, w)
	if rep.Events != 13 || rep.Files != 2 {
		t.Errorf("Verify = %d events in %d files, want 13 in 2", rep.Events, rep.Files)
	}
	if got := kinds(rep.Warnings); got != "torn tail@11" {
		t.Errorf("warnings after restart = %s, want the torn tail only", got)
	}
}

func kinds(ws []*TamperError) string {
	var s []string
	for _, w := range ws {
		s = append(s, fmt.Sprintf("%s@%d", w.Kind, w.Line))
	}
	return strings.Join(s, ",")
}

func TestBackpressure(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	entered := make(chan struct{}, 16)
	release := make(chan struct{})
	cfg := Config{Dir: root, QueueSize: 1}
	w, err := open(cfg, testRegion, Options{Clock: newFakeClock(), Logger: testLogger(t)}, testHooks{beforeCommit: func() {
		entered <- struct{}{}
		<-release
	}})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- w.Append(context.Background(), testEvent(0)) }()
	<-entered // the writer holds event 0 and waits
	go func() { errs <- w.Append(context.Background(), testEvent(1)) }()
	// Event 1 fills the one-slot queue; wait until it is there.
	for w.pending.Load() != 1 {
		runtime.Gosched()
	}
	if err := w.Append(context.Background(), testEvent(2)); !errors.Is(err, ErrBackpressure) {
		t.Errorf("Append with a full queue = %v, want ErrBackpressure", err)
	}
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("Append = %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(readEvents(t, w.Dir())); n != 2 {
		t.Errorf("log holds %d events, want the 2 accepted", n)
	}
	if st := w.Stats(); st.Written != 2 || st.Rejected != 1 || st.Failed != 0 || st.Capacity != 1 || st.Digests != 1 || st.Files != 1 {
		t.Errorf("Stats() = %+v, want 2 written, 1 rejected, 1 digest, 1 file", st)
	}
}

func TestConcurrentAppend(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	clk := newFakeClock()
	w := openTest(t, root, clk, func(c *Config) { c.RotateBytes = 64 << 10; c.QueueSize = 10000 })
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if err := w.Append(context.Background(), testEvent(g*each+i)); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				if i == each/2 && g == 0 {
					if err := w.Digest(context.Background()); err != nil {
						t.Errorf("Digest: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, w.Dir(), w)
	if rep.Events != goroutines*each {
		t.Errorf("Verify counted %d events, want %d", rep.Events, goroutines*each)
	}
	seen := map[string]int{}
	for _, e := range readEvents(t, w.Dir()) {
		seen[e.EventID]++
	}
	for i := range goroutines * each {
		if id := testEvent(i).EventID; seen[id] != 1 {
			t.Errorf("event %s appears %d times, want 1", id, seen[id])
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cfg := Config{Fsync: "sometimes", QueueSize: -1, FsyncInterval: -time.Second}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate of a bad config = nil")
	}
	for _, want := range []string{"audit.dir", "audit.fsync", "audit.queue_size", "audit.fsync_interval"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %q, want it to name %s", err, want)
		}
	}
	d := Default("/var/lib/meridian/audit")
	if err := d.Validate(); err != nil || d.Fsync != SyncInterval || d.QueueSize != 4096 || d.RotateBytes != 64<<20 {
		t.Errorf("Default() = %+v, %v", d, err)
	}
}

func parsed(t *testing.T, line string) *Event {
	t.Helper()
	e, err := ParseLine([]byte(strings.TrimSuffix(line, "\n")))
	if err != nil {
		t.Fatalf("ParseLine(%q) = %v", line, err)
	}
	return e
}

// A client that went away must not keep its request out of the trail
// (invariant 4): a canceled context bounds only the wait.
func TestAppendCanceledContextStillRecords(t *testing.T) {
	t.Parallel()
	w := openTest(t, t.TempDir(), newFakeClock(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := w.Append(ctx, testEvent(0))
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Append(canceled ctx) = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if evs := readEvents(t, w.Dir()); len(evs) != 1 {
		t.Errorf("log holds %d events, want the one appended with a canceled context", len(evs))
	}
}

// TestWriteFailure: a group commit whose write fails part-way keeps the
// complete lines it wrote, takes the partial line back, fails the other
// events, and makes the writer unavailable; once the disk has room it
// continues after a gap marker, and verify finds no torn tail.
func TestWriteFailure(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	first := true
	hold := make(chan struct{})
	entered := make(chan struct{}, 64)
	hooks := testHooks{
		beforeCommit: func() {
			if first {
				first = false
				entered <- struct{}{}
				<-hold
			}
		},
	}
	fsys := &faultFS{}
	clk := newFakeClock()
	w, err := open(Config{Dir: root}, testRegion, Options{Clock: clk, Logger: testLogger(t), FS: fsys}, hooks)
	if err != nil {
		t.Fatal(err)
	}
	// Event 0 is held in its own commit; events 1..8 queue up and are
	// written with one write, which fails part-way.
	errs := make(chan error, 9)
	go func() { errs <- w.Append(context.Background(), testEvent(0)) }()
	<-entered
	for i := 1; i <= 8; i++ {
		go func() { errs <- w.Append(context.Background(), testEvent(i)) }()
	}
	for w.pending.Load() != 8 {
		runtime.Gosched()
	}
	// About three and a half events of the first batch fit.
	fsys.set(func(f *faultFS) { f.full, f.room = true, 3*900+450 })
	close(hold)
	failed := 0
	for range 9 {
		if err := <-errs; err != nil {
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("Append = %v, want ErrUnavailable", err)
			}
			failed++
		}
	}
	if failed == 0 || failed == 9 {
		t.Fatalf("%d of 9 appends failed, want some to fail and some to succeed", failed)
	}
	fsys.heal()
	clk.Advance(probeMin)
	appendN(t, w, 9, 3) // continues in a new file, after the gap marker
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, w.Dir(), w)
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings = %s, want none: the partial line was taken back", kinds(rep.Warnings))
	}
	if want := int64(9 - failed + 1 + 3); rep.Events != want || rep.Files != 2 || len(rep.Gaps) != 1 || rep.Gaps[0].Gap.LostEvents != int64(failed) {
		t.Errorf("Verify = %d events in %d files, gaps %v; want %d in 2 and a gap of %d", rep.Events, rep.Files, rep.Gaps, want, failed)
	}
}

func TestOneWriterPerDirectory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w := openTest(t, root, newFakeClock(), nil)
	if _, err := Open(Config{Dir: root}, testRegion, Options{}); err == nil || !strings.Contains(err.Error(), "another writer") {
		t.Errorf("second Open of the same region = %v, want refusal", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w2, err := Open(Config{Dir: root}, testRegion, Options{})
	if err != nil {
		t.Fatalf("Open after Close = %v", err)
	}
	w2.Close()
}

// Lines longer than the scanner's buffer (large recorded prompts) verify,
// query and recover like short ones.
func TestLongLines(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	clk := newFakeClock()
	w := openTest(t, root, clk, func(c *Config) { c.RecordContent = true })
	big := testEvent(1)
	big.Content = &Content{Prompt: strings.Repeat("x", 3<<20), Completion: "ok"}
	appendN(t, w, 0, 1)
	if err := w.Append(t.Context(), big); err != nil {
		t.Fatal(err)
	}
	appendN(t, w, 2, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, root, clk, func(c *Config) { c.RecordContent = true })
	appendN(t, w, 3, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, w.Dir(), w); rep.Events != 4 {
		t.Errorf("Verify counted %d events, want 4", rep.Events)
	}
	evs := readEvents(t, w.Dir())
	if len(evs) != 4 || evs[1].Content == nil || len(evs[1].Content.Prompt) != 3<<20 {
		t.Errorf("Query returned %d events, the long one intact: %v", len(evs), len(evs) == 4 && evs[1].Content != nil)
	}
}

// TestVerifyAcrossKeyRotation: a node restarted with a new audit key keeps
// one chain; verify needs both public keys. With only one, the log is not
// reported as tampered but as signed by a key not given ([KeyError]: the
// other key's id, its first digest, the keys given), after walking every
// event.
func TestVerifyAcrossKeyRotation(t *testing.T) {
	t.Parallel()
	root, keys := t.TempDir(), t.TempDir()
	clk := newFakeClock()
	var pubs []ed25519.PublicKey
	for i := range 2 {
		priv, pub, err := GenerateKey(filepath.Join(keys, strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		k, err := ReadPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, k)
		w := openTest(t, root, clk, func(c *Config) { c.KeyFile = priv })
		appendN(t, w, 10*i, 10)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	dir := filepath.Join(root, testRegion)
	rep, err := Verify(dir, pubs...)
	if err != nil || rep.Events != 20 || rep.Digests != 2 || !rep.SignaturesChecked {
		t.Fatalf("Verify(both keys) = %+v, %v; want 20 events, 2 digests, signatures checked", rep, err)
	}
	for i, k := range pubs {
		missing := KeyID(pubs[1-i])
		rep, err := Verify(dir, k)
		var te *TamperError
		var ke *KeyError
		if errors.As(err, &te) || !errors.As(err, &ke) {
			t.Errorf("Verify(key %d only) = %v, want a *KeyError, not tampering", i, err)
			continue
		}
		if len(ke.Keys) != 1 || ke.Keys[0].KeyID != missing || !strings.HasPrefix(ke.Keys[0].First, "digest-") || ke.Keys[0].Digests != 1 ||
			len(ke.Given) != 1 || ke.Given[0] != KeyID(k) {
			t.Errorf("Verify(key %d only): %+v, want key %s missing (1 digest) and the given key listed", i, ke, missing)
		}
		if want := "signed by a key not given: " + missing + " from digest-"; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Verify(key %d only) = %q, want it to start %q", i, err, want)
		}
		if rep.Events != 20 || len(rep.UnknownKeys) != 1 {
			t.Errorf("Verify(key %d only): report %+v, want all 20 events walked", i, rep)
		}
	}
	// A digest that names a given key but does not verify with it is still
	// forged: the tamper table's "digest signed by another key".
}
