package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// probeAt moves the clock by *backoff, to the next probe, waits for the
// writer to have run it, and doubles *backoff as a failed probe does. It
// returns the writer's Digest after the probe.
func probeAt(t *testing.T, w *Writer, clk *fakeClock, backoff *time.Duration) error {
	t.Helper()
	clk.Advance(*backoff)
	err := w.Digest(t.Context())
	if err != nil {
		*backoff = min(2**backoff, probeMax)
	}
	return err
}

// digestNumbers returns how many digest files dir holds for each number,
// and fails unless they are numbered 1..n, one file each.
func digestNumbers(t *testing.T, dir string) map[uint64]int {
	t.Helper()
	_, digests, err := listDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := map[uint64]int{}
	for i, d := range digests {
		n[d.seq]++
		if d.seq != uint64(i+1) {
			t.Errorf("%s: digest files %v, want one per number from 1", dir, digests)
			break
		}
	}
	return n
}

// gapMarkers returns the gap markers in dir's log, in order.
func gapMarkers(t *testing.T, dir string) []*Gap {
	t.Helper()
	var gaps []*Gap
	for _, e := range readEvents(t, dir) {
		if e.EventName == GapEventName {
			gaps = append(gaps, e.Gap)
		}
	}
	return gaps
}

// readOutageFile returns the record in dir's outage file, or nil when it is
// blank.
func readOutageFile(t *testing.T, dir string) *outageRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, outageName))
	if err != nil {
		t.Fatal(err)
	}
	if b = bytes.TrimSpace(b); len(b) == 0 {
		return nil
	}
	var r outageRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("outage file %q: %v", b, err)
	}
	return &r
}

// TestDigestRetryKeepsOneFilePerNumber: a digest whose rename reached the
// directory but whose directory fsync failed is in place under its name,
// although the writer heard of a failure. Its retry (by the probes of the
// outage the failure started) reuses that name, so the rename replaces the
// file: one file per digest number, whatever the retry signs, and verify
// finds the trail intact, also after a crash at that point.
func TestDigestRetryKeepsOneFilePerNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// fail makes the digest after the first one fail, and returns the
		// wait before the next probe.
		fail func(t *testing.T, w *Writer, clk *fakeClock, fsys *faultFS) time.Duration
	}{
		{"Digest", func(t *testing.T, w *Writer, clk *fakeClock, fsys *faultFS) time.Duration {
			fsys.set(func(f *faultFS) { f.digestDirSyncErr = syscall.EIO })
			if err := w.Digest(t.Context()); !errors.Is(err, syscall.EIO) || !errors.Is(w.Err(), ErrUnavailable) {
				t.Fatalf("Digest whose directory fsync failed = %v, Err() = %v; want EIO and the trail unavailable", err, w.Err())
			}
			return probeMin
		}},
		{"probe", func(t *testing.T, w *Writer, clk *fakeClock, fsys *faultFS) time.Duration {
			fsys.set(func(f *faultFS) { f.full = true })
			if err := w.Append(t.Context(), testEvent(3)); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
			}
			fsys.heal()
			fsys.set(func(f *faultFS) { f.digestDirSyncErr = syscall.EIO })
			backoff := probeMin
			if err := probeAt(t, w, clk, &backoff); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Digest after a probe whose digest's directory fsync failed = %v, want ErrUnavailable", err)
			}
			return backoff
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
			w := openFault(t, root, clk, fsys, func(c *Config) { c.DigestInterval = 24 * time.Hour })
			ctx := t.Context()
			appendN(t, w, 0, 2)
			if err := w.Digest(ctx); err != nil {
				t.Fatal(err)
			}
			appendN(t, w, 2, 1)
			backoff := tc.fail(t, w, clk, fsys)
			if n := digestNumbers(t, w.Dir()); n[2] != 1 {
				t.Fatalf("calibration: digest files %v after the failed directory fsync, want digest 2 in place", n)
			}
			crashed := filepath.Join(t.TempDir(), "crashed")
			snapshotDir(t, w.Dir(), filepath.Join(crashed, testRegion))

			// The retries fail the same way, then succeed: each replaces
			// the file, under the name of the first attempt.
			for range 2 {
				if err := probeAt(t, w, clk, &backoff); !errors.Is(err, ErrUnavailable) {
					t.Fatalf("Digest after a probe whose digest's directory fsync failed = %v, want ErrUnavailable", err)
				}
				if n := digestNumbers(t, w.Dir()); len(n) != 2 || n[1] != 1 || n[2] != 1 {
					t.Fatalf("digest files %v after a failed retry, want one per number", n)
				}
			}
			crashedLater := filepath.Join(t.TempDir(), "crashed")
			snapshotDir(t, w.Dir(), filepath.Join(crashedLater, testRegion))
			fsys.heal()
			if err := probeAt(t, w, clk, &backoff); err != nil {
				t.Fatalf("after the disk recovered: Digest = %v, want the writer recovered", err)
			}
			appendN(t, w, 4, 1)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if st := w.Stats(); st.Digests != 3 {
				t.Errorf("Stats().Digests = %d, want 3 (the first, the retried one, Close's)", st.Digests)
			}

			w2 := openTest(t, crashed, clk, nil) // the restart after a crash right after the failure
			if err := w2.Close(); err != nil {
				t.Fatal(err)
			}
			w3 := openTest(t, crashedLater, clk, nil) // after a crash once a retry replaced the digest
			if err := w3.Close(); err != nil {
				t.Fatal(err)
			}
			for _, rw := range []*Writer{w, w2, w3} {
				digestNumbers(t, rw.Dir())
				rep, err := Verify(rw.Dir(), w.PublicKey(), rw.PublicKey())
				if err != nil {
					t.Fatalf("Verify(%s) = %v, want no error", rw.Dir(), err)
				}
				if len(rep.Warnings) != 0 {
					t.Errorf("%s: warnings %v, want none", rw.Dir(), rep.Warnings)
				}
			}
		})
	}
}

// TestProbeRetriesOnlyFailedSteps: once a probe's marker is in the log, a
// step after it that keeps failing (here the digest's rename) does not make
// every probe write another marker to another new file. While nothing more
// needs recording, a probe only retries the steps, and the outage file
// holds no record (a restart has nothing to write). A request refused and
// a stream ended meanwhile are recorded: the loss in the outage file at
// once, both by one more marker, which counts neither the first marker's
// loss nor its stream again.
func TestProbeRetriesOnlyFailedSteps(t *testing.T) {
	t.Parallel()
	root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
	w := openFault(t, root, clk, fsys, func(c *Config) { c.DigestInterval = 24 * time.Hour })
	ctx := t.Context()
	appendN(t, w, 0, 2)
	early, late := testEvent(10), testEvent(11) // streams ending in the outage, before and after the first marker
	for _, e := range []*Event{early, late} {
		if err := w.Begin(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	fsys.set(func(f *faultFS) { f.full = true })
	if err := w.Append(ctx, testEvent(2)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
	}
	if err := w.Append(ctx, early); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append(%s) during the outage = %v, want ErrUnavailable", early.EventID, err)
	}
	fsys.heal()
	fsys.set(func(f *faultFS) { f.digestErr = syscall.EIO })
	backoff := probeMin
	var ops sync.Map // "op name" -> *atomic.Int64, in the probes after the first
	for i := range 6 {
		if err := probeAt(t, w, clk, &backoff); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("probe %d: Digest = %v, want ErrUnavailable (the digest cannot be written)", i+1, err)
		}
		if i == 0 {
			fsys.set(func(f *faultFS) {
				f.before = func(op, name string) {
					if strings.HasPrefix(strings.TrimPrefix(name, "."), digestPrefix) { // the digest or its temporary file
						name = digestPrefix
					}
					n, _ := ops.LoadOrStore(op+" "+name, new(atomic.Int64))
					n.(*atomic.Int64).Add(1)
				}
			})
		}
	}
	fsys.set(func(f *faultFS) { f.before = nil })
	var retried []string
	ops.Range(func(k, v any) bool {
		retried = append(retried, fmt.Sprintf("%s: %d", k, v.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(retried)
	if want := []string{"rename " + digestPrefix + ": 5", "write " + digestPrefix + ": 5"}; !slices.Equal(retried, want) {
		t.Errorf("the 5 probes after the first wrote %v, want %v (only the failed step retried)", retried, want)
	}
	if gaps := gapMarkers(t, w.Dir()); len(gaps) != 1 {
		t.Errorf("%d gap markers after 6 failed probes, want 1", len(gaps))
	}
	if logs, _, _ := listDir(w.Dir()); len(logs) != 2 {
		t.Errorf("%d log files after 6 failed probes, want 2 (the first, and the marker's)", len(logs))
	}
	if r := readOutageFile(t, w.Dir()); r != nil {
		t.Errorf("outage file = %+v, want it blank: the marker recorded everything", r)
	}
	if backoff != probeMax {
		t.Errorf("backoff = %v after 6 failed probes, want %v", backoff, probeMax)
	}

	// A request refused now, and a stream's end, are recorded.
	lost := testEvent(3)
	if err := w.Append(ctx, lost); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append during the outage = %v, want ErrUnavailable", err)
	}
	if err := w.Append(ctx, late); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append(%s) during the outage = %v, want ErrUnavailable", late.EventID, err)
	}
	if r := readOutageFile(t, w.Dir()); r == nil || r.LostEvents != 1 || !slices.Equal(r.LostEventIDs, []string{lost.EventID}) {
		t.Errorf("outage file = %+v, want %s lost", r, lost.EventID)
	}
	for range 2 {
		if err := probeAt(t, w, clk, &backoff); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Digest = %v, want ErrUnavailable", err)
		}
	}
	if gaps := gapMarkers(t, w.Dir()); len(gaps) != 2 {
		t.Errorf("%d gap markers after a loss and 2 more failed probes, want 2", len(gaps))
	}
	fsys.heal()
	if err := probeAt(t, w, clk, &backoff); err != nil {
		t.Fatalf("after the disk recovered: Digest = %v, want the writer recovered", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Outages != 1 || st.Lost != 2 || st.Digests != 1 {
		t.Errorf("Stats() = %+v, want 1 outage, 2 lost, 1 digest", st)
	}
	rep := mustVerify(t, w.Dir(), w)
	if len(rep.Gaps) != 2 {
		t.Fatalf("gaps = %v, want 2", rep.Gaps)
	}
	first, second := rep.Gaps[0].Gap, rep.Gaps[1].Gap
	if !slices.Equal(first.LostEventIDs, []string{"req-000002"}) || !slices.Equal(second.LostEventIDs, []string{lost.EventID}) ||
		first.DeferredEvents != 1 || second.DeferredEvents != 1 || rep.Gaps[1].Restates != nil ||
		second.AfterSeq != rep.Gaps[0].Seq+1 || !second.Since.Equal(first.Until.Time) {
		t.Errorf("gaps = %v, want the first counting req-000002 and one stream, the second %s and the other, after the first and its stream", rep.Gaps, lost.EventID)
	}
	ids, n := countIDs(t, w.Dir())
	if n[early.EventID] != 1 || n[late.EventID] != 1 || len(ids) != 6 {
		t.Errorf("log = %v, want 2 events, each marker followed by its stream's event", ids)
	}
}

// TestProbeUnconfirmedMarkerKeepsCount: a probe whose write of the marker
// could not be confirmed (the fsync failed, the write could not be taken
// back) leaves a marker in the log that a machine crash may take back. The
// outage is not started afresh: the outage file keeps counting what the
// marker counts, so a restart after such a crash still records it; and the
// next probe's marker restates the outage from the same start.
func TestProbeUnconfirmedMarkerKeepsCount(t *testing.T) {
	t.Parallel()
	root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
	w := openFault(t, root, clk, fsys, func(c *Config) { c.DigestInterval = 24 * time.Hour })
	ctx := t.Context()
	appendN(t, w, 0, 1)
	fsys.set(func(f *faultFS) { f.full = true })
	lost := testEvent(1)
	if err := w.Append(ctx, lost); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
	}
	var ue *UnavailableError
	if !errors.As(w.Err(), &ue) {
		t.Fatalf("Err() = %v, want an *UnavailableError", w.Err())
	}
	since := ue.Since
	fsys.heal()
	fsys.set(func(f *faultFS) { f.logSyncErr, f.truncErr = syscall.EIO, syscall.EIO })
	backoff := probeMin
	if err := probeAt(t, w, clk, &backoff); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Digest after a probe whose log fsync failed = %v, want ErrUnavailable", err)
	}
	if gaps := gapMarkers(t, w.Dir()); len(gaps) != 1 {
		t.Fatalf("calibration: %d gap markers after the probe, want its unconfirmed marker in the log", len(gaps))
	}
	r := readOutageFile(t, w.Dir())
	if r == nil || r.LostEvents != 1 || !r.Since.Equal(since) || r.AfterSeq != 1 {
		t.Fatalf("outage file after the unconfirmed marker = %+v, want the outage since %v after event 1, %s lost", r, since, lost.EventID)
	}
	if !errors.As(w.Err(), &ue) || !ue.Since.Equal(since) {
		t.Errorf("Err() = %v, want the outage still since %v", w.Err(), since)
	}

	// A machine crash now takes back the marker's unsynced line.
	crashed := filepath.Join(t.TempDir(), "crashed")
	snapshotDir(t, w.Dir(), filepath.Join(crashed, testRegion))
	logs, _, err := listDir(filepath.Join(crashed, testRegion))
	if err != nil || len(logs) != 2 {
		t.Fatalf("log files %v, %v; want the first and the marker's", logs, err)
	}
	if err := os.Truncate(filepath.Join(crashed, testRegion, logs[1].name), 0); err != nil {
		t.Fatal(err)
	}
	w2 := openTest(t, crashed, clk, nil)
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	if gaps := gapMarkers(t, w2.Dir()); len(gaps) != 1 || gaps[0].LostEvents != 1 || !slices.Equal(gaps[0].LostEventIDs, []string{lost.EventID}) {
		t.Errorf("after a machine crash took the marker back: gaps %+v, want one counting %s", gaps, lost.EventID)
	}
	mustVerify(t, w2.Dir(), w2)

	fsys.heal()
	if err := probeAt(t, w, clk, &backoff); err != nil {
		t.Fatalf("after the disk recovered: Digest = %v, want the writer recovered", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, w.Dir(), w)
	if len(rep.Gaps) != 2 {
		t.Fatalf("gaps = %v, want the unconfirmed marker and the one restating it", rep.Gaps)
	}
	first, second := rep.Gaps[0].Gap, rep.Gaps[1].Gap
	if !second.Since.Equal(first.Since.Time) || second.AfterSeq != first.AfterSeq || second.LostEvents != 1 ||
		!strings.Contains(rep.Gaps[1].String(), "restates") {
		t.Errorf("second gap = %s, want it to restate the first (since %v, after event %d, 1 lost)", rep.Gaps[1], first.Since, first.AfterSeq)
	}
}

// TestOutageFileCountsLossAfterFailedProbe: a probe whose marker is in the
// log and whose outage file cannot be cleared starts the outage afresh, and
// its saved count with it (the file still holds the count the marker
// recorded). A request refused afterwards is in the outage file before its
// caller hears back, so a restart records it.
func TestOutageFileCountsLossAfterFailedProbe(t *testing.T) {
	t.Parallel()
	root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
	w := openFault(t, root, clk, fsys, func(c *Config) { c.DigestInterval = 24 * time.Hour })
	ctx := t.Context()
	appendN(t, w, 0, 1)
	fsys.set(func(f *faultFS) { f.full = true })
	if err := w.Append(ctx, testEvent(1)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
	}
	fsys.heal()
	fsys.set(func(f *faultFS) { f.outageErr = syscall.EIO })
	backoff := probeMin
	if err := probeAt(t, w, clk, &backoff); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Digest after a probe whose outage file failed = %v, want ErrUnavailable", err)
	}
	fsys.heal() // the outage file takes writes again before the next probe
	lost := testEvent(2)
	if err := w.Append(ctx, lost); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append during the outage = %v, want ErrUnavailable", err)
	}
	crashed := filepath.Join(t.TempDir(), "crashed")
	snapshotDir(t, w.Dir(), filepath.Join(crashed, testRegion))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w2 := openTest(t, crashed, clk, nil)
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	for _, rw := range []*Writer{w, w2} {
		gaps := gapMarkers(t, rw.Dir())
		if len(gaps) != 2 || !slices.Equal(gaps[0].LostEventIDs, []string{"req-000001"}) || !slices.Equal(gaps[1].LostEventIDs, []string{lost.EventID}) {
			t.Errorf("%s: gaps %+v, want the first counting req-000001, the second %s", rw.Dir(), gaps, lost.EventID)
		}
		mustVerify(t, rw.Dir(), rw)
	}
}

// TestOutageFileWrittenOnChange: the outage file is rewritten (with an
// fsync) when the outage's count changes, not on every commit during the
// outage; here a kept stream's event changes no count.
func TestOutageFileWrittenOnChange(t *testing.T) {
	t.Parallel()
	root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
	w := openFault(t, root, clk, fsys, func(c *Config) { c.DigestInterval = 24 * time.Hour })
	ctx := t.Context()
	stream := testEvent(0)
	if err := w.Begin(ctx, stream); err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int64
	fsys.set(func(f *faultFS) {
		f.full = true
		f.before = func(op, name string) {
			if op == "write" && name == outageName {
				writes.Add(1)
			}
		}
	})
	for i := 1; i <= 2; i++ {
		if err := w.Append(ctx, testEvent(i)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
		}
	}
	if n := writes.Load(); n != 3 {
		t.Errorf("outage file written %d times, want 3 (the outage, then each loss)", n)
	}
	if err := w.Append(ctx, stream); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("Append of the stream's event = %v, want it kept", err)
	}
	if n := writes.Load(); n != 3 {
		t.Errorf("outage file written %d times after a kept event, want still 3", n)
	}
	fsys.set(func(f *faultFS) { f.before = nil })
	fsys.heal()
	clk.Advance(probeMin)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if gaps := gapMarkers(t, w.Dir()); len(gaps) != 1 || gaps[0].LostEvents != 2 || gaps[0].DeferredEvents != 1 {
		t.Errorf("gaps %+v, want one: 2 lost, 1 deferred", gaps)
	}
}

// TestTornFileNamedOnce: the marker that names a torn file records it; the
// marker of a later outage does not name it again.
func TestTornFileNamedOnce(t *testing.T) {
	t.Parallel()
	root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
	w := openFault(t, root, clk, fsys, func(c *Config) { c.DigestInterval = 24 * time.Hour })
	ctx := t.Context()
	appendN(t, w, 0, 2)
	fsys.set(func(f *faultFS) { f.full, f.room, f.truncErr = true, 100, syscall.EIO })
	if err := w.Append(ctx, testEvent(2)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append = %v, want ErrUnavailable", err)
	}
	fsys.heal()
	clk.Advance(probeMin)
	appendN(t, w, 3, 1)
	fsys.set(func(f *faultFS) { f.full = true }) // a second outage, tearing nothing
	if err := w.Append(ctx, testEvent(4)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append = %v, want ErrUnavailable", err)
	}
	fsys.heal()
	clk.Advance(probeMin)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, w.Dir(), w)
	if len(rep.Gaps) != 2 || len(rep.Gaps[0].Gap.TornFiles) != 1 || len(rep.Gaps[1].Gap.TornFiles) != 0 {
		t.Errorf("gaps = %v, want the first naming the torn file, the second none", rep.Gaps)
	}
}

// TestBeginCompactionFails: a Begin whose journal write takes the journal
// past its compaction threshold, where the compaction fails, is journaled
// (its stream may start), and the trail is unavailable: the writer does
// not go on with a journal it could not rewrite.
func TestBeginCompactionFails(t *testing.T) {
	t.Parallel()
	const n = 4
	var begins, ends int64
	for i := range n {
		e := *testEvent(i)
		e.EventVersion, e.Side, e.RecordingRegion, e.Content = EventVersion, SideSource, testRegion, nil
		begins += int64(len(appendBegin(nil, beginPrefix(nil, &e), 0)))
		ends += int64(len(appendEnd(nil, intentKey{e.EventID, SideSource})))
	}
	root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
	w, err := open(Config{Dir: root, DigestInterval: 24 * time.Hour}, testRegion, Options{Clock: clk, Logger: testLogger(t), FS: fsys},
		testHooks{journalCompactBytes: begins + ends})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i := range n {
		if err := w.Begin(ctx, testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	appendN(t, w, 0, n) // their ends wait for the next journal write
	fsys.set(func(f *faultFS) { f.journalErr = syscall.EIO })
	next := testEvent(n)
	if err := w.Begin(ctx, next); err != nil {
		t.Fatalf("Begin whose journal compaction failed = %v, want nil (its record is written)", err)
	}
	if err := w.Err(); !errors.Is(err, ErrUnavailable) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Err() after the failed compaction = %v, want ErrUnavailable caused by EIO", err)
	}
	if err := w.Append(ctx, next); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("Append of the stream's event = %v, want it kept", err)
	}
	fsys.heal()
	clk.Advance(probeMin)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ids, cnt := countIDs(t, w.Dir())
	if len(ids) != n+2 || cnt[next.EventID] != 1 {
		t.Errorf("log = %v, want the %d events, a gap marker and %s", ids, n, next.EventID)
	}
	mustVerify(t, w.Dir(), w)
}
