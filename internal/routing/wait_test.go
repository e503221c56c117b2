package routing_test

import (
	"errors"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/routing/routingtest"
)

func TestPredictWait(t *testing.T) {
	t.Parallel()
	fresh := func(region string, mod func(*routing.State)) routing.State {
		s := routing.State{Region: region, Model: "m", ObservedAt: t0, MaxConcurrency: 4, InFlight: 4, ServiceTime: 2 * time.Second}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	tests := []struct {
		name   string
		states []routing.State
		auth   func(string) bool
		tokens int
		ahead  int
		want   time.Duration // with a 2ms tolerance for the bisection
		ok     bool
	}{
		// Four requests of 2s each in flight free a slot every 500ms.
		{"saturated, first in line", []routing.State{fresh("a", nil)}, nil, 10, 0, 500 * time.Millisecond, true},
		{"saturated, three ahead", []routing.State{fresh("a", nil)}, nil, 10, 3, 2 * time.Second, true},
		// Two saturated destinations free slots twice as fast.
		{"two saturated", []routing.State{fresh("a", nil), fresh("b", nil)}, nil, 10, 1, 500 * time.Millisecond, true},
		{"cooldown", []routing.State{fresh("a", func(s *routing.State) {
			s.InFlight, s.CooldownUntil = 0, t0.Add(3*time.Second)
		})}, nil, 10, 0, 3 * time.Second, true},
		// An open circuit yields a single probe: nobody behind it fits.
		{"circuit open, one ahead", []routing.State{fresh("a", func(s *routing.State) {
			s.InFlight, s.Circuit, s.CooldownUntil = 0, routing.CircuitOpen, t0.Add(time.Second)
		})}, nil, 10, 1, 0, false},
		// 60 RPM: one request a second.
		{"rpm window", []routing.State{fresh("a", func(s *routing.State) {
			s.InFlight, s.RPMLimit, s.RPMRemaining = 0, 60, 0
		})}, nil, 10, 1, 2 * time.Second, true},
		{"request larger than the TPM window", []routing.State{fresh("a", func(s *routing.State) {
			s.InFlight, s.TPMLimit, s.TPMRemaining = 0, 100, 0
		})}, nil, 1000, 0, 0, false},
		{"nothing authorized", []routing.State{fresh("a", nil)}, func(string) bool { return false }, 10, 0, 0, false},
		{"unknown service time uses the default", []routing.State{fresh("a", func(s *routing.State) { s.ServiceTime = 0 })},
			nil, 10, 0, routing.DefaultServiceTime / 4, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			auth := tc.auth
			if auth == nil {
				auth = func(string) bool { return true }
			}
			var dests []string
			for _, s := range tc.states {
				dests = append(dests, s.Region)
			}
			in := routing.Input{SourceRegion: dests[0], Destinations: dests, States: tc.states, Authorized: auth,
				EstimatedTokens: tc.tokens, Now: t0}
			var p routing.Plan
			if err := routing.Route(&p, &in); !errors.Is(err, routing.ErrNoCandidate) {
				t.Fatalf("Route = %v, want ErrNoCandidate", err)
			}
			got, ok := routing.PredictWait(&in, &p, tc.ahead)
			if ok != tc.ok {
				t.Fatalf("PredictWait = %v, %v; want ok %v", got, ok, tc.ok)
			}
			if ok && (got < tc.want-2*time.Millisecond || got > tc.want+2*time.Millisecond) {
				t.Errorf("PredictWait = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStanding(t *testing.T) {
	t.Parallel()
	var s routing.Standing
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	s.Left(at(0), 200*time.Millisecond, 3) // above target: the interval starts
	if s.Standing() {
		t.Fatal("standing after one long wait")
	}
	s.Left(at(500), 200*time.Millisecond, 3)
	if s.Standing() {
		t.Fatal("standing before the interval passed")
	}
	s.Left(at(1000), 200*time.Millisecond, 3)
	if !s.Standing() {
		t.Fatal("not standing after every wait stayed above the target for an interval")
	}
	s.Empty()
	if s.Standing() {
		t.Fatal("standing after the queue emptied")
	}
	// A short wait resets the interval: a queue that drains bursts.
	s.Left(at(2000), 200*time.Millisecond, 3)
	s.Left(at(2500), 10*time.Millisecond, 3)
	s.Left(at(3100), 200*time.Millisecond, 3)
	if s.Standing() {
		t.Fatal("standing although a request waited less than the target within the interval")
	}
}

func TestQueueHopeless(t *testing.T) {
	t.Parallel()
	clk := routingtest.NewClock(t0)
	q := routing.NewQueue(4, clk)
	ctx := t.Context()
	hopeless := make(chan bool, 1)
	aheads := make(chan int, 4)
	res := make(chan error, 2)
	go func() { res <- q.Wait(ctx, time.Minute) }() // ahead of the checked waiter
	awaitLen(t, q, 1)
	go func() {
		res <- q.WaitWith(ctx, time.Minute, routing.WaitOptions{CheckEvery: 100 * time.Millisecond,
			Hopeless: func(ahead int) bool { aheads <- ahead; return <-hopeless }})
	}()
	awaitLen(t, q, 2)
	awaitTimers(t, clk, 3)
	hopeless <- false
	clk.Advance(100 * time.Millisecond)
	if a := <-aheads; a != 1 {
		t.Errorf("first check saw %d ahead, want 1", a)
	}
	awaitTimers(t, clk, 3)
	hopeless <- true
	clk.Advance(100 * time.Millisecond)
	<-aheads
	if err := <-res; !errors.Is(err, routing.ErrQueueHopeless) {
		t.Fatalf("checked waiter = %v, want ErrQueueHopeless (early, not at its minute)", err)
	}
	if q.Len() != 1 {
		t.Errorf("Len = %d, want the first waiter still there", q.Len())
	}
	// Rewait goes to the head.
	go func() { res <- q.Rewait(ctx, time.Minute) }()
	awaitLen(t, q, 2)
	q.Notify()
	if err := <-res; err != nil {
		t.Fatalf("rewaiter = %v, want woken first", err)
	}
	q.Notify()
	if err := <-res; err != nil {
		t.Fatalf("first waiter = %v, want nil", err)
	}
}

// TestTrackerServiceTimeAndRefusals: a success teaches the deployment's
// service time (what PredictWait divides by); a request the provider
// refused with 429 (or never received) gives its RPM/TPM back, so an
// overloaded deployment does not look used up while it still has room.
func TestTrackerServiceTimeAndRefusals(t *testing.T) {
	t.Parallel()
	clk := routingtest.NewClock(t0)
	k := routing.Key{Region: "a", Model: "m"}
	tr, err := routing.NewTracker(routing.TrackerConfig{Region: "a", Deployments: []routing.Deployment{{Key: k, RPM: 10, TPM: 1000}}}, clk)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := tr.Start(k, 100)
	clk.Advance(3 * time.Second)
	tr.Observe(a, routing.Outcome{Kind: routing.Success, TTFT: time.Second})
	s, _ := tr.State(k)
	if s.ServiceTime != 3*time.Second || s.RPMRemaining != 9 || s.TPMRemaining != 900 {
		t.Fatalf("after a 3s success: service %v, rpm %d, tpm %d; want 3s, 9, 900", s.ServiceTime, s.RPMRemaining, s.TPMRemaining)
	}
	for _, kind := range []routing.OutcomeKind{routing.Throttled, routing.ConnectError} {
		a, _ := tr.Start(k, 100)
		tr.Observe(a, routing.Outcome{Kind: kind, RetryAfter: time.Millisecond})
		clk.Advance(time.Second)
		if s, _ := tr.State(k); s.RPMRemaining != 9 || s.TPMRemaining != 900 {
			t.Errorf("after a %v attempt: rpm %d, tpm %d; want 9, 900 (refused requests use no quota)", kind, s.RPMRemaining, s.TPMRemaining)
		}
	}
	a, _ = tr.Start(k, 100)
	tr.Observe(a, routing.Outcome{Kind: routing.ServerError})
	if s, _ := tr.State(k); s.RPMRemaining != 8 {
		t.Errorf("after a 5xx: rpm %d, want 8 (the provider ran it)", s.RPMRemaining)
	}
}

// TestQueueKeys: a freed slot wakes the oldest waiter of each key, so a
// profile's waiter that cannot use it does not consume another profile's
// wake-up.
func TestQueueKeys(t *testing.T) {
	t.Parallel()
	clk := routingtest.NewClock(t0)
	q := routing.NewQueue(4, clk)
	ctx := t.Context()
	res := map[string]chan error{"a1": make(chan error, 1), "a2": make(chan error, 1), "b1": make(chan error, 1)}
	for i, name := range []string{"a1", "a2", "b1"} {
		go func() { res[name] <- q.WaitWith(ctx, time.Minute, routing.WaitOptions{Key: name[:1]}) }()
		awaitLen(t, q, i+1)
	}
	q.Notify()
	if err := <-res["a1"]; err != nil {
		t.Fatalf("a1 = %v", err)
	}
	if err := <-res["b1"]; err != nil {
		t.Fatalf("b1 = %v, want woken with a1 (another key)", err)
	}
	if q.Len() != 1 {
		t.Fatalf("Len = %d, want a2 still waiting", q.Len())
	}
	q.Notify()
	if err := <-res["a2"]; err != nil {
		t.Fatalf("a2 = %v", err)
	}
}

func TestPredictWaitNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under the race detector")
	}
	states := []routing.State{
		{Region: "a", Model: "m", ObservedAt: t0, MaxConcurrency: 4, InFlight: 4, ServiceTime: time.Second},
		{Region: "b", Model: "m", ObservedAt: t0, RPMLimit: 60, RPMRemaining: 0},
		{Region: "c", Model: "m", ObservedAt: t0, CooldownUntil: t0.Add(time.Second)},
	}
	in := routing.Input{SourceRegion: "a", Destinations: []string{"a", "b", "c"}, States: states,
		Authorized: func(string) bool { return true }, EstimatedTokens: 10, Now: t0}
	var p routing.Plan
	_ = routing.Route(&p, &in)
	if n := testing.AllocsPerRun(100, func() { routing.PredictWait(&in, &p, 5) }); n != 0 {
		t.Errorf("PredictWait allocates %v times, want 0", n)
	}
}
