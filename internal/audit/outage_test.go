package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// openFault opens a writer on root whose disk is fsys.
func openFault(t *testing.T, root string, clk *fakeClock, fsys *faultFS, mutate func(*Config)) *Writer {
	t.Helper()
	cfg := Config{Dir: root}
	if mutate != nil {
		mutate(&cfg)
	}
	w, err := Open(cfg, testRegion, Options{Clock: clk, Logger: testLogger(t), FS: fsys})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return w
}

// checkNoLeftovers fails if a log file is empty or ends in a partial line.
func checkNoLeftovers(t *testing.T, dir, stage string) {
	t.Helper()
	logs, _, err := listDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, lf := range logs {
		b, err := os.ReadFile(filepath.Join(dir, lf.name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || b[len(b)-1] != '\n' {
			t.Errorf("%s: %s holds %d bytes ending in %q, want no empty file and no partial line", stage, lf.name, len(b), b[max(len(b)-1, 0):])
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("%s: temporary file %s left behind", stage, e.Name())
		}
	}
}

// TestOutage: a write failure (full disk, failed fsync, failed rotation)
// makes the writer unavailable at once, so that nothing more is admitted;
// it leaves no empty or partial file; the writer probes with backoff,
// recovers when the disk has room again, and writes a gap marker that
// verify reports with the lost requests.
func TestOutage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fsync SyncPolicy
		// fault breaks the disk; failing says whether the next Append fails
		// (false: the fault is found by a background fsync).
		fault    func(f *faultFS, clk *fakeClock)
		failing  bool
		wantLost int64
	}{
		{"disk full mid-line, fsync interval", SyncInterval, func(f *faultFS, _ *fakeClock) {
			f.set(func(f *faultFS) { f.full, f.room = true, 100 })
		}, true, 2},
		{"disk full, fsync always", SyncAlways, func(f *faultFS, _ *fakeClock) {
			f.set(func(f *faultFS) { f.full, f.room = true, 300 })
		}, true, 2},
		{"fsync fails, fsync always", SyncAlways, func(f *faultFS, _ *fakeClock) {
			f.set(func(f *faultFS) { f.syncErr = syscall.EIO })
		}, true, 2},
		{"rotation cannot create a file", SyncInterval, func(f *faultFS, clk *fakeClock) {
			f.set(func(f *faultFS) { f.createErr = syscall.ENOSPC; f.full = true })
			clk.Advance(time.Hour) // the next event rotates
		}, true, 2},
		{"background fsync fails, fsync interval", SyncInterval, func(f *faultFS, _ *fakeClock) {
			f.set(func(f *faultFS) { f.syncErr = syscall.EIO })
		}, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
			w := openFault(t, root, clk, fsys, func(c *Config) { c.Fsync = tc.fsync; c.DigestInterval = 24 * time.Hour })
			ctx := t.Context()
			appendN(t, w, 0, 3)
			tc.fault(fsys, clk)
			if tc.failing {
				if err := w.Append(ctx, testEvent(3)); !errors.Is(err, ErrUnavailable) {
					t.Fatalf("Append on a failing disk = %v, want ErrUnavailable", err)
				}
			} else {
				appendN(t, w, 3, 1)
				clk.Advance(w.cfg.FsyncInterval)
				if err := w.Digest(ctx); !errors.Is(err, ErrUnavailable) {
					t.Fatalf("Digest after a failed background fsync = %v, want ErrUnavailable", err)
				}
			}
			// From now on nothing is admitted.
			var ue *UnavailableError
			if err := w.Err(); !errors.As(err, &ue) || ue.RetryAfter < time.Second || ue.Cause == nil {
				t.Fatalf("Err() = %v, want an *UnavailableError with its cause and a Retry-After", err)
			}
			if !w.Stats().Unavailable {
				t.Error("Stats().Unavailable = false during the outage")
			}
			if err := w.Append(ctx, testEvent(4)); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Append during the outage = %v, want ErrUnavailable", err)
			}
			if err := w.Begin(ctx, testEvent(40)); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Begin during the outage = %v, want ErrUnavailable", err)
			}
			checkNoLeftovers(t, w.Dir(), "after the failure")

			// A probe while the disk is still broken fails and leaves nothing.
			clk.Advance(probeMin)
			if err := w.Digest(ctx); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("after a probe on a broken disk: Digest = %v, want ErrUnavailable", err)
			}
			checkNoLeftovers(t, w.Dir(), "after a failed probe")

			fsys.heal()
			clk.Advance(2 * probeMin) // the backoff doubled
			if err := w.Digest(ctx); err != nil {
				t.Fatalf("after the disk recovered: Digest = %v, want the writer recovered", err)
			}
			if err := w.Err(); err != nil {
				t.Fatalf("Err() after recovery = %v", err)
			}
			appendN(t, w, 5, 1)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			checkNoLeftovers(t, w.Dir(), "after recovery")

			rep := mustVerify(t, w.Dir(), w)
			if len(rep.Warnings) != 0 {
				t.Errorf("warnings = %s, want none (no torn tail is left)", kinds(rep.Warnings))
			}
			if len(rep.Gaps) != 1 {
				t.Fatalf("Verify reports %d gaps, want 1", len(rep.Gaps))
			}
			g := rep.Gaps[0]
			if g.Gap.LostEvents != tc.wantLost || rep.Complete() || g.Gap.Cause == "" || g.Gap.AfterSeq+1 != g.Seq {
				t.Errorf("gap = %+v at event %d, complete %v; want %d lost, the cause, right after event %d", g.Gap, g.Seq, rep.Complete(), tc.wantLost, g.Gap.AfterSeq)
			}
			if !slices.Contains(g.Gap.LostEventIDs, testEvent(4).EventID) || !strings.Contains(g.String(), "no event") {
				t.Errorf("gap %q does not name the lost request %s", g, testEvent(4).EventID)
			}
			var ids []string
			for _, e := range readEvents(t, w.Dir()) {
				ids = append(ids, e.EventID)
			}
			want := []string{"req-000000", "req-000001", "req-000002", "audit-gap-4", "req-000005"}
			if !tc.failing {
				want = []string{"req-000000", "req-000001", "req-000002", "req-000003", "audit-gap-5", "req-000005"}
			}
			if !slices.Equal(ids, want) {
				t.Errorf("log holds %v, want %v", ids, want)
			}
			if st := w.Stats(); st.Lost != tc.wantLost || st.Outages != 1 || st.Unavailable {
				t.Errorf("Stats() = %+v, want %d lost in 1 outage", st, tc.wantLost)
			}
		})
	}
}

// TestStreamEventKeptAcrossOutage: a stream begun before the disk filled
// keeps its event, written after the gap marker once the disk has room.
func TestStreamEventKeptAcrossOutage(t *testing.T) {
	t.Parallel()
	root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
	w := openFault(t, root, clk, fsys, nil)
	ctx := t.Context()
	stream := testEvent(1)
	if err := w.Begin(ctx, stream); err != nil {
		t.Fatalf("Begin: %v", err)
	}
	fsys.set(func(f *faultFS) { f.full = true })
	if err := w.Append(ctx, testEvent(2)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
	}
	if err := w.Append(ctx, stream); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("Append of the stream's event during the outage = %v, want ErrUnavailable saying it is kept", err)
	}
	fsys.heal()
	clk.Advance(probeMin)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	evs := readEvents(t, w.Dir())
	if len(evs) != 2 || evs[0].Gap == nil || evs[1].EventID != stream.EventID || evs[1].ErrorCode != "" || evs[1].StatusCode != 200 {
		t.Fatalf("log = %v, want the gap marker then the stream's own event", eventIDs(evs))
	}
	if g := evs[0].Gap; g.LostEvents != 1 || g.DeferredEvents != 1 {
		t.Errorf("gap = %+v, want 1 lost, 1 deferred", g)
	}
	mustVerify(t, w.Dir(), w)
}

func eventIDs(evs []*Event) []string {
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.EventID+"/"+e.ErrorCode)
	}
	return ids
}

// restartCrashed copies w's directory as a process killed now leaves it,
// closes w, then opens and closes a writer on the copy: the returned
// writer's Dir holds what a restart after the crash made of it.
func restartCrashed(t *testing.T, w *Writer, clk *fakeClock) *Writer {
	t.Helper()
	crashed := filepath.Join(t.TempDir(), "crashed")
	snapshotDir(t, w.Dir(), filepath.Join(crashed, testRegion))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w2 := openTest(t, crashed, clk, nil)
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	return w2
}

// snapshotDir copies a writer's directory as it is now: what a process
// killed at this moment leaves behind.
func snapshotDir(t *testing.T, src, dst string) {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dst, 0o755)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInterruptedStreams: a stream begun with Begin always ends as exactly
// one event: its own when it ends, an interrupted one written by Close, or
// one written by the next Open when the process died mid-stream (also when
// the journal lost the stream's end record).
func TestInterruptedStreams(t *testing.T) {
	t.Parallel()
	root, clk := t.TempDir(), newFakeClock()
	w := openTest(t, root, clk, nil)
	ctx := t.Context()
	ended, running := testEvent(1), testEvent(2)
	for _, e := range []*Event{ended, running} {
		if err := w.Begin(ctx, e); err != nil {
			t.Fatalf("Begin(%s): %v", e.EventID, err)
		}
	}
	if err := w.Append(ctx, ended); err != nil {
		t.Fatal(err)
	}
	// A crash now: copy the directory as a killed process leaves it.
	crashed := filepath.Join(t.TempDir(), "crashed")
	snapshotDir(t, w.Dir(), filepath.Join(crashed, testRegion))
	noEnd := filepath.Join(t.TempDir(), "no-end")
	snapshotDir(t, w.Dir(), filepath.Join(noEnd, testRegion))
	j := filepath.Join(noEnd, testRegion, journalName)
	b, _ := os.ReadFile(j)
	var kept [][]byte
	for _, l := range bytes.SplitAfter(b, []byte{'\n'}) {
		if !bytes.Contains(l, []byte(`"op":"end"`)) {
			kept = append(kept, l)
		}
	}
	os.WriteFile(j, bytes.Join(kept, nil), 0o644)

	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"req-000001/", "req-000002/interrupted"}
	if got := eventIDs(readEvents(t, w.Dir())); !slices.Equal(got, want) {
		t.Errorf("after Close with a stream running: log = %v, want %v", got, want)
	}
	for _, dir := range []string{crashed, noEnd} {
		w2 := openTest(t, dir, clk, nil)
		if err := w2.Close(); err != nil {
			t.Fatal(err)
		}
		if got := eventIDs(readEvents(t, w2.Dir())); !slices.Equal(got, want) {
			t.Errorf("%s: after restart: log = %v, want %v", filepath.Base(dir), got, want)
		}
		if b, _ := os.ReadFile(filepath.Join(w2.Dir(), journalName)); len(b) != 0 {
			t.Errorf("%s: journal after restart holds %q, want it empty", filepath.Base(dir), b)
		}
		e := readEvents(t, w2.Dir())[1]
		if e.StatusCode != 200 || e.InferenceRegion != running.InferenceRegion || e.UserIdentity.PrincipalID != running.UserIdentity.PrincipalID {
			t.Errorf("interrupted event = %+v, want what was known at the first byte", e)
		}
		if _, err := Verify(w2.Dir(), w2.PublicKey()); err != nil {
			t.Errorf("verify after restart: %v", err)
		}
	}
}

// TestOutageTornTailExplained: when a failed write cannot even be truncated
// back, its partial line stays, and verify explains the torn tail by the
// gap marker instead of by a crash.
func TestOutageTornTailExplained(t *testing.T) {
	t.Parallel()
	root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
	w := openFault(t, root, clk, fsys, nil)
	appendN(t, w, 0, 2)
	fsys.set(func(f *faultFS) { f.full, f.room, f.truncErr = true, 100, syscall.EIO })
	if err := w.Append(t.Context(), testEvent(2)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append = %v, want ErrUnavailable", err)
	}
	fsys.heal()
	clk.Advance(probeMin)
	appendN(t, w, 3, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, w.Dir(), w)
	if len(rep.Gaps) != 1 || len(rep.Gaps[0].Gap.TornFiles) != 1 {
		t.Fatalf("gaps = %v, want one naming the torn file", rep.Gaps)
	}
	if len(rep.Warnings) != 1 || rep.Warnings[0].Kind != TornTail || rep.Warnings[0].File != rep.Gaps[0].Gap.TornFiles[0] ||
		!strings.Contains(rep.Warnings[0].Detail, "failed write of the outage") {
		t.Errorf("warnings = %v, want the torn tail explained by the gap marker", rep.Warnings)
	}
}

// TestJournalCompacts: the journal of a long-running writer stays bounded,
// and what it holds after compaction still recovers exactly the streams
// that were running.
func TestJournalCompacts(t *testing.T) {
	t.Parallel()
	root, clk := t.TempDir(), newFakeClock()
	w := openTest(t, root, clk, nil)
	ctx := t.Context()
	running := testEvent(0)
	if err := w.Begin(ctx, running); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 1500; i++ {
		e := testEvent(i)
		if err := w.Begin(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := w.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(filepath.Join(w.Dir(), journalName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > journalCompactBytes {
		t.Errorf("journal is %d bytes after 1500 streams, want it compacted below %d", fi.Size(), journalCompactBytes)
	}
	w2 := restartCrashed(t, w, clk)
	seen := map[string]int{}
	for _, e := range readEvents(t, w2.Dir()) {
		seen[e.EventID]++
		if e.EventID == running.EventID && e.ErrorCode != InterruptedErrorCode {
			t.Errorf("running stream's event = %+v, want interrupted", e)
		}
	}
	if len(seen) != 1501 {
		t.Errorf("log holds events of %d requests, want 1501", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("request %s has %d events, want 1", id, n)
		}
	}
}

// TestOutageRecordedAfterRestart: a writer closed (or killed) while its disk
// is full cannot write the gap marker; the next start writes it from the
// outage file, so the gap is not mistaken for a crash.
func TestOutageRecordedAfterRestart(t *testing.T) {
	t.Parallel()
	root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
	w := openFault(t, root, clk, fsys, nil)
	appendN(t, w, 0, 2)
	fsys.set(func(f *faultFS) { f.full = true })
	for i := 2; i < 4; i++ {
		if err := w.Append(t.Context(), testEvent(i)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Append(%d) on a full disk = %v, want ErrUnavailable", i, err)
		}
	}
	// A crash now leaves the same directory as the failed Close below.
	crashed := filepath.Join(t.TempDir(), "crashed")
	snapshotDir(t, w.Dir(), filepath.Join(crashed, testRegion))
	if err := w.Close(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Close on a full disk = %v, want ErrUnavailable", err)
	}
	fsys.heal()
	during, err := os.ReadFile(filepath.Join(crashed, testRegion, outageName))
	if err != nil || !bytes.Contains(during, []byte(`"lostEvents":2`)) {
		t.Fatalf("outage file during the outage = %q, %v; want it to count 2 lost", bytes.TrimSpace(during), err)
	}
	for _, r := range []string{root, crashed} {
		w2 := openTest(t, r, clk, nil)
		appendN(t, w2, 4, 1)
		if err := w2.Close(); err != nil {
			t.Fatal(err)
		}
		rep := mustVerify(t, w2.Dir(), w2)
		if len(rep.Gaps) != 1 {
			t.Fatalf("%s: verify reports %d gaps after the restart, want 1", r, len(rep.Gaps))
		}
		g := rep.Gaps[0].Gap
		if g.LostEvents != 2 || g.AfterSeq != 2 || !slices.Equal(g.LostEventIDs, []string{"req-000002", "req-000003"}) || !strings.Contains(g.Cause, "stopped") {
			t.Errorf("%s: gap = %+v, want the 2 requests lost before the restart, after event 2", r, g)
		}
		// The next start finds nothing more to record, even if the writer
		// had stopped between writing the marker and clearing the file.
		os.WriteFile(filepath.Join(r, testRegion, outageName), during, 0o644)
		w3 := openTest(t, r, clk, nil)
		if err := w3.Close(); err != nil {
			t.Fatal(err)
		}
		if rep := mustVerify(t, w3.Dir(), w3); len(rep.Gaps) != 1 {
			t.Errorf("%s: %d gaps after a second restart, want still 1", r, len(rep.Gaps))
		}
	}
}

// TestQueryShowsGaps: a query whose window overlaps an outage shows the
// gap marker whatever else it filters on, except a single request's id.
func TestQueryShowsGaps(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	marker := &Event{EventID: "audit-gap-7", EventName: GapEventName, EventTime: Time{since},
		Gap: &Gap{Since: Time{since}, Until: Time{since.Add(time.Hour)}, LostEvents: 3, Cause: "no space left on device"}}
	tests := []struct {
		name string
		f    Filter
		want bool
	}{
		{"no filter", Filter{}, true},
		{"a principal", Filter{Principal: "team-0"}, true},
		{"window inside the outage", Filter{Since: since.Add(10 * time.Minute), Until: since.Add(20 * time.Minute)}, true},
		{"window after the outage", Filter{Since: since.Add(2 * time.Hour)}, false},
		{"window before the outage", Filter{Until: since}, false},
		{"one request", Filter{EventID: "req-000001"}, false},
	}
	for _, tc := range tests {
		if got := tc.f.Match(marker); got != tc.want {
			t.Errorf("%s: Match(gap marker) = %v, want %v", tc.name, got, tc.want)
		}
	}
	var b strings.Builder
	p, _ := NewPrinter(&b, "table")
	p.Print(marker)
	p.Flush()
	if !strings.Contains(b.String(), "GAP until") || !strings.Contains(b.String(), "3 requests not recorded") {
		t.Errorf("table row of a gap marker = %q, want it to say GAP and what was lost", b.String())
	}
}

// TestBeginOnFullDisk: a stream whose intent cannot be journaled must not
// start: Begin fails, and the writer is unavailable until the disk has
// room.
func TestBeginOnFullDisk(t *testing.T) {
	t.Parallel()
	root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
	w := openFault(t, root, clk, fsys, nil)
	if err := w.Digest(t.Context()); err != nil { // the start-up is done
		t.Fatal(err)
	}
	fsys.set(func(f *faultFS) { f.full, f.room = true, 10 })
	if err := w.Begin(t.Context(), testEvent(1)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Begin on a full disk = %v, want ErrUnavailable", err)
	}
	if w.Err() == nil {
		t.Fatal("Err() = nil after the journal write failed")
	}
	if b, _ := os.ReadFile(filepath.Join(w.Dir(), journalName)); len(b) != 0 {
		t.Errorf("journal holds %q after the failed write, want it taken back", b)
	}
	fsys.heal()
	clk.Advance(probeMin)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, w.Dir(), w)
	if len(rep.Gaps) != 1 || !rep.Complete() || rep.Events != 1 {
		t.Errorf("verify = %d events, gaps %v, complete %v; want only the marker, nothing lost", rep.Events, rep.Gaps, rep.Complete())
	}
}

// TestOutageKeptOverManyRestarts: a node restarted again and again while
// its disk stays full keeps the outage: the cause says once that the node
// stopped, the outage file stays readable within its size, and the marker
// written at last counts what the first writer lost.
func TestOutageKeptOverManyRestarts(t *testing.T) {
	t.Parallel()
	root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
	w := openFault(t, root, clk, fsys, nil)
	appendN(t, w, 0, 1)
	fsys.set(func(f *faultFS) { f.full = true })
	for i := 1; i < 3; i++ {
		if err := w.Append(t.Context(), testEvent(i)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Append(%d) on a full disk = %v, want ErrUnavailable", i, err)
		}
	}
	w.Close()
	for i := range 250 {
		w := openFault(t, root, clk, fsys, nil)
		w.Close()
		r := readOutageFile(t, w.Dir())
		if r == nil || r.LostEvents != 2 {
			t.Fatalf("restart %d: outage file = %+v, want it to count 2 lost", i+1, r)
		}
		if n := strings.Count(r.Cause, "stopped during the outage"); n != 1 {
			t.Fatalf("restart %d: cause says %d times that the node stopped, want once: %q", i+1, n, r.Cause)
		}
	}
	fsys.heal()
	w = openTest(t, root, clk, nil)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, w.Dir(), w)
	if len(rep.Gaps) != 1 || rep.Gaps[0].Gap.LostEvents != 2 {
		t.Fatalf("verify reports gaps %+v after the restarts, want one counting 2 lost", rep.Gaps)
	}
}

// TestOutageFileAlwaysParses: whatever the cause's length and the number of
// ids, the outage file holds a record that parses, within its size, with
// the counts whole.
func TestOutageFileAlwaysParses(t *testing.T) {
	t.Parallel()
	ids := make([]string, 5000)
	for i := range ids {
		ids[i] = fmt.Sprintf("req-%040d", i)
	}
	streams := make([]streamRef, len(ids))
	for i, id := range ids {
		streams[i] = streamRef{ID: id, Side: SideDestination}
	}
	tests := []struct {
		name    string
		cause   string
		ids     []string
		streams []streamRef
	}{
		{"short cause, many ids", "no space left on device", ids, nil},
		{"long cause", strings.Repeat("x", 40<<10), nil, nil},
		{"long cause to escape, many ids", strings.Repeat("\x01é", 20<<10), ids, nil},
		{"long cause after a restart", strings.Repeat("y", 40<<10) + stoppedSuffix, ids, nil},
		{"many unconfirmed streams", "no space left on device", nil, streams},
		{"many of both", strings.Repeat("z", 40<<10), ids, streams},
	}
	for _, tc := range tests {
		w := openTest(t, t.TempDir(), newFakeClock(), nil)
		o := &outage{since: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), cause: errors.New(tc.cause), afterSeq: 7, lost: 5000, lostIDs: tc.ids, unconfirmed: 3, unconfirmedStreams: tc.streams}
		if err := w.Digest(t.Context()); err != nil { // the start-up is done
			t.Fatal(err)
		}
		if err := w.writeOutage(o); err != nil {
			t.Fatalf("%s: writeOutage: %v", tc.name, err)
		}
		b, _ := os.ReadFile(filepath.Join(w.Dir(), outageName))
		if len(b) != outageSize {
			t.Errorf("%s: outage file is %d bytes, want %d", tc.name, len(b), outageSize)
		}
		r := readOutageFile(t, w.Dir())
		if r == nil {
			t.Fatalf("%s: outage file blank, want the record", tc.name)
		}
		if r.LostEvents != 5000 || r.UnconfirmedEvents != 3 || r.AfterSeq != 7 || len(r.Cause) > maxOutageCause {
			t.Errorf("%s: outage file = lost %d, unconfirmed %d, after %d, cause of %d bytes", tc.name, r.LostEvents, r.UnconfirmedEvents, r.AfterSeq, len(r.Cause))
		}
		if len(tc.ids) > 0 && len(r.LostEventIDs) == 0 || len(tc.streams) > 0 && len(r.UnconfirmedStreams) == 0 {
			t.Errorf("%s: outage file keeps %d lost ids and %d unconfirmed streams, want a sample of each", tc.name, len(r.LostEventIDs), len(r.UnconfirmedStreams))
		}
		if strings.HasSuffix(tc.cause, stoppedSuffix) != strings.HasSuffix(r.Cause, stoppedSuffix) {
			t.Errorf("%s: cause %q, want the note that the node stopped kept", tc.name, r.Cause[max(0, len(r.Cause)-100):])
		}
		w.Close()
	}
}
