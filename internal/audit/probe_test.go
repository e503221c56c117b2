package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// watchRecovery makes fsys record whether the writer had already declared
// the outage over (Err() == nil) when it touched a file named name with op
// ("write" or "rename", names matched by prefix): the probe must finish all
// of its writes before it publishes the recovery.
func watchRecovery(fsys *faultFS, w *Writer, op, name string) *atomic.Bool {
	var early atomic.Bool
	fsys.set(func(f *faultFS) {
		f.before = func(gotOp, gotName string) {
			if gotOp == op && strings.HasPrefix(gotName, name) && w.Err() == nil {
				early.Store(true)
			}
		}
	})
	return &early
}

// waitBackoff moves the clock to the probe after a first failed one: the
// backoff doubled (the outage went on), so none comes after probeMin, the
// next one after twice that.
func waitBackoff(t *testing.T, w *Writer, clk *fakeClock) {
	t.Helper()
	clk.Advance(probeMin)
	if err := w.Digest(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("%v after a failed probe: Digest = %v, want ErrUnavailable (the backoff doubled: no probe yet)", probeMin, err)
	}
	clk.Advance(probeMin)
}

// countIDs counts the events of each request id in dir, and fails on an
// interrupted one.
func countIDs(t *testing.T, dir string) (ids []string, n map[string]int) {
	t.Helper()
	n = map[string]int{}
	for _, e := range readEvents(t, dir) {
		ids = append(ids, e.EventID)
		n[e.EventID]++
		if e.ErrorCode == InterruptedErrorCode {
			t.Errorf("%s: %s written as interrupted, want its own event", dir, e.EventID)
		}
	}
	return ids, n
}

// TestProbeJournalFailureKeepsOutage: a recovery probe writes the kept
// streams' events after the gap marker, then journals their end records.
// When that journal write fails, the probe fails: the outage goes on (Err
// never says recovered, the backoff continues, one outage is counted), and
// the marker already in the log records it. The next probe, with nothing
// more to record, writes no second marker. No stream's event is lost or
// written twice: not by the next probe (the intents whose events are in
// the log are gone from the journal it rewrites), and not by a restart
// after a crash at that point (the restart finds the events in the log
// after their intents, and the outage file holds nothing more to record).
// The same when the journal's fsync fails, with more kept streams than end
// records wait for a write (journalCommit then writes them itself), and
// when the failed journal write cannot be taken back.
func TestProbeJournalFailureKeepsOutage(t *testing.T) {
	t.Parallel()
	writeFails := func(f *faultFS) { f.journalWriteErr = syscall.EIO }
	syncFails := func(f *faultFS) { f.journalSyncErr = syscall.EIO }
	for _, tc := range []struct {
		name    string
		streams int
		fault   func(*faultFS) // breaks the journal, not the log
	}{
		{"write fails, one kept stream", 1, writeFails},
		{"write fails, more kept streams than pending ends", maxPendingEnds + 1, writeFails},
		{"write fails and is not taken back", 2, func(f *faultFS) { f.journalWriteErr, f.truncErr = syscall.EIO, syscall.EIO }},
		{"fsync fails, one kept stream", 1, syncFails},
		{"fsync fails, more kept streams than pending ends", maxPendingEnds + 1, syncFails},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
			w := openFault(t, root, clk, fsys, func(c *Config) { c.DigestInterval = 24 * time.Hour })
			ctx := t.Context()
			appendN(t, w, 0, 1)
			var streams []*Event
			for i := range tc.streams {
				e := testEvent(100 + i)
				if err := w.Begin(ctx, e); err != nil {
					t.Fatalf("Begin(%s): %v", e.EventID, err)
				}
				streams = append(streams, e)
			}
			fsys.set(func(f *faultFS) { f.full = true })
			if err := w.Append(ctx, testEvent(1)); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
			}
			for _, e := range streams {
				if err := w.Append(ctx, e); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "kept") {
					t.Fatalf("Append(%s) during the outage = %v, want ErrUnavailable saying it is kept", e.EventID, err)
				}
			}

			// The log takes writes again; the journal's appends do not.
			fsys.heal()
			fsys.set(tc.fault)
			early := watchRecovery(fsys, w, "write", journalName)
			clk.Advance(probeMin)
			if err := w.Digest(ctx); !errors.Is(err, ErrUnavailable) { // after the probe, in the writer's loop
				t.Fatalf("Digest after a probe whose journal write or fsync failed = %v, want ErrUnavailable", err)
			}
			if err := w.Err(); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Err() after a probe whose journal write or fsync failed = %v, want the outage to go on", err)
			}
			if early.Load() {
				t.Error("the probe wrote the journal after Err() had declared the recovery")
			}
			if st := w.Stats(); st.Outages != 1 || !st.Unavailable {
				t.Errorf("Stats() = %+v, want still the one outage", st)
			}
			var ue *UnavailableError
			if errors.As(w.Err(), &ue) && ue.RetryAfter < time.Second {
				t.Errorf("Retry-After = %v, want at least a second", ue.RetryAfter)
			}
			ids, n := countIDs(t, w.Dir())
			if len(ids) != 2+tc.streams || ids[0] != "req-000000" || ids[1] != "audit-gap-2" {
				t.Fatalf("log after the failed probe = %v..., want req-000000, the gap marker and the %d kept events", ids[:min(len(ids), 4)], tc.streams)
			}
			for _, e := range streams {
				if n[e.EventID] != 1 {
					t.Errorf("after the failed probe: %s has %d events, want 1", e.EventID, n[e.EventID])
				}
			}
			// A crash now: copy the directory as a killed process leaves it.
			crashed := filepath.Join(t.TempDir(), "crashed")
			snapshotDir(t, w.Dir(), filepath.Join(crashed, testRegion))

			fsys.set(func(f *faultFS) { f.before = nil })
			fsys.heal()
			waitBackoff(t, w, clk)
			if err := w.Digest(ctx); err != nil {
				t.Fatalf("after the journal took writes again: Digest = %v, want the writer recovered", err)
			}
			if recs := journalRecords(t, w.Dir()); len(recs) != 0 {
				t.Errorf("journal after recovery = %v, want no intent left open", recs[:min(len(recs), 4)])
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if st := w.Stats(); st.Outages != 1 || st.Lost != 1 {
				t.Errorf("Stats() = %+v, want 1 outage, 1 lost", st)
			}

			w2 := openTest(t, crashed, clk, nil) // the restart after the crash
			if err := w2.Close(); err != nil {
				t.Fatal(err)
			}
			for _, rw := range []*Writer{w, w2} {
				dir := rw.Dir()
				ids, n := countIDs(t, dir)
				for _, e := range streams {
					if n[e.EventID] != 1 {
						t.Errorf("%s: %s has %d events, want 1", dir, e.EventID, n[e.EventID])
					}
				}
				if len(ids) != 2+tc.streams {
					t.Errorf("%s: log holds %d events, want %d: req-000000, the gap marker, %d streams", dir, len(ids), 2+tc.streams, tc.streams)
				}
				rep := mustVerify(t, dir, rw)
				if len(rep.Gaps) != 1 {
					t.Fatalf("%s: verify reports %d gaps, want 1 (the marker before the journal failed records the outage)", dir, len(rep.Gaps))
				}
				if g := rep.Gaps[0].Gap; g.LostEvents != 1 || g.DeferredEvents != int64(tc.streams) || g.AfterSeq != 1 {
					t.Errorf("%s: gap = %+v, want 1 lost and %d deferred after event 1", dir, g, tc.streams)
				}
			}
		})
	}
}

// TestProbeStepFailureKeepsOutage: clearing the outage file and signing the
// digest that covers the gap marker are part of the probe. When either
// cannot be written, the trail is not recovered: the node never admits
// requests in between, and the same outage goes on (one outage counted, the
// backoff continuing) until a probe completes the steps. The marker the
// failed probe wrote records the outage: nothing happened since that the
// next probe would need another marker for.
func TestProbeStepFailureKeepsOutage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		fault     func(*faultFS)
		op, watch string // the failing step's file operation
	}{
		{"digest", func(f *faultFS) { f.digestErr = syscall.EIO }, "rename", "digest-"},
		{"outage file", func(f *faultFS) { f.outageErr = syscall.EIO }, "write", outageName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
			w := openFault(t, root, clk, fsys, func(c *Config) { c.DigestInterval = 24 * time.Hour })
			ctx := t.Context()
			appendN(t, w, 0, 2)
			fsys.set(func(f *faultFS) { f.full = true })
			if err := w.Append(ctx, testEvent(2)); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
			}
			fsys.heal()
			fsys.set(tc.fault)
			early := watchRecovery(fsys, w, tc.op, tc.watch)
			clk.Advance(probeMin)
			if err := w.Digest(ctx); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Digest after a probe whose %s failed = %v, want ErrUnavailable", tc.name, err)
			}
			if early.Load() {
				t.Errorf("the probe wrote the %s after Err() had declared the recovery", tc.name)
			}
			if st := w.Stats(); st.Outages != 1 || !st.Unavailable || st.Digests != 0 {
				t.Errorf("Stats() = %+v, want the one outage going on and no digest", st)
			}
			var ue *UnavailableError
			if !errors.As(w.Err(), &ue) || ue.RetryAfter < time.Second || !errors.Is(ue, syscall.EIO) {
				t.Fatalf("Err() = %v, want the outage, caused now by the failed %s", w.Err(), tc.name)
			}

			fsys.set(func(f *faultFS) { f.before = nil })
			fsys.heal()
			waitBackoff(t, w, clk)
			if err := w.Digest(ctx); err != nil {
				t.Fatalf("after the disk recovered: Digest = %v, want the writer recovered", err)
			}
			if st := w.Stats(); st.Outages != 1 || st.Digests != 1 || st.Unavailable {
				t.Errorf("Stats() = %+v, want 1 outage, recovered, 1 digest", st)
			}
			if b, err := os.ReadFile(filepath.Join(w.Dir(), outageName)); err != nil || len(bytes.TrimSpace(b)) != 0 {
				t.Errorf("outage file after recovery = %q, %v; want it blank", bytes.TrimSpace(b), err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			ids, _ := countIDs(t, w.Dir())
			if want := []string{"req-000000", "req-000001", "audit-gap-3"}; !slices.Equal(ids, want) {
				t.Errorf("log = %v, want %v", ids, want)
			}
			rep := mustVerify(t, w.Dir(), w)
			if len(rep.Gaps) != 1 || rep.Gaps[0].Gap.LostEvents != 1 {
				t.Errorf("gaps = %v, want one counting the 1 lost request", rep.Gaps)
			}
		})
	}
}

// TestProbeFailsAfterMarker: when a probe's write gets the gap marker into
// the log but leaves a partial line of a kept stream's event that cannot be
// truncated, the outage goes on. The marker's line was not confirmed (a
// machine crash may take it back), so the outage is not counted afresh:
// the next marker restates it, from the same start, with every count (the
// stream deferred again). It names the torn file, so that verify explains
// the torn tail by the outage rather than by a crash; the stream's event is
// written once, after that marker; and a request refused after the failed
// probe is in the outage file before its caller hears back (a restart's
// marker counts it).
func TestProbeFailsAfterMarker(t *testing.T) {
	t.Parallel()
	root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
	w := openFault(t, root, clk, fsys, func(c *Config) { c.RecordContent = true; c.DigestInterval = 24 * time.Hour })
	ctx := t.Context()
	stream := testEvent(1)
	stream.Content = &Content{Prompt: strings.Repeat("p", 64<<10), Completion: "ok"}
	if err := w.Begin(ctx, stream); err != nil {
		t.Fatal(err)
	}
	fsys.set(func(f *faultFS) { f.full = true })
	if err := w.Append(ctx, testEvent(2)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
	}
	if err := w.Append(ctx, stream); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append of the stream's event during the outage = %v, want ErrUnavailable", err)
	}
	// Room for the journal's rewrite and the marker, not for the 64 KiB
	// event after it; and the partial line cannot be taken back.
	fsys.set(func(f *faultFS) { f.room, f.truncErr = 16<<10, syscall.EIO })
	clk.Advance(probeMin)
	if err := w.Digest(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Digest after a probe that tore the stream's line = %v, want ErrUnavailable", err)
	}
	lost := testEvent(3)
	if err := w.Append(ctx, lost); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append after the failed probe = %v, want ErrUnavailable", err)
	}
	crashed := filepath.Join(t.TempDir(), "crashed")
	snapshotDir(t, w.Dir(), filepath.Join(crashed, testRegion))

	fsys.heal()
	clk.Advance(2 * probeMin)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ids, n := countIDs(t, w.Dir())
	if want := []string{"audit-gap-1", "audit-gap-2", stream.EventID}; !slices.Equal(ids, want) || n[stream.EventID] != 1 {
		t.Fatalf("log = %v, want %v", ids, want)
	}
	rep := mustVerify(t, w.Dir(), w)
	if len(rep.Gaps) != 2 {
		t.Fatalf("gaps = %v, want 2", rep.Gaps)
	}
	// The first marker's write failed: it restates the whole outage.
	first, g := rep.Gaps[0].Gap, rep.Gaps[1].Gap
	if !g.Since.Equal(first.Since.Time) || g.AfterSeq != first.AfterSeq || g.LostEvents != 2 ||
		!slices.Equal(g.LostEventIDs, []string{"req-000002", lost.EventID}) || g.DeferredEvents != 1 ||
		!strings.Contains(rep.Gaps[1].String(), "restates") {
		t.Errorf("second gap = %s, want it to restate the first: since %v, req-000002 and %s lost, the stream deferred", rep.Gaps[1], first.Since, lost.EventID)
	}
	if len(rep.Warnings) != 1 || rep.Warnings[0].Kind != TornTail || !slices.Equal(g.TornFiles, []string{rep.Warnings[0].File}) ||
		!strings.Contains(rep.Warnings[0].Detail, "failed write of the outage") {
		t.Errorf("warnings = %v, want the torn tail explained by the second gap marker", rep.Warnings)
	}

	// The restart after a crash right after the refusal writes the second
	// marker from the outage file (and the stream, whose event was only in
	// memory, as interrupted).
	w2 := openTest(t, crashed, clk, nil)
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	rep2, err := Verify(w2.Dir(), w2.PublicKey())
	if err != nil {
		t.Fatalf("verify after the restart: %v", err)
	}
	if len(rep2.Gaps) != 2 {
		t.Fatalf("after the restart: gaps = %v, want 2", rep2.Gaps)
	}
	if g := rep2.Gaps[1].Gap; g.LostEvents != 2 || !slices.Equal(g.LostEventIDs, []string{"req-000002", lost.EventID}) {
		t.Errorf("after the restart: second gap = %+v, want req-000002 and %s lost", g, lost.EventID)
	}
	if got := eventIDs(readEvents(t, w2.Dir())); !slices.Equal(got, []string{"audit-gap-1/audit_unavailable", "audit-gap-2/audit_unavailable", stream.EventID + "/" + InterruptedErrorCode}) {
		t.Errorf("after the restart: log = %v, want the two markers and the stream interrupted", got)
	}
}
