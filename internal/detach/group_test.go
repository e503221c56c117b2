package detach

import (
	"sync/atomic"
	"testing"
)

// TestGroupCloseEndsAndWaits: Close stops every goroutine still running
// (its stop is called) and returns only once each has returned; a
// goroutine that ended before Close is not stopped; Go after Close starts
// nothing and reports false, so that its caller releases at once.
func TestGroupCloseEndsAndWaits(t *testing.T) {
	t.Parallel()
	var g Group
	// done ran to its end before Close: Close must not stop it.
	var doneStops atomic.Int32
	finished := make(chan struct{})
	if !g.Go(func() { close(finished) }, func() { doneStops.Add(1) }) {
		t.Fatal("Go on an open group reported false")
	}
	<-finished
	// held runs until its stop is called.
	const held = 3
	var returned atomic.Int32
	started := make(chan struct{}, held)
	for range held {
		release := make(chan struct{})
		var once atomic.Bool
		ok := g.Go(func() {
			started <- struct{}{}
			<-release
			returned.Add(1)
		}, func() {
			if once.CompareAndSwap(false, true) {
				close(release)
			}
		})
		if !ok {
			t.Fatal("Go on an open group reported false")
		}
	}
	for range held {
		<-started
	}
	g.Close()
	if got := returned.Load(); got != held {
		t.Errorf("Close returned with %d of %d goroutines still running", held-got, held)
	}
	if got := doneStops.Load(); got != 0 {
		t.Errorf("Close stopped a goroutine that had already ended %d times", got)
	}
	ran := false
	if g.Go(func() { ran = true }, func() {}) {
		t.Error("Go after Close reported true")
	}
	g.Close() // a second Close is harmless
	if ran {
		t.Error("Go after Close ran its function")
	}
}
