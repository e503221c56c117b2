package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestManualFiresInTimeOrder(t *testing.T) {
	t.Parallel()
	c := NewManual(t0)
	var got []string
	c.AfterFunc(3*time.Second, func() { got = append(got, "c") })
	c.AfterFunc(time.Second, func() { got = append(got, "a") })
	stop := c.AfterFunc(2*time.Second, func() { got = append(got, "stopped") })
	c.AfterFunc(time.Second, func() { got = append(got, "b") })
	if !stop() || stop() {
		t.Error("stop: want true for a pending callback, then false")
	}
	if c.Timers() != 3 {
		t.Errorf("Timers = %d, want 3", c.Timers())
	}
	c.Advance(time.Second)
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("after 1s: %v, want [a b] (equal deadlines in arming order)", got)
	}
	c.Set(t0) // never backwards
	if !c.Now().Equal(t0.Add(time.Second)) {
		t.Errorf("Set backwards moved the clock to %v", c.Now())
	}
	c.Advance(5 * time.Second)
	if len(got) != 3 || got[2] != "c" || c.Timers() != 0 {
		t.Errorf("after 6s: %v with %d pending, want [a b c] and none", got, c.Timers())
	}
}

func TestManualTimerAndTicker(t *testing.T) {
	t.Parallel()
	c := NewManual(t0)
	tm, fired := c.NewTimer(2 * time.Second)
	tk := c.NewTicker(time.Second)
	c.Advance(time.Second)
	select {
	case <-fired:
		t.Fatal("timer fired early")
	default:
	}
	if at := <-tk.C(); !at.Equal(t0.Add(time.Second)) {
		t.Errorf("tick at %v, want %v", at, t0.Add(time.Second))
	}
	c.Advance(time.Second)
	if at := <-fired; !at.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("timer at %v", at)
	}
	if tm.Stop() {
		t.Error("Stop after firing = true, want false")
	}
	<-tk.C()
	// A lagging reader drops ticks: five periods pass, one tick waits.
	c.Advance(5 * time.Second)
	<-tk.C()
	select {
	case <-tk.C():
		t.Error("more than one tick buffered")
	default:
	}
	tk.Stop()
	if c.Timers() != 0 {
		t.Errorf("Timers = %d after Stop, want 0", c.Timers())
	}
}

func TestWallSatisfiesTheConsumers(t *testing.T) {
	t.Parallel()
	stop := Wall.AfterFunc(time.Hour, func() {})
	if !stop() {
		t.Error("Wall AfterFunc stop = false for a pending timer")
	}
	tm, _ := Wall.NewTimer(time.Hour)
	if !tm.Stop() {
		t.Error("Wall timer Stop = false")
	}
	Wall.NewTicker(time.Hour).Stop()
	if Or(nil) != Wall {
		t.Error("Or(nil) is not Wall")
	}
}

// TestManualAdvanceAndWait: AdvanceAndWait returns only once the receiver
// holds the tick, so what the test does next is ordered after it, and it
// does not wait for a ticker that was stopped.
func TestManualAdvanceAndWait(t *testing.T) {
	t.Parallel()
	c := NewManual(t0)
	tk := c.NewTicker(time.Second)
	read := make(chan struct{})
	var got time.Time
	go func() {
		got = <-tk.C()
		close(read)
	}()
	if err := c.AdvanceAndWait(t.Context(), time.Second); err != nil {
		t.Fatal(err)
	}
	if len(tk.C()) != 0 {
		t.Error("AdvanceAndWait returned with the tick still buffered")
	}
	<-read
	if !got.Equal(t0.Add(time.Second)) {
		t.Errorf("tick at %v, want %v", got, t0.Add(time.Second))
	}

	// Nobody reads: the wait ends with ctx, and names what it waited for.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.AdvanceAndWait(ctx, time.Second); err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("unread tick with a done ctx: %v, want context.Canceled", err)
	}
	// Stopped with the tick unread, before or during the wait: nothing to
	// wait for.
	tk.Stop()
	tm, _ := c.NewTimer(time.Second)
	go tm.Stop()
	if err := c.AdvanceAndWait(t.Context(), time.Second); err != nil {
		t.Errorf("with the timer stopped: %v", err)
	}
}

// TestManualWaitTimers: WaitTimers returns once a goroutine has armed the
// timers, and with ctx's error when it never does.
func TestManualWaitTimers(t *testing.T) {
	t.Parallel()
	c := NewManual(t0)
	go func() {
		c.AfterFunc(time.Second, func() {})
		c.NewTimer(time.Second)
	}()
	if err := c.WaitTimers(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	if c.Timers() != 2 {
		t.Errorf("Timers = %d, want 2", c.Timers())
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.WaitTimers(ctx, 3); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitTimers for a timer never armed: %v, want context.Canceled", err)
	}
}

// TestManualWaitArmed: WaitArmed returns once a goroutine has armed a
// timer for the duration waited for, however many others are pending,
// and counts re-arming with Reset; with ctx's error when it never does.
func TestManualWaitArmed(t *testing.T) {
	t.Parallel()
	c := NewManual(t0)
	c.NewTicker(time.Second)
	c.AfterFunc(time.Minute, func() {})
	if n := c.Armed(2 * time.Second); n != 0 {
		t.Fatalf("Armed(2s) = %d before any, want 0", n)
	}
	tm := c.AfterFuncTimer(time.Hour, func() {})
	tm.Stop()
	go func() {
		c.AfterFunc(time.Second, func() {})
		tm.Reset(2 * time.Second)
	}()
	if err := c.WaitArmed(t.Context(), 2*time.Second, 1); err != nil {
		t.Fatal(err)
	}
	if n := c.Armed(time.Second); n != 2 {
		t.Errorf("Armed(1s) = %d, want 2 (the ticker and the callback)", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.WaitArmed(ctx, 2*time.Second, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitArmed for a timer never armed: %v, want context.Canceled", err)
	}
}

// TestManualTimerReset: Reset re-arms a fired, stopped or pending timer
// from the clock's now and drops a time sent but not received, as
// time.Timer does since Go 1.23.
func TestManualTimerReset(t *testing.T) {
	t.Parallel()
	c := NewManual(t0)
	tm, fired := c.NewTimer(time.Second)
	if !tm.Reset(3 * time.Second) {
		t.Error("Reset of a pending timer = false")
	}
	c.Advance(2 * time.Second)
	select {
	case <-fired:
		t.Fatal("fired at the old deadline")
	default:
	}
	c.Advance(time.Second) // fires at t0+3s; not received
	if tm.Reset(time.Second) {
		t.Error("Reset of a fired timer = true")
	}
	select {
	case at := <-fired:
		t.Fatalf("received %v sent before the Reset", at)
	default:
	}
	c.Advance(time.Second)
	if at := <-fired; !at.Equal(t0.Add(4 * time.Second)) {
		t.Errorf("fired at %v, want %v", at, t0.Add(4*time.Second))
	}
	tm.Stop()
	tm.Reset(time.Second) // a stopped timer re-arms too
	if c.Timers() != 1 {
		t.Errorf("Timers = %d after Reset of a stopped timer, want 1", c.Timers())
	}
	c.Advance(time.Second)
	<-fired
}

// TestManualAfterFuncTimer: a callback timer re-armed by Reset runs once
// per arming, at the deadline of its last Reset, and not after Stop.
func TestManualAfterFuncTimer(t *testing.T) {
	t.Parallel()
	c := NewManual(t0)
	var runs []time.Time
	tm := c.AfterFuncTimer(time.Hour, func() { runs = append(runs, c.Now()) })
	tm.Stop()
	c.Advance(2 * time.Hour)
	if len(runs) != 0 {
		t.Fatalf("stopped callback ran: %v", runs)
	}
	for range 3 { // re-armed before each deadline: never runs
		tm.Reset(time.Second)
		c.Advance(time.Second / 2)
	}
	if len(runs) != 0 {
		t.Fatalf("callback re-armed before its deadline ran: %v", runs)
	}
	c.Advance(time.Second/2 - 1) // just before the last Reset's deadline
	if len(runs) != 0 {
		t.Fatalf("callback ran before its deadline: %v", runs)
	}
	c.Advance(1)
	if len(runs) != 1 || !runs[0].Equal(t0.Add(2*time.Hour+2*time.Second)) {
		t.Errorf("runs = %v, want one at %v", runs, t0.Add(2*time.Hour+2*time.Second))
	}
	if tm.Reset(time.Second) {
		t.Error("Reset after the callback ran = true, want false")
	}
	c.Advance(time.Second)
	if len(runs) != 2 {
		t.Errorf("runs = %d after a Reset of a fired timer, want 2", len(runs))
	}
	var _ Timer = Wall.AfterFuncTimer(time.Hour, func() {}) // *time.Timer
}
