package clock

import (
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
