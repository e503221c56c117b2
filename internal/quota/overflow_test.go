package quota

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// gatedStore wraps a store whose settlements can be made to fail
// (transiently: all of them while down, or one id once) or to wait (one
// id, until proceed is closed, announcing on entered that it waits), and
// which records the ids of the settlements that reached the store.
type gatedStore struct {
	Store

	mu       sync.Mutex
	down     bool
	failOnce map[string]bool
	hold     string
	entered  chan struct{}
	proceed  chan struct{}
	applied  []string
}

func newGatedStore(s Store) *gatedStore {
	return &gatedStore{Store: s, failOnce: map[string]bool{}, entered: make(chan struct{}, 1), proceed: make(chan struct{})}
}

func (g *gatedStore) settle(id string) error {
	g.mu.Lock()
	if g.down || g.failOnce[id] {
		delete(g.failOnce, id)
		g.mu.Unlock()
		return errConnRefused
	}
	hold := g.hold == id
	g.mu.Unlock()
	if hold {
		g.entered <- struct{}{}
		<-g.proceed
	}
	g.mu.Lock()
	g.applied = append(g.applied, id)
	g.mu.Unlock()
	return nil
}

func (g *gatedStore) Commit(ctx context.Context, c Claim, w []int64, actual int64) error {
	if err := g.settle(c.ID); err != nil {
		return err
	}
	return g.Store.Commit(ctx, c, w, actual)
}

func (g *gatedStore) Release(ctx context.Context, c Claim, w []int64) error {
	if err := g.settle(c.ID); err != nil {
		return err
	}
	return g.Store.Release(ctx, c, w)
}

func (g *gatedStore) set(f func(g *gatedStore)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(g)
}

func (g *gatedStore) appliedIDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.applied)
}

// waitEntered waits until the held settlement reached the store; the
// time-out is a hang guard.
func (g *gatedStore) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(time.Minute):
		t.Fatal("the held settlement never reached the store")
	}
}

// settleAs settles r as kind: "release", "commit" (fewer tokens than
// reserved) or "commit+" (more tokens than reserved: dropping it would
// count less than was used).
func settleAs(ctx context.Context, r *Reservation, kind string) error {
	switch kind {
	case "release":
		return r.Release(ctx)
	case "commit":
		return r.Commit(ctx, inference.Usage{InputTokens: 10, OutputTokens: 5})
	case "commit+":
		return r.Commit(ctx, inference.Usage{InputTokens: 10, OutputTokens: 500})
	}
	panic(kind)
}

// TestSettlementOverflow: when more than maxPending settlements wait for
// the store, the one dropped to make room is never the one being applied,
// but the oldest of the others, passing over a commit that counts more
// than was reserved (the new one goes when it alone is not such a
// commit); every other settlement reaches the store,
// and the dropped one is counted and logged with its request. Before, the
// one being applied was "dropped" (it was applied all the same) and flush
// then removed the entry after it, which was lost unlogged.
func TestSettlementOverflow(t *testing.T) {
	tests := []struct {
		name       string
		maxPending int
		// kinds of the settlements that wait (the first is being
		// applied when inFlight), then of the one that overflows.
		waiting  []string
		next     string
		inFlight bool
		wantDrop int // index into waiting, or len(waiting) for next
	}{
		{name: "store down: the oldest", maxPending: 3, waiting: []string{"release", "commit", "release"}, next: "commit", wantDrop: 0},
		{name: "flushing: the oldest not in flight", maxPending: 3, waiting: []string{"commit", "release", "release"}, next: "release", inFlight: true, wantDrop: 1},
		{name: "flushing: a commit that adds tokens is kept", maxPending: 3, waiting: []string{"release", "commit+", "release"}, next: "commit", inFlight: true, wantDrop: 2},
		{name: "store down: only commits that add tokens wait, a release comes", maxPending: 2, waiting: []string{"commit+", "commit+"}, next: "release", wantDrop: 2},
		{name: "store down: only commits that add tokens", maxPending: 2, waiting: []string{"commit+", "commit+"}, next: "commit+", wantDrop: 0},
		{name: "flushing, room for one: the new one", maxPending: 1, waiting: []string{"release"}, next: "release", inFlight: true, wantDrop: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(suiteStart)
			g := newGatedStore(NewMemory(clock))
			logs := &lockedBuffer{}
			reg := prometheus.NewRegistry()
			l, err := New(Config{}, g, Options{Clock: clock, Logger: slog.New(slog.NewTextHandler(logs, nil)), Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			l.maxPending = tc.maxPending
			ctx := t.Context()
			var res []*Reservation
			for i := range len(tc.waiting) + 1 {
				res = append(res, mustAdmit(t, l, Request{Principal: "alice", Model: "m", InputTokens: 10, MaxTokens: 10,
					Limits: Limits{MaxConcurrency: 100, TokensPerDay: 100000}, RequestID: fmt.Sprint("req-", i)}))
			}
			// The store goes down: the first settlement fails and marks
			// it down, the others wait without trying it.
			g.set(func(g *gatedStore) { g.down = true })
			for i, kind := range tc.waiting {
				if err := settleAs(ctx, res[i], kind); err == nil {
					t.Fatalf("settlement %d with the store down = nil, want an error", i)
				}
			}
			last := res[len(tc.waiting)]
			if tc.inFlight {
				// It answers again; the first that waits is held in the
				// store while flush applies it, and the next settlement
				// fails once (the store is up: it is tried).
				g.set(func(g *gatedStore) { g.down, g.hold, g.failOnce[last.claim.ID] = false, res[0].claim.ID, true })
				clock.Advance(probeInterval)
				if err := l.Check(ctx); err != nil {
					t.Fatal(err)
				}
				g.waitEntered(t)
			}
			if err := settleAs(ctx, last, tc.next); err == nil {
				t.Fatal("the overflowing settlement = nil, want an error")
			}
			if got := metricValue(t, reg, "meridian_quota_pending_settlements", ""); got != float64(tc.maxPending) {
				t.Errorf("pending = %v, want %d", got, tc.maxPending)
			}
			// The store answers for good; everything left is applied.
			g.set(func(g *gatedStore) { g.down = false })
			close(g.proceed)
			clock.Advance(probeInterval)
			if err := l.Check(ctx); err != nil {
				t.Fatal(err)
			}
			l.wg.Wait()

			dropped := res[tc.wantDrop]
			var want []string
			for i, r := range res {
				if i != tc.wantDrop {
					want = append(want, r.claim.ID)
				}
			}
			got := g.appliedIDs()
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("applied %v, want every settlement but %s's: %v", got, dropped.req.id, want)
			}
			if got := metricValue(t, reg, "meridian_quota_dropped_settlements_total", "reason="+dropOverflow); got != 1 {
				t.Errorf("dropped{overflow} = %v, want 1", got)
			}
			if got := metricValue(t, reg, "meridian_quota_pending_settlements", ""); got != 0 {
				t.Errorf("pending = %v, want 0", got)
			}
			out := logs.String()
			if n := strings.Count(out, `msg="quota settlement dropped"`); n != 1 {
				t.Errorf("logs:\n%s\nwant one dropped settlement logged", out)
			}
			for _, attr := range []string{"reason=overflow", "reservation=" + dropped.claim.ID, "request_id=" + dropped.req.id, "principal=alice"} {
				if !strings.Contains(out, attr) {
					t.Errorf("logs:\n%s\nwant the dropped settlement logged with %s", out, attr)
				}
			}
		})
	}
}

// TestSettlementOverflowLogRateLimited: a long outage overflows once per
// settlement; each drop is counted, and logged at most once per
// logInterval, the next line saying how many it left out.
func TestSettlementOverflowLogRateLimited(t *testing.T) {
	clock := newFakeClock(suiteStart)
	g := newGatedStore(NewMemory(clock))
	logs := &lockedBuffer{}
	reg := prometheus.NewRegistry()
	l, err := New(Config{}, g, Options{Clock: clock, Logger: slog.New(slog.NewTextHandler(logs, nil)), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.maxPending = 1
	var res []*Reservation
	for range 5 {
		res = append(res, mustAdmit(t, l, Request{Principal: "alice", Limits: Limits{MaxConcurrency: 100}}))
	}
	g.set(func(g *gatedStore) { g.down = true })
	for i, r := range res {
		if i == 4 {
			clock.Advance(logInterval)
		}
		r.Release(t.Context())
	}
	if got := metricValue(t, reg, "meridian_quota_dropped_settlements_total", "reason="+dropOverflow); got != 4 {
		t.Errorf("dropped{overflow} = %v, want 4", got)
	}
	out := logs.String()
	if n := strings.Count(out, `msg="quota settlement dropped"`); n != 2 || !strings.Contains(out, "repeated=2") {
		t.Errorf("logs:\n%s\nwant two dropped settlements logged, the second with repeated=2", out)
	}
}

// TestCloseWithPendingSettlements: Close gives the settlements that wait
// one last pass when the store answers (or a probe is due), stopping at
// the first failure, and drops the rest counted and logged in one line; a
// settlement made after Close is dropped the same way. Before, Close
// discarded them without a trace.
func TestCloseWithPendingSettlements(t *testing.T) {
	tests := []struct {
		name        string
		up          bool // the store answers again before Close
		probeDue    bool // a probe interval passed since the last failure
		wantApplied int
		wantDropped int
	}{
		{name: "store back, not yet probed", up: true, probeDue: true, wantApplied: 3},
		{name: "store down, probe due", probeDue: true, wantDropped: 3},
		{name: "store down, no probe due", wantDropped: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(suiteStart)
			g := newGatedStore(NewMemory(clock))
			logs := &lockedBuffer{}
			reg := prometheus.NewRegistry()
			l, err := New(Config{}, g, Options{Clock: clock, Logger: slog.New(slog.NewTextHandler(logs, nil)), Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			var res []*Reservation
			for i := range 4 {
				res = append(res, mustAdmit(t, l, Request{Principal: "alice", Limits: Limits{MaxConcurrency: 100}, RequestID: fmt.Sprint("req-", i)}))
			}
			g.set(func(g *gatedStore) { g.down = true })
			for i, kind := range []string{"release", "commit", "release"} {
				if err := settleAs(t.Context(), res[i], kind); err == nil {
					t.Fatalf("settlement %d with the store down = nil, want an error", i)
				}
			}
			g.set(func(g *gatedStore) { g.down = !tc.up })
			if tc.probeDue {
				clock.Advance(probeInterval)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got := len(g.appliedIDs()); got != tc.wantApplied {
				t.Errorf("%d settlements applied at Close, want %d", got, tc.wantApplied)
			}
			if got := metricValue(t, reg, "meridian_quota_dropped_settlements_total", "reason="+dropClosed); got != float64(tc.wantDropped) && !(got == -1 && tc.wantDropped == 0) {
				t.Errorf("dropped{closed} = %v, want %d", got, tc.wantDropped)
			}
			if got := metricValue(t, reg, "meridian_quota_pending_settlements", ""); got != 0 {
				t.Errorf("pending = %v, want 0", got)
			}
			out := logs.String()
			if n := strings.Count(out, "quota settlements dropped at close"); n != min(tc.wantDropped, 1) {
				t.Errorf("logs:\n%s\nwant %d lines of settlements dropped at close", out, min(tc.wantDropped, 1))
			}
			if tc.wantDropped > 0 && !strings.Contains(out, fmt.Sprintf("settlements=%d commits=1", tc.wantDropped)) {
				t.Errorf("logs:\n%s\nwant the count of settlements dropped at close", out)
			}
			// A settlement after Close: nothing would retry it.
			g.set(func(g *gatedStore) { g.down = true })
			clock.Advance(probeInterval)
			res[3].Release(t.Context())
			if got := metricValue(t, reg, "meridian_quota_dropped_settlements_total", "reason="+dropClosed); got != float64(tc.wantDropped+1) {
				t.Errorf("dropped{closed} after a settlement after Close = %v, want %d", got, tc.wantDropped+1)
			}
		})
	}
}

// TestLostReplyReleaseNamesItsRequest: the release queued for a reserve
// whose reply was lost names its request, as a settlement does, when it is
// dropped (here for overflow).
func TestLostReplyReleaseNamesItsRequest(t *testing.T) {
	clock := newFakeClock(suiteStart)
	s := &lostReply{Store: NewMemory(clock)}
	logs := &lockedBuffer{}
	l, err := New(Config{}, s, Options{Clock: clock, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.maxPending = 1
	for _, id := range []string{"req-lost", "req-next"} {
		s.lose = true
		clock.Advance(probeInterval)
		if _, err := l.Admit(t.Context(), Request{Principal: "alice", Model: "m", Limits: Limits{RPM: 10}, RequestID: id}); err == nil {
			t.Fatalf("Admit %s with the reply lost = nil, want an error", id)
		}
	}
	out := logs.String()
	for _, attr := range []string{`msg="quota settlement dropped"`, "op=release", "reason=overflow", "request_id=req-lost", "principal=alice", "model=m"} {
		if !strings.Contains(out, attr) {
			t.Errorf("logs:\n%s\nwant the dropped release logged with %s", out, attr)
		}
	}
}
