package audit

import (
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// countFS is the operating system's file system counting the write calls
// made on each file, by base name: what a stream costs in write(2)s.
type countFS struct {
	OSFS
	mu     sync.Mutex
	writes map[string]int
	syncs  map[string]int
}

func (c *countFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := c.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &countFile{File: f, fs: c, name: filepath.Base(name)}, nil
}

// counts returns the writes and fsyncs of a file so far.
func (c *countFS) counts(name string) (writes, syncs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes[name], c.syncs[name]
}

type countFile struct {
	File
	fs   *countFS
	name string
}

func (f *countFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	if f.fs.writes == nil {
		f.fs.writes, f.fs.syncs = map[string]int{}, map[string]int{}
	}
	f.fs.writes[f.name]++
	f.fs.mu.Unlock()
	return f.File.Write(p)
}

func (f *countFile) Sync() error {
	f.fs.mu.Lock()
	if f.fs.syncs == nil {
		f.fs.writes, f.fs.syncs = map[string]int{}, map[string]int{}
	}
	f.fs.syncs[f.name]++
	f.fs.mu.Unlock()
	return f.File.Sync()
}

// journalRecords returns the journal's records as "op id" strings,
// skipping a torn last line a killed process may leave.
func journalRecords(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, journalName))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for l := range strings.Lines(string(b)) {
		if !strings.HasSuffix(l, "}\n") {
			continue // torn
		}
		_, op, _ := strings.Cut(l, `"op":"`)
		op, _, _ = strings.Cut(op, `"`)
		_, id, _ := strings.Cut(l, `"id":"`)
		id, _, _ = strings.Cut(id, `"`)
		out = append(out, op+" "+id)
	}
	return out
}

// TestJournalWritesPerStream: a stream costs one journal write (its begin
// record), not two: the end record of a stream whose event is in the log
// waits in memory and goes out with the next journal write. Under both
// fsync modes, one stream after another.
func TestJournalWritesPerStream(t *testing.T) {
	t.Parallel()
	for _, policy := range []SyncPolicy{SyncInterval, SyncAlways} {
		t.Run(string(policy), func(t *testing.T) {
			t.Parallel()
			fsys := &countFS{}
			w, err := Open(Config{Dir: t.TempDir(), Fsync: policy}, testRegion, Options{Clock: newFakeClock(), Logger: testLogger(t), FS: fsys})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			j0, _ := fsys.counts(journalName) // the rewrite at start
			const streams = 20
			for i := range streams {
				e := testEvent(i)
				if err := w.Begin(ctx, e); err != nil {
					t.Fatal(err)
				}
				if err := w.Append(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			j, js := fsys.counts(journalName)
			if got := j - j0; got != streams {
				t.Errorf("%d streams made %d journal writes, want %d (one per begin; ends ride along)", streams, got, streams)
			}
			if policy == SyncAlways && js != streams {
				t.Errorf("%d streams made %d journal fsyncs under fsync=always, want one per begin", streams, js)
			}
			// Every end but the last went out with the next begin.
			recs := journalRecords(t, w.Dir())
			if len(recs) != 2*streams-1 || recs[len(recs)-1] != "begin req-000019" || recs[len(recs)-2] != "end req-000018" {
				t.Errorf("journal = %v, want begin and end of each stream, the last end pending", recs)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := eventIDs(readEvents(t, w.Dir())); len(got) != streams || slices.ContainsFunc(got, func(s string) bool { return strings.HasSuffix(s, "/"+InterruptedErrorCode) }) {
				t.Errorf("log = %v, want %d events, none interrupted", got, streams)
			}
		})
	}
}

// TestPendingEndCrash: a process killed after a stream's event reached the
// log but before its end record was written leaves an intent that looks
// open; the next Open finds the event in the log and writes no interrupted
// duplicate, with and without streams running and begun after it.
func TestPendingEndCrash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		running bool // a stream begun after the ended one is still running
		want    []string
	}{
		{"ended", false, []string{"req-000001/"}},
		{"ended then running", true, []string{"req-000001/", "req-000002/interrupted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root, clk := t.TempDir(), newFakeClock()
			w := openTest(t, root, clk, nil)
			ctx := t.Context()
			ended := testEvent(1)
			if err := w.Begin(ctx, ended); err != nil {
				t.Fatal(err)
			}
			if err := w.Append(ctx, ended); err != nil {
				t.Fatal(err)
			}
			if tc.running {
				if err := w.Begin(ctx, testEvent(2)); err != nil {
					t.Fatal(err)
				}
			}
			// The pending end is not in the journal yet (unless a begin
			// carried it); a crash now leaves that journal.
			recs := journalRecords(t, w.Dir())
			wantRecs := []string{"begin req-000001"}
			if tc.running {
				wantRecs = []string{"begin req-000001", "end req-000001", "begin req-000002"}
			}
			if !slices.Equal(recs, wantRecs) {
				t.Fatalf("journal before the crash = %v, want %v", recs, wantRecs)
			}
			w2 := restartCrashed(t, w, clk)
			if got := eventIDs(readEvents(t, w2.Dir())); !slices.Equal(got, tc.want) {
				t.Errorf("after restart: log = %v, want %v", got, tc.want)
			}
			if b, _ := os.ReadFile(filepath.Join(w2.Dir(), journalName)); len(b) != 0 {
				t.Errorf("journal after restart holds %q, want it empty", b)
			}
			mustVerify(t, w2.Dir(), w2)
		})
	}
}

// TestPendingEndsFlushed: pending end records do not wait for a begin that
// may never come: the digest (on its interval, and on Writer.Digest)
// writes them, so that a crash after a quiet spell makes recovery read
// the log only from the streams still running.
func TestPendingEndsFlushed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		flush func(t *testing.T, w *Writer, clk *fakeClock)
	}{
		{"digest", func(t *testing.T, w *Writer, clk *fakeClock) {
			if err := w.Digest(t.Context()); err != nil {
				t.Fatal(err)
			}
		}},
		{"digest interval", func(t *testing.T, w *Writer, clk *fakeClock) {
			// No Digest call here (it would flush the ends itself): the
			// interval's tick alone must. Advance returns once the writer
			// took the tick; the next tick is taken only when the writer
			// is back in its loop, done with the first, and finds nothing
			// new to digest.
			clk.Advance(DefaultDigestInterval)
			clk.Advance(DefaultDigestInterval)
			if got := w.Stats().Digests; got != 1 {
				t.Fatalf("after two digest intervals: %d digests, want 1", got)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := &countFS{}
			clk := newFakeClock()
			w, err := Open(Config{Dir: t.TempDir()}, testRegion, Options{Clock: clk, Logger: testLogger(t), FS: fsys})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			ctx := t.Context()
			for i := range 3 {
				if err := w.Begin(ctx, testEvent(i)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 3 {
				if err := w.Append(ctx, testEvent(i)); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := fsys.counts(journalName)
			tc.flush(t, w, clk)
			after, _ := fsys.counts(journalName)
			want := []string{"begin req-000000", "begin req-000001", "begin req-000002", "end req-000000", "end req-000001", "end req-000002"}
			if got := journalRecords(t, w.Dir()); !slices.Equal(got, want) {
				t.Errorf("journal = %v, want %v", got, want)
			}
			if after-before != 1 {
				t.Errorf("flushing 3 pending ends took %d writes, want 1", after-before)
			}
		})
	}
}

// TestPendingEndsBounded: when many streams end while none begins, their
// end records go out once more than maxPendingEnds wait, with one write.
// The journal is never compacted here (a compaction drops the ends it
// writes), whatever the size of an encoded event.
func TestPendingEndsBounded(t *testing.T) {
	t.Parallel()
	fsys := &countFS{}
	hooks := testHooks{journalCompactBytes: math.MaxInt64}
	w, err := open(Config{Dir: t.TempDir()}, testRegion, Options{Clock: newFakeClock(), Logger: testLogger(t), FS: fsys}, hooks)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := t.Context()
	const n = maxPendingEnds + 1
	for i := range n {
		if err := w.Begin(ctx, testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := fsys.counts(journalName)
	for i := range n - 1 {
		if err := w.Append(ctx, testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := fsys.counts(journalName); got != before {
		t.Fatalf("%d ends made %d journal writes, want them pending", n-1, got-before)
	}
	if err := w.Append(ctx, testEvent(n-1)); err != nil {
		t.Fatal(err)
	}
	if got, _ := fsys.counts(journalName); got != before+1 {
		t.Errorf("%d ends made %d journal writes, want 1", n, got-before)
	}
	ends := 0
	for _, r := range journalRecords(t, w.Dir()) {
		if strings.HasPrefix(r, "end ") {
			ends++
		}
	}
	if ends != n {
		t.Errorf("journal holds %d end records, want %d", ends, n)
	}
}

// TestDigestAfterJournalCompactionFails: the end records a digest flushes
// can take the journal past its compaction threshold; when that rewrite
// fails, the trail is unavailable, and no digest is signed (it would vouch
// for a trail that Err says is down): Digest reports the outage, and the
// interval's digest is not written. The writer then recovers as from any
// outage.
func TestDigestAfterJournalCompactionFails(t *testing.T) {
	t.Parallel()
	const n = 8
	// The begins alone stay under the threshold; their ends take the
	// journal past it. Sizes come from the encoders the writer uses, on
	// the event as Begin journals it (checked against the file below).
	var begins, ends int64
	for i := range n {
		e := *testEvent(i)
		e.EventVersion, e.Side, e.RecordingRegion, e.Content = EventVersion, SideSource, testRegion, nil
		begins += int64(len(appendBegin(nil, beginPrefix(nil, &e), 0)))
		ends += int64(len(appendEnd(nil, intentKey{e.EventID, SideSource})))
	}
	for _, tc := range []struct {
		name   string
		digest func(t *testing.T, w *Writer, clk *fakeClock)
	}{
		{"Digest", func(t *testing.T, w *Writer, clk *fakeClock) {
			if err := w.Digest(t.Context()); !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.EIO) {
				t.Fatalf("Digest whose journal compaction failed = %v, want ErrUnavailable caused by EIO", err)
			}
		}},
		{"interval", func(t *testing.T, w *Writer, clk *fakeClock) {
			// The second tick is taken once the writer is done with the
			// first (see TestPendingEndsFlushed).
			clk.Advance(DefaultDigestInterval)
			clk.Advance(DefaultDigestInterval)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
			hooks := testHooks{journalCompactBytes: begins + ends/2}
			w, err := open(Config{Dir: root}, testRegion, Options{Clock: clk, Logger: testLogger(t), FS: fsys}, hooks)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			ctx := t.Context()
			for i := range n {
				if err := w.Begin(ctx, testEvent(i)); err != nil {
					t.Fatal(err)
				}
			}
			if fi, err := os.Stat(filepath.Join(w.Dir(), journalName)); err != nil || fi.Size() != begins {
				t.Fatalf("calibration: journal after %d begins: %v, %v; want %d bytes", n, fi, err, begins)
			}
			appendN(t, w, 0, n) // their ends wait for the next journal write
			fsys.set(func(f *faultFS) { f.journalErr = syscall.EIO })

			tc.digest(t, w, clk)
			if err := w.Err(); !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.EIO) {
				t.Fatalf("Err() = %v, want ErrUnavailable caused by EIO", err)
			}
			if _, digests, _ := listDir(w.Dir()); len(digests) != 0 || w.Stats().Digests != 0 {
				t.Fatalf("%d digest files, Stats().Digests = %d; want none signed during the outage", len(digests), w.Stats().Digests)
			}
			checkNoLeftovers(t, w.Dir(), "after the failed compaction")

			fsys.heal()
			clk.Advance(probeMax) // past any backoff
			if err := w.Digest(ctx); err != nil {
				t.Fatalf("after the disk recovered: Digest = %v, want the writer recovered", err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got := eventIDs(readEvents(t, w.Dir()))
			if len(got) != n+1 || slices.ContainsFunc(got, func(s string) bool { return strings.HasSuffix(s, "/"+InterruptedErrorCode) }) {
				t.Errorf("log = %v, want the %d events and a gap marker, none interrupted", got, n)
			}
			mustVerify(t, w.Dir(), w)
		})
	}
}

// TestBeginRecordsAfterItemReuse: a begin record is encoded into its pooled
// item's buffer, which the next Begin or Append reuses once the writer has
// replied; the journal must hold each stream's own begin all the same,
// whether written with its commit or again by a compaction (which encodes
// it from the intent's event). Streams begin one after another, every
// other one ends, and the journal compacts whenever it doubles; after a
// crash the streams still open are written as interrupted, each once.
func TestBeginRecordsAfterItemReuse(t *testing.T) {
	t.Parallel()
	root, clk := t.TempDir(), newFakeClock()
	w, err := open(Config{Dir: root}, testRegion, Options{Clock: clk, Logger: testLogger(t)}, testHooks{journalCompactBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const streams = 40
	var want []string
	for i := range streams {
		e := testEvent(i)
		if err := w.Begin(ctx, e); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := w.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
			want = append(want, e.EventID+"/"+e.ErrorCode)
		}
		// Every begin record in the journal is whole and names a stream
		// begun, once, and the open ones are all there.
		b, err := os.ReadFile(filepath.Join(w.Dir(), journalName))
		if err != nil {
			t.Fatal(err)
		}
		open := map[string]bool{}
		for l := range strings.Lines(string(b)) {
			var r journalRecord
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("after stream %d: journal record %q: %v", i, l, err)
			}
			switch r.Op {
			case "begin":
				if r.Event == nil || r.Event.EventID != r.ID {
					t.Fatalf("after stream %d: begin of %s holds event %+v", i, r.ID, r.Event)
				}
				open[r.ID] = true
			case "end":
				delete(open, r.ID)
			}
		}
		for j := 1; j <= i; j += 2 {
			if id := testEvent(j).EventID; !open[id] {
				t.Fatalf("after stream %d: journal %q lacks the begin of open stream %s", i, b, id)
			}
		}
	}
	for i := 1; i < streams; i += 2 {
		e := testEvent(i)
		code := e.ErrorCode // an interrupted event keeps an error known at its begin
		if code == "" {
			code = InterruptedErrorCode
		}
		want = append(want, e.EventID+"/"+code)
	}
	w2 := restartCrashed(t, w, clk)
	got := eventIDs(readEvents(t, w2.Dir()))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("after restart: log = %v, want %v", got, want)
	}
	mustVerify(t, w2.Dir(), w2)
}
