package gateway

import (
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// gatedStream is a stream whose Recv reports that it was entered, then
// waits for an event or for Close.
type gatedStream struct {
	entered   chan struct{}
	events    chan inference.Event
	closed    chan struct{}
	closeOnce sync.Once
}

func newGatedStream() *gatedStream {
	return &gatedStream{entered: make(chan struct{}, 1), events: make(chan inference.Event), closed: make(chan struct{})}
}

func (s *gatedStream) Recv() (inference.Event, error) {
	s.entered <- struct{}{}
	select {
	case ev := <-s.events:
		return ev, nil
	case <-s.closed:
		return inference.Event{}, io.ErrUnexpectedEOF
	}
}

func (s *gatedStream) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}

// TestIdleStream: a forwarded stream's watch ends it once a pending Recv
// has waited idle, counting from when that Recv began (not from the
// period's start), and never while events keep coming sooner; one timer
// runs per idle period, whatever the events.
func TestIdleStream(t *testing.T) {
	const idle = 10 * time.Second
	type step struct {
		advance time.Duration // before the step's Recv begins
		wait    time.Duration // while the Recv is pending, before its event (0: none comes)
	}
	tests := []struct {
		name    string
		steps   []step
		timeout bool // the last step's Recv times out
	}{
		{"silent for idle", []step{{wait: idle}}, true},
		{"events sooner than idle, past several periods", []step{
			{wait: idle / 2}, {wait: idle / 2}, {wait: idle - time.Millisecond}, {wait: idle / 3}, {wait: idle / 3},
		}, false},
		{"the Recv began late in the period", []step{{advance: idle * 3 / 4, wait: idle}}, true},
		{"a wait just short of idle, then silence", []step{{wait: idle - time.Millisecond}, {wait: idle}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			inner := newGatedStream()
			s := watchIdle(inner, clk, idle)
			defer s.Close()
			for i, st := range tt.steps {
				clk.Advance(st.advance)
				type result struct {
					ev  inference.Event
					err error
				}
				got := make(chan result, 1)
				go func() {
					ev, err := s.Recv()
					got <- result{ev, err}
				}()
				<-inner.entered // the Recv is pending
				last := i == len(tt.steps)-1
				if last && tt.timeout {
					clk.Advance(st.wait - time.Millisecond)
					select {
					case r := <-got:
						t.Fatalf("step %d: Recv returned %v after %v, before idle", i, r.err, st.wait-time.Millisecond)
					default:
					}
					clk.Advance(time.Millisecond)
					r := <-got
					var ie *inference.Error
					if !errors.As(r.err, &ie) || ie.Kind != inference.KindTimeout {
						t.Fatalf("step %d: Recv = %v; want a time-out", i, r.err)
					}
					return
				}
				clk.Advance(st.wait)
				inner.events <- inference.Event{Kind: inference.EventDelta, Text: "x"}
				if r := <-got; r.err != nil {
					t.Fatalf("step %d: Recv = %v; want the event", i, r.err)
				}
				if n := clk.Timers(); n != 1 {
					t.Errorf("step %d: %d timers pending; want 1", i, n)
				}
			}
		})
	}
}

// TestIdleStreamConcurrent runs Recv, the watch's checks and Close at once
// (under -race: the fields the reader and the watch share).
func TestIdleStreamConcurrent(t *testing.T) {
	const idle = time.Second
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	inner := newGatedStream()
	s := watchIdle(inner, clk, idle)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			clk.Advance(idle / 4)
		}
	}()
	go func() {
		for range inner.entered {
			select {
			case inner.events <- inference.Event{Kind: inference.EventDelta}:
			case <-inner.closed:
				return
			}
		}
	}()
	for range 500 {
		if _, err := s.Recv(); err != nil {
			break // timed out: the checks and Recv raced, as they may
		}
	}
	<-done
	s.Close()
	close(inner.entered) // ends the feeder; no Recv follows
}

// hookClock is a clock whose next Now runs a hook first: it stands for
// the check's goroutine losing its core just before it reads the time.
type hookClock struct {
	mu    sync.Mutex
	now   time.Time
	check func()
	onNow func()
}

func (c *hookClock) Now() time.Time {
	c.mu.Lock()
	h := c.onNow
	c.onNow = nil
	c.mu.Unlock()
	if h != nil {
		h()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *hookClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *hookClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	c.check = f
	c.mu.Unlock()
	return func() bool { return true }
}

// TestIdleCheckReadsTheClockFirst: a period's check that is delayed
// while the pending Recv gets its event in time (7s of 10) and the next
// Recv begins does not end the stream: no Recv waited the idle time.
func TestIdleCheckReadsTheClockFirst(t *testing.T) {
	const idle = 10 * time.Second
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &hookClock{now: t0}
	inner := newGatedStream()
	s := watchIdle(inner, clk, idle).(*idleStream)
	defer s.Close()
	recv := func() chan error {
		ch := make(chan error, 1)
		go func() {
			_, err := s.Recv()
			ch <- err
		}()
		<-inner.entered
		return ch
	}
	clk.set(t0.Add(5 * time.Second))
	first := recv() // pending from 5s
	clk.set(t0.Add(10 * time.Second))
	var second chan error
	clk.mu.Lock()
	clk.onNow = func() {
		clk.set(t0.Add(12 * time.Second))
		inner.events <- inference.Event{Kind: inference.EventDelta, Text: "x"}
		if err := <-first; err != nil {
			t.Errorf("first Recv: %v", err)
		}
		clk.set(t0.Add(16 * time.Second))
		second = recv() // begins 4s after the last event
	}
	check := clk.check
	clk.mu.Unlock()
	check()
	if s.timedOut.Load() {
		t.Fatal("the check ended the stream, though no Recv waited 10s")
	}
	select {
	case <-inner.closed:
		t.Fatal("the check closed the stream, though no Recv waited 10s")
	default:
	}
	inner.events <- inference.Event{Kind: inference.EventDelta, Text: "y"}
	if err := <-second; err != nil {
		t.Errorf("second Recv: %v", err)
	}
}
