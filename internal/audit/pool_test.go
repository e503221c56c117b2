package audit

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestEventAllocs pins what recording an event allocates beyond the event
// itself: Append and AppendHashed only the event's hash (the item, its
// reply channel and its encoding buffer come from a pool), a stream's
// Begin its intent (event and journal record) as well.
func TestEventAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes the pool drop items")
	}
	w := openTest(t, t.TempDir(), newFakeClock(), nil)
	defer w.Close()
	ctx := context.Background()
	e := testEvent(1)
	for _, tc := range []struct {
		name string
		max  float64
		op   func() error
	}{
		{"Append", 1, func() error { return w.Append(ctx, e) }},
		{"AppendHashed", 1, func() error { _, err := w.AppendHashed(ctx, e); return err }},
		{"Begin+Append", 2, func() error {
			if err := w.Begin(ctx, e); err != nil {
				return err
			}
			return w.Append(ctx, e)
		}},
	} {
		var err error
		got := testing.AllocsPerRun(200, func() {
			if oerr := tc.op(); oerr != nil {
				err = oerr
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got > tc.max {
			t.Errorf("%s allocates %.1f times per event, want at most %.0f", tc.name, got, tc.max)
		}
	}
}

// TestCanceledWaitKeepsItem: an Append whose ctx ends while its event is
// queued returns at once, and its event is still written as it was: the
// item the writer still holds does not go back to the pool for the next
// Append to overwrite.
func TestCanceledWaitKeepsItem(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{}, 16)
	hold := make(chan struct{})
	first := true
	w, err := open(Config{Dir: t.TempDir()}, testRegion, Options{Clock: newFakeClock(), Logger: testLogger(t)}, testHooks{beforeCommit: func() {
		if first {
			first = false
			entered <- struct{}{}
			<-hold
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- w.Append(context.Background(), testEvent(0)) }()
	<-entered // the writer holds event 0
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Append(canceled, testEvent(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with its ctx canceled while queued = %v, want context.Canceled", err)
	}
	go func() { errs <- w.Append(context.Background(), testEvent(2)) }()
	for w.pending.Load() != 2 {
		runtime.Gosched()
	}
	close(hold)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"req-000000/", "req-000001/", "req-000002/"}
	got := eventIDs(readEvents(t, w.Dir()))
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("log = %v, want %v", got, want)
	}
	mustVerify(t, w.Dir(), w)
}

// TestKeptEventNotReused: the event of a stream kept during an outage stays
// as it was while later events reuse pooled items, and is written once the
// trail recovers.
func TestKeptEventNotReused(t *testing.T) {
	t.Parallel()
	root, clk, fsys := t.TempDir(), newFakeClock(), &faultFS{}
	w := openFault(t, root, clk, fsys, nil)
	ctx := t.Context()
	stream := testEvent(1)
	if err := w.Begin(ctx, stream); err != nil {
		t.Fatal(err)
	}
	fsys.set(func(f *faultFS) { f.full = true })
	if err := w.Append(ctx, testEvent(2)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
	}
	if err := w.Append(ctx, stream); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("Append of the stream's event during the outage = %v, want it kept", err)
	}
	for i := 3; i < 10; i++ {
		if err := w.Append(ctx, testEvent(i)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Append(%d) during the outage = %v, want ErrUnavailable", i, err)
		}
	}
	fsys.heal()
	clk.Advance(probeMin)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	evs := readEvents(t, w.Dir())
	if len(evs) != 2 || evs[0].Gap == nil || evs[1].EventID != stream.EventID || evs[1].ErrorCode != stream.ErrorCode {
		t.Fatalf("log = %v, want the gap marker then the stream's own event", eventIDs(evs))
	}
	mustVerify(t, w.Dir(), w)
}
