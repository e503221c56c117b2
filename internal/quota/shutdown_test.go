package quota

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// stuckStore wraps a store whose Commit fails (fail), or waits until its
// context ends (stuck, announcing on entered): a store that stopped
// answering while a shutdown waits for it.
type stuckStore struct {
	Store
	mu    sync.Mutex
	fail  bool
	stuck bool
	// passes lets that many Commit calls through before stuck applies.
	passes  int
	commits int // Commit calls
	entered chan struct{}
	// cut is why a stuck Commit's context ended: context.Canceled when
	// the shutdown's context cut it, DeadlineExceeded for a time-out.
	cut error
}

func (s *stuckStore) Commit(ctx context.Context, c Claim, windows []int64, actual int64) error {
	s.mu.Lock()
	s.commits++
	fail, stuck := s.fail, s.stuck
	if stuck && s.passes > 0 {
		s.passes--
		stuck = false
	}
	s.mu.Unlock()
	switch {
	case fail:
		return errReadTimeout
	case stuck:
		s.entered <- struct{}{}
		<-ctx.Done()
		s.mu.Lock()
		s.cut = ctx.Err()
		s.mu.Unlock()
		return ctx.Err()
	}
	return s.Store.Commit(ctx, c, windows, actual)
}

func (s *stuckStore) set(fail, stuck bool) {
	s.mu.Lock()
	s.fail, s.stuck = fail, stuck
	s.mu.Unlock()
}

func (s *stuckStore) commitCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commits
}

// TestShutdownBoundedByContext: Shutdown returns when its context ends
// (the node's drain), whatever the store does: a retry in progress and the
// last pass are cut there, and what they had not settled is counted as
// dropped (reason closed), without marking the store down. With time left
// and a store that answers, the last pass settles what waited, so nothing
// is dropped. Time is the fake clock's; the test ends the context itself.
func TestShutdownBoundedByContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// flushing: the store answers again before the shutdown, so a
		// background retry is stuck in it when Shutdown begins; else the
		// retry waits for the store, and Shutdown's last pass meets it.
		flushing bool
		// stuck: the store stops answering (else it answers).
		stuck bool
		// doneBefore: the context has ended when Shutdown begins (a
		// drain that ran to its timeout).
		doneBefore  bool
		wantDropped float64
		wantCommits int // Commit calls, the failed first one included
	}{
		{name: "background retry stuck in the store", flushing: true, stuck: true, wantDropped: 1, wantCommits: 2},
		{name: "last pass stuck in the store", stuck: true, wantDropped: 1, wantCommits: 2},
		{name: "context done before: no pass", doneBefore: true, wantDropped: 1, wantCommits: 1},
		{name: "the store answers: settled, nothing dropped", wantDropped: 0, wantCommits: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock(suiteStart)
			s := &stuckStore{Store: NewMemory(clock), entered: make(chan struct{}, 1)}
			reg := prometheus.NewRegistry()
			l, err := New(Config{}, s, Options{Clock: clock, Logger: testLogger(t), Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			req := Request{Principal: "p", Limits: Limits{TPM: 10000}, InputTokens: 10, MaxTokens: 100}
			r := mustAdmit(t, l, req)
			s.set(true, false)
			if err := r.Commit(t.Context(), inference.Usage{InputTokens: 10, OutputTokens: 5}); err == nil {
				t.Fatal("Commit against a failing store succeeded")
			}
			if v := metricValue(t, reg, "meridian_quota_pending_settlements", ""); v != 1 {
				t.Fatalf("pending settlements = %v, want 1", v)
			}
			s.set(false, tc.stuck)
			clock.Advance(probeInterval) // the next operation probes the store
			if tc.flushing {
				// The store answers a probe: the retry starts, and sticks.
				mustAdmit(t, l, req).Release(t.Context())
				waitEntered(t, s)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.doneBefore {
				cancel()
			}
			done := make(chan error, 1)
			go func() { done <- l.Shutdown(ctx) }()
			if tc.stuck && !tc.flushing {
				waitEntered(t, s)
			}
			if tc.stuck {
				cancel() // the drain's time is up
			}
			defer cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Shutdown = %v", err)
				}
			case <-time.After(time.Minute): // a hang guard
				t.Fatal("Shutdown did not return when its context ended")
			}
			if v := metricValue(t, reg, "meridian_quota_dropped_settlements_total", "reason=closed"); v != tc.wantDropped {
				t.Errorf("dropped at close = %v, want %v", v, tc.wantDropped)
			}
			if v := metricValue(t, reg, "meridian_quota_pending_settlements", ""); v != 0 {
				t.Errorf("pending settlements after Shutdown = %v, want 0", v)
			}
			if got := s.commitCalls(); got != tc.wantCommits {
				t.Errorf("Commit called %d times, want %d", got, tc.wantCommits)
			}
			s.mu.Lock()
			cut := s.cut
			s.mu.Unlock()
			if tc.stuck && !errors.Is(cut, context.Canceled) {
				// Not the settlement's own time-out: the shutdown's
				// context ended the wait.
				t.Errorf("the stuck Commit ended with %v, want the shutdown's cancellation", cut)
			}
			if tc.flushing && !l.Healthy() {
				t.Error("a retry cut by the shutdown marked the store down")
			}
		})
	}
}

func waitEntered(t *testing.T, s *stuckStore) {
	t.Helper()
	select {
	case <-s.entered:
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("the settlement never reached the store")
	}
}

// TestShutdownSettlesLooseningFirst: when the last pass has time for only
// some of what waits, the commits of more tokens than were reserved go
// first: dropping one would count less than its request used (the one
// loss that loosens a limit), dropping any other counts more.
func TestShutdownSettlesLooseningFirst(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(suiteStart)
	s := &stuckStore{Store: NewMemory(clock), entered: make(chan struct{}, 1)}
	reg := prometheus.NewRegistry()
	l, err := New(Config{}, s, Options{Clock: clock, Logger: testLogger(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	strictReq := Request{Principal: "strict", Limits: Limits{TPM: 100000}, InputTokens: 10, MaxTokens: 100}
	looseReq := Request{Principal: "loose", Limits: Limits{TPM: 100000}, InputTokens: 10, MaxTokens: 100}
	strict, loose := mustAdmit(t, l, strictReq), mustAdmit(t, l, looseReq)
	s.set(true, false)
	// Queued first: a commit within its reservation (110 tokens).
	strict.Commit(t.Context(), inference.Usage{InputTokens: 10, OutputTokens: 5})
	// Queued second: a stream's 500 output tokens, beyond its 100.
	loose.Commit(t.Context(), inference.Usage{InputTokens: 10, OutputTokens: 500})
	s.mu.Lock()
	s.fail, s.stuck, s.passes = false, true, 1 // one commit, then the store hangs
	s.mu.Unlock()
	clock.Advance(probeInterval)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Shutdown(ctx) }()
	waitEntered(t, s)
	cancel()
	select {
	case <-done:
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("Shutdown did not return when its context ended")
	}
	if v := metricValue(t, reg, "meridian_quota_dropped_settlements_total", "reason=closed"); v != 1 {
		t.Errorf("dropped at close = %v, want 1 (the commit within its reservation)", v)
	}
	// The loose principal's window holds its 510 tokens, the strict one's
	// its reservation's 110: read by a fresh limiter over the same store,
	// as the remaining tokens after a reservation of 1.
	after, err := New(Config{}, s.Store, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	for _, c := range []struct {
		req  Request
		used int
	}{{looseReq, 510}, {strictReq, 110}} {
		c.req.InputTokens, c.req.MaxTokens = 0, 1
		res := mustAdmit(t, after, c.req)
		h := http.Header{}
		res.Status().SetHeaders(h)
		if got, want := h.Get(HeaderRemainingTokens), strconv.Itoa(100000-c.used-1); got != want {
			t.Errorf("%s: %s tokens remain, want %s (%d counted)", c.req.Principal, got, want, c.used)
		}
	}
}
