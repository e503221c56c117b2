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
	"syscall"
	"testing"
	"time"
)

// markedOutage starts an outage that loses one request, then lets a probe
// write its gap marker with an fsync and fail at the digest: the outage
// goes on, recorded by that marker, with nothing more to record. The
// stream begun before the outage is still running. It returns the writer,
// its disk, the stream's event and the probes' backoff.
func markedOutage(t *testing.T, clk *fakeClock) (*Writer, *faultFS, *Event, time.Duration) {
	t.Helper()
	fsys := &faultFS{}
	w := openFault(t, t.TempDir(), clk, fsys, func(c *Config) { c.DigestInterval = 24 * time.Hour })
	ctx := t.Context()
	appendN(t, w, 0, 1)
	stream := testEvent(10)
	if err := w.Begin(ctx, stream); err != nil {
		t.Fatal(err)
	}
	fsys.set(func(f *faultFS) { f.full = true })
	if err := w.Append(ctx, testEvent(1)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
	}
	fsys.heal()
	fsys.set(func(f *faultFS) { f.digestErr = syscall.EIO })
	backoff := probeMin
	if err := probeAt(t, w, clk, &backoff); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Digest after a probe whose digest failed = %v, want ErrUnavailable", err)
	}
	if gaps := gapMarkers(t, w.Dir()); len(gaps) != 1 {
		t.Fatalf("calibration: %d gap markers after the probe, want 1", len(gaps))
	}
	if r := readOutageFile(t, w.Dir()); r != nil {
		t.Fatalf("calibration: outage file = %+v, want it blank (the marker records everything)", r)
	}
	return w, fsys, stream, backoff
}

// TestOutageFileRecordsKeptAfterMarker: once a fsynced marker recorded the
// outage and the outage file was blanked, a stream that ends (its event
// kept for the recovery) is something no marker records: the outage file
// holds a record again before the caller hears back, so a restart after a
// crash writes a marker for the outage after the first one (and the stream
// as interrupted).
func TestOutageFileRecordsKeptAfterMarker(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	w, fsys, stream, backoff := markedOutage(t, clk)
	first := gapMarkers(t, w.Dir())[0]
	if err := w.Append(t.Context(), stream); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append of the stream's event during the outage = %v, want ErrUnavailable", err)
	}
	r := readOutageFile(t, w.Dir())
	if r == nil || !r.Since.Equal(first.Until.Time) || r.LostEvents != 0 {
		t.Fatalf("outage file after the stream ended = %+v, want the outage since the marker's until %v", r, first.Until)
	}
	crashed := filepath.Join(t.TempDir(), "crashed")
	snapshotDir(t, w.Dir(), filepath.Join(crashed, testRegion))
	w2 := openTest(t, crashed, clk, nil)
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"req-000000/", "audit-gap-2/audit_unavailable", "audit-gap-3/audit_unavailable", stream.EventID + "/" + InterruptedErrorCode}
	if got := eventIDs(readEvents(t, w2.Dir())); !slices.Equal(got, want) {
		t.Errorf("after a restart: log = %v, want %v", got, want)
	}
	if gaps := gapMarkers(t, w2.Dir()); len(gaps) != 2 || !gaps[1].Since.Equal(first.Until.Time) {
		t.Errorf("after a restart: gaps = %+v, want a second one since %v", gaps, first.Until)
	}
	mustVerify(t, w2.Dir(), w2)

	fsys.heal()
	if err := probeAt(t, w, clk, &backoff); err != nil {
		t.Fatalf("after the disk recovered: Digest = %v, want the writer recovered", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if r := readOutageFile(t, w.Dir()); r != nil {
		t.Errorf("outage file after the recovery = %+v, want it blank", r)
	}
}

// TestProbeRestatesUnconfirmedSecondMarker: after a fsynced marker, a
// second marker written for a stream that ended meanwhile fails its fsync
// and cannot be taken back, so it and the stream's event stay in the log
// unconfirmed. The first marker does not record them: the outage file
// holds a record counting the stream's event as unconfirmed, a restart
// after a machine crash that takes both lines back writes a marker
// counting it, and the recovery writes a third marker that restates the
// second.
func TestProbeRestatesUnconfirmedSecondMarker(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	w, fsys, stream, backoff := markedOutage(t, clk)
	first := gapMarkers(t, w.Dir())[0]
	if err := w.Append(t.Context(), stream); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append of the stream's event during the outage = %v, want ErrUnavailable", err)
	}
	fsys.set(func(f *faultFS) { f.logSyncErr, f.truncErr = syscall.EIO, syscall.EIO })
	if err := probeAt(t, w, clk, &backoff); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Digest after a probe whose log fsync failed = %v, want ErrUnavailable", err)
	}
	if gaps := gapMarkers(t, w.Dir()); len(gaps) != 2 {
		t.Fatalf("calibration: %d gap markers after the probe, want its unconfirmed marker in the log", len(gaps))
	}
	r := readOutageFile(t, w.Dir())
	if r == nil || !r.Since.Equal(first.Until.Time) || r.UnconfirmedEvents != 1 {
		t.Fatalf("outage file after the unconfirmed marker = %+v, want the outage since %v, the stream's event unconfirmed", r, first.Until)
	}

	// A machine crash takes back the unsynced lines of the second marker's
	// file.
	crashed := filepath.Join(t.TempDir(), "crashed")
	snapshotDir(t, w.Dir(), filepath.Join(crashed, testRegion))
	logs, _, err := listDir(filepath.Join(crashed, testRegion))
	if err != nil || len(logs) != 3 {
		t.Fatalf("log files %v, %v; want the first and the two markers'", logs, err)
	}
	if err := os.Truncate(filepath.Join(crashed, testRegion, logs[2].name), 0); err != nil {
		t.Fatal(err)
	}
	w2 := openTest(t, crashed, clk, nil)
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	// The crash took the stream's event back: the restart writes it again,
	// as interrupted, and counts it once, deferred.
	if gaps := gapMarkers(t, w2.Dir()); len(gaps) != 2 || !gaps[1].Since.Equal(first.Until.Time) ||
		gaps[1].UnconfirmedEvents != 0 || gaps[1].DeferredEvents != 1 {
		t.Errorf("after a machine crash: gaps %+v, want a second one since %v counting the stream's event once, deferred", gaps, first.Until)
	}
	if n := eventCount(t, w2.Dir(), stream.EventID); n != 1 {
		t.Errorf("after a machine crash: the log holds the stream's event %d times, want once", n)
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
	if len(rep.Gaps) != 3 {
		t.Fatalf("gaps = %v, want the first marker, the unconfirmed one and the one restating it", rep.Gaps)
	}
	second, third := rep.Gaps[1], rep.Gaps[2]
	if third.Restates != second || third.Gap.UnconfirmedEvents != 1 || third.Gap.LostEvents != 0 || rep.Complete() {
		t.Errorf("third gap = %s, want it to restate the second, the stream's event unconfirmed", third)
	}
	if ids, n := countIDs(t, w.Dir()); n[stream.EventID] != 1 {
		t.Errorf("log = %v, want the stream's event once", ids)
	}
}

// TestRestatingMarkerCountsKeptLines: a probe's marker whose fsync failed
// stays in the log with the kept stream event after it. The stream's event
// is no longer waiting (its line is in the log), but a machine crash may
// take it back with the marker: it counts as unconfirmed, in the outage
// file and in the marker that restates the failed one.
func TestRestatingMarkerCountsKeptLines(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	w, fsys, stream, backoff := keptAfterFailedMarker(t, clk)
	if r := readOutageFile(t, w.Dir()); r == nil || r.LostEvents != 1 || r.UnconfirmedEvents != 1 {
		t.Errorf("outage file after the unconfirmed marker = %+v, want 1 lost, the stream's event unconfirmed", r)
	}
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
	first, second := rep.Gaps[0], rep.Gaps[1]
	if first.Gap.DeferredEvents != 1 || first.Gap.UnconfirmedEvents != 0 {
		t.Errorf("first gap = %s, want the stream's event deferred", first)
	}
	if second.Restates != first || second.Gap.LostEvents != 1 || second.Gap.UnconfirmedEvents != 1 || second.Gap.DeferredEvents != 0 ||
		!strings.Contains(second.String(), "1 events are in the log although their write failed") {
		t.Errorf("second gap = %s, want it to restate the first: 1 lost, the stream's event unconfirmed, none deferred", second)
	}
	if ids, n := countIDs(t, w.Dir()); n[stream.EventID] != 1 {
		t.Errorf("log = %v, want the stream's event once", ids)
	}
}

// keptAfterFailedMarker starts an outage that loses one request while a
// stream runs and ends, then lets a probe write the gap marker and the
// stream's event with an fsync that fails and a write that cannot be taken
// back: both lines stay in the log, unconfirmed. It returns the writer,
// its disk (still failing), the stream's event and the probes' backoff.
func keptAfterFailedMarker(t *testing.T, clk *fakeClock) (*Writer, *faultFS, *Event, time.Duration) {
	t.Helper()
	fsys := &faultFS{}
	w := openFault(t, t.TempDir(), clk, fsys, func(c *Config) { c.DigestInterval = 24 * time.Hour })
	ctx := t.Context()
	appendN(t, w, 0, 1)
	stream := testEvent(10)
	if err := w.Begin(ctx, stream); err != nil {
		t.Fatal(err)
	}
	fsys.set(func(f *faultFS) { f.full = true })
	if err := w.Append(ctx, testEvent(1)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
	}
	if err := w.Append(ctx, stream); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append of the stream's event during the outage = %v, want ErrUnavailable", err)
	}
	fsys.heal()
	fsys.set(func(f *faultFS) { f.logSyncErr, f.truncErr = syscall.EIO, syscall.EIO })
	backoff := probeMin
	if err := probeAt(t, w, clk, &backoff); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Digest after a probe whose log fsync failed = %v, want ErrUnavailable", err)
	}
	if gaps := gapMarkers(t, w.Dir()); len(gaps) != 1 {
		t.Fatalf("calibration: %d gap markers after the probe, want its unconfirmed marker in the log", len(gaps))
	}
	return w, fsys, stream, backoff
}

// TestStartupUnconfirmedInterruptedCounted: a start that writes the event
// of a stream a crash interrupted, and whose write fails and cannot be
// taken back, leaves that event in the log unconfirmed; the outage file
// counts it before anything else happens, so a restart after the writer
// is killed again writes a marker counting it.
func TestStartupUnconfirmedInterruptedCounted(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	w := openTest(t, t.TempDir(), clk, nil)
	appendN(t, w, 0, 1)
	stream := testEvent(10)
	if err := w.Begin(t.Context(), stream); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "crashed")
	snapshotDir(t, w.Dir(), filepath.Join(root, testRegion))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	fsys := &faultFS{logSyncErr: syscall.EIO, truncErr: syscall.EIO}
	w2 := openFault(t, root, clk, fsys, nil)
	if err := w2.Digest(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Digest after a start whose log fsync failed = %v, want ErrUnavailable", err)
	}
	if r := readOutageFile(t, w2.Dir()); r == nil || r.UnconfirmedEvents != 1 ||
		!slices.Equal(r.UnconfirmedStreams, []streamRef{{"req-000010", SideSource}}) {
		t.Errorf("outage file after the start = %+v, want the interrupted stream's event unconfirmed, named", r)
	}
	// The process is killed (the line stays), or the machine crashes (the
	// line is taken back): the stream's event is counted once, unconfirmed
	// in the log or deferred and written again.
	for _, tc := range []struct {
		name                  string
		machine               bool
		unconfirmed, deferred int64
	}{
		{"process killed", false, 1, 0},
		{"machine crash", true, 0, 1},
	} {
		crashed := filepath.Join(t.TempDir(), "crashed")
		snapshotDir(t, w2.Dir(), filepath.Join(crashed, testRegion))
		if tc.machine {
			logs, _, err := listDir(filepath.Join(crashed, testRegion))
			if err != nil || len(logs) != 2 {
				t.Fatalf("log files %v, %v; want the first and the start's", logs, err)
			}
			if err := os.Truncate(filepath.Join(crashed, testRegion, logs[1].name), 0); err != nil {
				t.Fatal(err)
			}
		}
		w3, atMarker := openCapturingOutage(t, crashed, clk)
		if err := w3.Close(); err != nil {
			t.Fatal(err)
		}
		if gaps := gapMarkers(t, w3.Dir()); len(gaps) != 1 || gaps[0].UnconfirmedEvents != tc.unconfirmed || gaps[0].DeferredEvents != tc.deferred {
			t.Errorf("%s: gaps %+v, want one counting the interrupted stream's event: %d unconfirmed, %d deferred", tc.name, gaps, tc.unconfirmed, tc.deferred)
		}
		if n := eventCount(t, w3.Dir(), "req-000010"); n != 1 {
			t.Errorf("%s: the log holds the stream's event %d times, want once", tc.name, n)
		}
		// The writer stopped between writing the marker and blanking the
		// outage file: the file it saved at start no longer counts a
		// stream's event the marker counts as deferred, and the marker
		// counts what the file records.
		if err := os.WriteFile(filepath.Join(crashed, testRegion, outageName), atMarker(), 0o644); err != nil {
			t.Fatal(err)
		}
		w4 := openTest(t, crashed, clk, nil)
		if err := w4.Close(); err != nil {
			t.Fatal(err)
		}
		if gaps := gapMarkers(t, w4.Dir()); len(gaps) != 1 {
			t.Errorf("%s: after a second restart: %d gap markers, want still 1", tc.name, len(gaps))
		}
		mustVerify(t, w4.Dir(), w4)
	}
	fsys.heal()
	w2.Close()
}

// TestVerifyRestatingMarkerCountsLess: the writer restates a marker whose
// write failed with every count again, and its counts only grow. A marker
// of the same outage (same since and afterSeq) that counts fewer lost or
// unconfirmed events than the one it would restate is forged: appended
// after the newest digest, where only the chain protects the log, it
// would pass off the deletion of a count as a restatement (auditors count
// the outage once, by the later marker).
func TestVerifyRestatingMarkerCountsLess(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	w, fsys, _, backoff := keptAfterFailedMarker(t, clk)
	fsys.heal()
	if err := probeAt(t, w, clk, &backoff); err != nil {
		t.Fatalf("after the disk recovered: Digest = %v, want the writer recovered", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, w.Dir(), w)
	if len(rep.Gaps) != 2 || rep.Gaps[1].Gap.LostEvents != 1 || rep.Gaps[1].Gap.UnconfirmedEvents != 1 {
		t.Fatalf("calibration: gaps = %v, want the second counting 1 lost and 1 unconfirmed", rep.Gaps)
	}
	restated := rep.Gaps[1]
	for _, tc := range []struct {
		name              string
		lost, unconfirmed int64
		forged            bool
	}{
		{"fewer lost", 0, 1, true},
		{"fewer unconfirmed", 1, 0, true},
		{"none", 0, 0, true},
		{"same counts", 1, 1, false},
		{"more lost", 2, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, w.Dir())
			path := filepath.Join(dir, restated.File)
			lines := readLines(t, filepath.Join(w.Dir(), restated.File))
			last := lines[len(lines)-1]
			forged, _ := reseal(t, lines[restated.Line-1], hashOf(t, last), func(e *Event) {
				e.EventID = "audit-gap-99"
				e.Gap.LostEvents, e.Gap.UnconfirmedEvents = tc.lost, tc.unconfirmed
				e.Gap.LostEventIDs = e.Gap.LostEventIDs[:min(int64(len(e.Gap.LostEventIDs)), tc.lost)]
			})
			writeLines(t, path, append(lines, forged))
			rep, err := Verify(dir, w.PublicKey())
			var te *TamperError
			if !tc.forged {
				if err != nil || len(rep.Gaps) != 3 || rep.Gaps[2].Restates != rep.Gaps[1] {
					t.Errorf("Verify with a marker restating %s:%d with %d lost and %d unconfirmed = %v, gaps %v; want it to restate that marker", restated.File, restated.Line, tc.lost, tc.unconfirmed, err, rep.Gaps)
				}
				return
			}
			if !errors.As(err, &te) || te.Kind != ForgedGap || te.File != restated.File || te.Line != int64(len(lines)+1) ||
				!strings.Contains(te.Detail, fmt.Sprintf("%s:%d", restated.File, restated.Line)) {
				t.Errorf("Verify with a marker restating %s:%d with %d lost and %d unconfirmed = %v, want a forged gap marker at line %d", restated.File, restated.Line, tc.lost, tc.unconfirmed, err, len(lines)+1)
			}
		})
	}
}

// TestStartupCrashMarkerAfterConfirmedLines: a start whose write of an
// interrupted stream's event fails and cannot be taken back leaves the line
// in the log, unconfirmed; a machine crash then takes it back. The outage
// began after the last confirmed line, so the restarted writer's marker
// names that line, and a crash between writing the marker and blanking the
// outage file does not make the next start write the marker again.
func TestStartupCrashMarkerAfterConfirmedLines(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	w := openTest(t, t.TempDir(), clk, nil)
	appendN(t, w, 0, 1)
	if err := w.Begin(t.Context(), testEvent(10)); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "crashed")
	snapshotDir(t, w.Dir(), filepath.Join(root, testRegion))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	before, _, err := listDir(filepath.Join(root, testRegion))
	if err != nil {
		t.Fatal(err)
	}

	fsys := &faultFS{logSyncErr: syscall.EIO, truncErr: syscall.EIO}
	w2 := openFault(t, root, clk, fsys, nil)
	if err := w2.Digest(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Digest after a start whose log fsync failed = %v, want ErrUnavailable", err)
	}
	if r := readOutageFile(t, w2.Dir()); r == nil || r.AfterSeq != 1 {
		t.Errorf("outage file after the start = %+v, want the outage after event 1, the last confirmed", r)
	}
	// A machine crash takes back the unsynced line of the start's file.
	crashed := filepath.Join(t.TempDir(), "crashed")
	snapshotDir(t, w2.Dir(), filepath.Join(crashed, testRegion))
	logs, _, err := listDir(filepath.Join(crashed, testRegion))
	if err != nil || len(logs) != len(before)+1 {
		t.Fatalf("log files %v, %v; want the start's file after %v", logs, err, before)
	}
	if err := os.Truncate(filepath.Join(crashed, testRegion, logs[len(logs)-1].name), 0); err != nil {
		t.Fatal(err)
	}
	w3, atMarker := openCapturingOutage(t, crashed, clk)
	if err := w3.Close(); err != nil {
		t.Fatal(err)
	}
	if gaps := gapMarkers(t, w3.Dir()); len(gaps) != 1 || gaps[0].AfterSeq != 1 {
		t.Errorf("after the crash: gaps %+v, want one after event 1", gaps)
	}
	// The writer stopped between writing the marker and blanking the file.
	if err := os.WriteFile(filepath.Join(crashed, testRegion, outageName), atMarker(), 0o644); err != nil {
		t.Fatal(err)
	}
	w4 := openTest(t, crashed, clk, nil)
	if err := w4.Close(); err != nil {
		t.Fatal(err)
	}
	if gaps := gapMarkers(t, w4.Dir()); len(gaps) != 1 {
		t.Errorf("after a second restart: gaps %+v, want still the one marker", gaps)
	}
	mustVerify(t, w4.Dir(), w4)
	fsys.heal()
	w2.Close()
}

// eventCount counts the events of request id in dir, its own or
// interrupted.
func eventCount(t *testing.T, dir, id string) int {
	t.Helper()
	n := 0
	for _, e := range readEvents(t, dir) {
		if e.EventID == id {
			n++
		}
	}
	return n
}

// TestIntervalCrashMarkerNotWrittenTwice: under fsync: interval, lines the
// writer wrote before an fsync that failed are in the outage (it begins
// after them), but a machine crash may take them back: the restarted
// writer's marker then sits at or before the outage's afterSeq. A crash
// between writing that marker and blanking the outage file does not make
// the next start write it again; a record of the same since but another
// afterSeq is another outage, whose marker the next start writes.
func TestIntervalCrashMarkerNotWrittenTwice(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	fsys := &faultFS{}
	w := openFault(t, t.TempDir(), clk, fsys, func(c *Config) { c.DigestInterval = 24 * time.Hour })
	appendN(t, w, 0, 1)
	if err := w.Digest(t.Context()); err != nil {
		t.Fatal(err)
	}
	appendN(t, w, 1, 2)
	fsys.set(func(f *faultFS) { f.logSyncErr = syscall.EIO })
	if err := w.Digest(t.Context()); err == nil || w.Err() == nil {
		t.Fatalf("Digest after a failed fsync = %v, Err() = %v; want both to fail", err, w.Err())
	}
	r := readOutageFile(t, w.Dir())
	if r == nil {
		t.Fatal("outage file blank after the failed fsync, want the outage")
	}
	// A machine crash takes back the unsynced lines: the log ends at event 1.
	crashed := filepath.Join(t.TempDir(), "crashed")
	snapshotDir(t, w.Dir(), filepath.Join(crashed, testRegion))
	logs, _, err := listDir(filepath.Join(crashed, testRegion))
	if err != nil || len(logs) != 1 {
		t.Fatalf("log files %v, %v; want one", logs, err)
	}
	path := filepath.Join(crashed, testRegion, logs[0].name)
	writeLines(t, path, readLines(t, path)[:1])
	// The restarted writer writes the marker, then stops before it blanks
	// the outage file (its write fails, and the writer is closed).
	w2 := openFault(t, crashed, clk, &faultFS{outageErr: syscall.EIO}, nil)
	if err := w2.Digest(t.Context()); err == nil {
		t.Fatal("Digest after a start whose outage file write failed = nil, want an error")
	}
	w2.Close()
	if gaps := gapMarkers(t, w2.Dir()); len(gaps) != 1 || gaps[0].AfterSeq != r.AfterSeq {
		t.Fatalf("after the crash: gaps %+v, want one after event %d", gaps, r.AfterSeq)
	}
	r2 := readOutageFile(t, w2.Dir())
	if r2 == nil || !r2.Since.Equal(r.Since.Time) {
		t.Fatalf("calibration: outage file = %+v, want the record of the outage since %v", r2, r.Since)
	}
	// The marker sits at or before the file's afterSeq, and is found by
	// its since and afterSeq: a record with the same since but another
	// afterSeq (at or after the marker's line) is another outage, and the
	// next start writes its marker.
	var markerSeq uint64 // events are numbered from 1, in log order
	for i, e := range readEvents(t, w2.Dir()) {
		if e.EventName == GapEventName {
			markerSeq = uint64(i) + 1
		}
	}
	if r2.AfterSeq < markerSeq+1 {
		t.Fatalf("calibration: outage after event %d, marker is event %d; want the marker before the outage's afterSeq", r2.AfterSeq, markerSeq)
	}
	for _, tc := range []struct {
		name     string
		afterSeq uint64
		markers  int
	}{
		{"same afterSeq", r2.AfterSeq, 1},
		{"later afterSeq", r2.AfterSeq + 1, 2},
		{"earlier afterSeq", r2.AfterSeq - 1, 2},
		{"afterSeq at the marker", markerSeq, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "crashed")
			dir := filepath.Join(root, testRegion)
			snapshotDir(t, filepath.Join(crashed, testRegion), dir)
			rec := *r2
			rec.AfterSeq = tc.afterSeq
			b, err := json.Marshal(&rec)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, outageName), b, 0o644); err != nil {
				t.Fatal(err)
			}
			w3 := openTest(t, root, clk, nil)
			if err := w3.Close(); err != nil {
				t.Fatal(err)
			}
			if gaps := gapMarkers(t, dir); len(gaps) != tc.markers || gaps[len(gaps)-1].AfterSeq != tc.afterSeq {
				t.Errorf("restart with the outage after event %d: gaps %+v, want %d, the last after event %d", tc.afterSeq, gaps, tc.markers, tc.afterSeq)
			}
		})
	}
	w3 := openTest(t, crashed, clk, nil)
	if err := w3.Close(); err != nil {
		t.Fatal(err)
	}
	if gaps := gapMarkers(t, w3.Dir()); len(gaps) != 1 {
		t.Errorf("after a second restart: %d gap markers, want still 1", len(gaps))
	}
	if _, err := Verify(w3.Dir(), mustPublicKey(t, w), mustPublicKey(t, w3)); err != nil {
		t.Errorf("Verify after the restarts = %v, want no error", err)
	}
	fsys.heal()
	w.Close()
}

// openCapturingOutage opens a writer on root whose file system keeps, at
// each write of the outage file, what the file held just before: after
// the writer is closed, the last one returned is the file as the writer's
// marker found it, so that writing it back leaves the directory as a crash
// between writing that marker and blanking the file would.
func openCapturingOutage(t *testing.T, root string, clk *fakeClock) (*Writer, func() []byte) {
	t.Helper()
	var mu sync.Mutex
	var last []byte
	dir := filepath.Join(root, testRegion)
	fsys := &faultFS{before: func(op, name string) {
		if op != "write" || name != outageName {
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, outageName))
		if err != nil {
			return
		}
		mu.Lock()
		last = b
		mu.Unlock()
	}}
	w := openFault(t, root, clk, fsys, nil)
	return w, func() []byte {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if last == nil {
			t.Fatal("calibration: the writer never wrote the outage file")
		}
		return last
	}
}

// TestRestartRestatesFailedProbeMarker: a probe's marker whose fsync
// failed counts the kept stream event after it as deferred, while the
// outage file counts that event (its line stayed in the log) as
// unconfirmed. The marker is not on stable storage, so a restart after
// the process was killed must not take it for the outage's marker: it
// writes one that restates it, counting the stream's event unconfirmed.
// After a machine crash that took both lines back, the restart writes the
// stream's event again, as interrupted, and counts it as deferred; the
// outage file it saves first counts it no longer, so a crash between
// writing that marker and blanking the file leaves a record the marker
// matches, and the next start does not write it twice.
func TestRestartRestatesFailedProbeMarker(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	w, fsys, stream, _ := keptAfterFailedMarker(t, clk)
	r := readOutageFile(t, w.Dir())
	if r == nil || r.LostEvents != 1 || r.UnconfirmedEvents != 1 ||
		!slices.Equal(r.UnconfirmedStreams, []streamRef{{stream.EventID, SideSource}}) {
		t.Fatalf("calibration: outage file = %+v, want 1 lost, the stream's event unconfirmed, named", r)
	}
	if gaps := gapMarkers(t, w.Dir()); gaps[0].LostEvents != 1 || gaps[0].UnconfirmedEvents != 0 || gaps[0].DeferredEvents != 1 {
		t.Fatalf("calibration: failed marker %+v, want 1 lost, the stream's event deferred", gaps[0])
	}
	for _, tc := range []struct {
		name                  string
		machine               bool
		log                   []string
		unconfirmed, deferred int64
	}{
		{"process killed", false,
			[]string{"req-000000/", "audit-gap-2/audit_unavailable", stream.EventID + "/", "audit-gap-4/audit_unavailable"}, 1, 0},
		{"machine crash", true,
			[]string{"req-000000/", "audit-gap-2/audit_unavailable", stream.EventID + "/" + InterruptedErrorCode}, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crashed := filepath.Join(t.TempDir(), "crashed")
			dir := filepath.Join(crashed, testRegion)
			snapshotDir(t, w.Dir(), dir)
			if tc.machine {
				logs, _, err := listDir(dir)
				if err != nil || len(logs) != 2 {
					t.Fatalf("log files %v, %v; want the first and the failed marker's", logs, err)
				}
				if err := os.Truncate(filepath.Join(dir, logs[1].name), 0); err != nil {
					t.Fatal(err)
				}
			}
			w2, atMarker := openCapturingOutage(t, crashed, clk)
			if err := w2.Close(); err != nil {
				t.Fatal(err)
			}
			if got := eventIDs(readEvents(t, dir)); !slices.Equal(got, tc.log) {
				t.Errorf("after a restart: log = %v, want %v", got, tc.log)
			}
			rep := mustVerify(t, dir, w2)
			last := rep.Gaps[len(rep.Gaps)-1].Gap
			if last.LostEvents != 1 || last.UnconfirmedEvents != tc.unconfirmed || last.DeferredEvents != tc.deferred {
				t.Errorf("after a restart: last gap %+v, want 1 lost, %d unconfirmed, %d deferred", last, tc.unconfirmed, tc.deferred)
			}
			if !tc.machine && (len(rep.Gaps) != 2 || rep.Gaps[1].Restates != rep.Gaps[0]) {
				t.Errorf("after a restart: gaps %v, want the restart's to restate the failed one", rep.Gaps)
			}
			saved := atMarker()
			var rec outageRecord
			if err := json.Unmarshal(bytes.TrimSpace(saved), &rec); err != nil {
				t.Fatalf("outage file when the restart wrote its marker: %q: %v", saved, err)
			}
			if rec.UnconfirmedEvents != tc.unconfirmed || len(rec.UnconfirmedStreams) != int(tc.unconfirmed) {
				t.Errorf("outage file when the restart wrote its marker = %+v, want %d unconfirmed", rec, tc.unconfirmed)
			}
			// The restarted writer stopped between writing its marker and
			// blanking the outage file.
			n := len(rep.Gaps)
			if err := os.WriteFile(filepath.Join(dir, outageName), saved, 0o644); err != nil {
				t.Fatal(err)
			}
			w3 := openTest(t, crashed, clk, nil)
			if err := w3.Close(); err != nil {
				t.Fatal(err)
			}
			if gaps := gapMarkers(t, dir); len(gaps) != n {
				t.Errorf("after a second restart: %d gap markers, want still %d", len(gaps), n)
			}
			mustVerify(t, dir, w3)
		})
	}
	fsys.heal()
	w.Close()
}

// TestRestartOutageSaveFailsRestates: a restart that moved a stream's
// unconfirmed event to deferred and cannot save the outage file before
// its marker leaves a record that counts the event unconfirmed. A crash
// before the file is blanked then makes the next start restate the marker
// (the event once in the log, counted unconfirmed by the later marker):
// the outage is counted again, never missed.
func TestRestartOutageSaveFailsRestates(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	w, fsys, stream, _ := keptAfterFailedMarker(t, clk)
	crashed := filepath.Join(t.TempDir(), "crashed")
	dir := filepath.Join(crashed, testRegion)
	snapshotDir(t, w.Dir(), dir)
	logs, _, err := listDir(dir)
	if err != nil || len(logs) != 2 {
		t.Fatalf("log files %v, %v; want the first and the failed marker's", logs, err)
	}
	if err := os.Truncate(filepath.Join(dir, logs[1].name), 0); err != nil {
		t.Fatal(err)
	}
	w2 := openFault(t, crashed, clk, &faultFS{outageErr: syscall.EIO}, nil)
	if err := w2.Digest(t.Context()); err == nil {
		t.Fatal("Digest after a start whose outage file write failed = nil, want an error")
	}
	w2.Close()
	if gaps := gapMarkers(t, dir); len(gaps) != 1 || gaps[0].UnconfirmedEvents != 0 || gaps[0].DeferredEvents != 1 {
		t.Fatalf("calibration: gaps %+v, want the restart's counting the stream's event deferred", gaps)
	}
	if r := readOutageFile(t, dir); r == nil || r.UnconfirmedEvents != 1 {
		t.Fatalf("calibration: outage file = %+v, want the record counting the stream's event unconfirmed", r)
	}
	w3 := openTest(t, crashed, clk, nil)
	if err := w3.Close(); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, dir, w3)
	if len(rep.Gaps) != 2 || rep.Gaps[1].Restates != rep.Gaps[0] || rep.Gaps[1].Gap.LostEvents != 1 || rep.Gaps[1].Gap.UnconfirmedEvents != 1 {
		t.Errorf("after a second restart: gaps %v, want the second restating the first, 1 lost, 1 unconfirmed", rep.Gaps)
	}
	if n := eventCount(t, dir, stream.EventID); n != 1 {
		t.Errorf("the log holds the stream's event %d times, want once", n)
	}
	fsys.heal()
	w.Close()
}
