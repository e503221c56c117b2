package routing_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/routing/routingtest"
)

var (
	kLocal  = routing.Key{Region: "eu-west-1", Model: "m"}
	kRemote = routing.Key{Region: "eu-central-1", Model: "m"}
)

func newTracker(t *testing.T, region string) (*routing.Tracker, *routingtest.Clock) {
	t.Helper()
	clk := routingtest.NewClock(t0)
	tr, err := routing.NewTracker(routing.TrackerConfig{
		Region: region,
		Deployments: []routing.Deployment{
			{Key: kLocal, MaxConcurrency: 4, RPM: 10, TPM: 1000},
			{Key: kRemote, MaxConcurrency: 8, RPM: 20, TPM: 2000},
		},
		Seed: 1,
	}, clk)
	if err != nil {
		t.Fatal(err)
	}
	return tr, clk
}

func mustStart(t *testing.T, tr *routing.Tracker, k routing.Key, tokens int) routing.Attempt {
	t.Helper()
	a, err := tr.Start(k, tokens)
	if err != nil {
		t.Fatalf("Start(%s) = %v, want ok", k, err)
	}
	return a
}

func state(t *testing.T, tr *routing.Tracker, k routing.Key) routing.State {
	t.Helper()
	s, ok := tr.State(k)
	if !ok {
		t.Fatalf("State(%s) not found", k)
	}
	return s
}

func TestTrackerRetryAfterCooldown(t *testing.T) {
	t.Parallel()
	tr, clk := newTracker(t, "eu-west-1")
	a := mustStart(t, tr, kLocal, 10)
	tr.Observe(a, routing.Outcome{Kind: routing.Throttled, RetryAfter: 5 * time.Second})
	if s := state(t, tr, kLocal); !s.CooldownUntil.Equal(t0.Add(5 * time.Second)) {
		t.Errorf("CooldownUntil = %v, want t0+5s", s.CooldownUntil)
	}
	if _, err := tr.Start(kLocal, 10); !errors.Is(err, routing.ErrUnavailable) {
		t.Errorf("Start during Retry-After = %v, want ErrUnavailable", err)
	}
	clk.Advance(4999 * time.Millisecond)
	if _, err := tr.Start(kLocal, 10); !errors.Is(err, routing.ErrUnavailable) {
		t.Errorf("Start at t0+4.999s = %v, want ErrUnavailable", err)
	}
	clk.Advance(time.Millisecond)
	// After a Retry-After of 5 s, a single probe goes first.
	a = mustStart(t, tr, kLocal, 10)
	if !a.Probe {
		t.Errorf("first Start after Retry-After: not a probe; want a single half-open probe")
	}
	if _, err := tr.Start(kLocal, 10); !errors.Is(err, routing.ErrUnavailable) {
		t.Errorf("second Start while the probe runs = %v, want ErrUnavailable", err)
	}
	tr.Observe(a, routing.Outcome{Kind: routing.Success, TTFT: 10 * time.Millisecond})
	if s := state(t, tr, kLocal); s.Circuit != routing.CircuitClosed {
		t.Errorf("after a successful probe the circuit is %v, want closed", s.Circuit)
	}
	b := mustStart(t, tr, kLocal, 10)
	c := mustStart(t, tr, kLocal, 10)
	if b.Probe || c.Probe {
		t.Error("after recovery, attempts are still probes")
	}
}

func TestTrackerShortRetryAfterIsAPlainCooldown(t *testing.T) {
	t.Parallel()
	tr, clk := newTracker(t, "eu-west-1")
	a := mustStart(t, tr, kLocal, 10)
	// A slot about to free: no probe, full speed afterwards.
	tr.Observe(a, routing.Outcome{Kind: routing.Throttled, RetryAfter: 300 * time.Millisecond})
	clk.Advance(300 * time.Millisecond)
	b := mustStart(t, tr, kLocal, 10)
	c := mustStart(t, tr, kLocal, 10)
	if b.Probe || c.Probe {
		t.Error("a sub-second Retry-After opened the circuit; want only a cooldown")
	}
}

func TestTrackerThrottleBackoff(t *testing.T) {
	t.Parallel()
	tr, clk := newTracker(t, "eu-west-1")
	// Without Retry-After: 250ms·2^(n-1) with equal jitter, i.e. in [half, full].
	for n, full := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second} {
		a := mustStart(t, tr, kLocal, 1)
		tr.Observe(a, routing.Outcome{Kind: routing.Throttled})
		cd := state(t, tr, kLocal).CooldownUntil.Sub(clk.Now())
		if cd < full/2 || cd > full {
			t.Errorf("429 #%d: cooldown %v, want in [%v, %v]", n+1, cd, full/2, full)
		}
		clk.Advance(cd)
	}
}

func TestTrackerCircuit(t *testing.T) {
	t.Parallel()
	tr, clk := newTracker(t, "eu-west-1")
	// Three consecutive failures open the circuit (default threshold).
	for i, kind := range []routing.OutcomeKind{routing.ConnectError, routing.ServerError, routing.Timeout} {
		a := mustStart(t, tr, kLocal, 1)
		tr.Observe(a, routing.Outcome{Kind: kind})
		s := state(t, tr, kLocal)
		wantOpen := i == 2
		if (s.Circuit == routing.CircuitOpen) != wantOpen {
			t.Fatalf("after %d failures circuit = %s, want open=%v", i+1, s.Circuit, wantOpen)
		}
		clk.Set(s.CooldownUntil)
	}
	// After the cooldown: one probe, and only one.
	probe := mustStart(t, tr, kLocal, 1)
	if !probe.Probe {
		t.Fatalf("first Start after cooldown: Probe = false, want true")
	}
	if _, err := tr.Start(kLocal, 1); !errors.Is(err, routing.ErrUnavailable) {
		t.Fatalf("second Start while probing = %v, want ErrUnavailable", err)
	}
	s := state(t, tr, kLocal)
	if s.Circuit != routing.CircuitHalfOpen || !s.ProbeInFlight {
		t.Fatalf("state while probing = %s probe=%v, want half-open with probe", s.Circuit, s.ProbeInFlight)
	}
	var p routing.Plan
	in := &routing.Input{SourceRegion: "eu-west-1", Destinations: []string{"eu-west-1"}, States: []routing.State{s}, Authorized: all, Now: clk.Now()}
	if err := routing.Route(&p, in); !errors.Is(err, routing.ErrNoCandidate) || p.WhyExcluded("eu-west-1") != routing.ExcludedProbeInFlight {
		t.Fatalf("Route while probing = %v, %s; want probe-in-flight", err, p.WhyExcluded("eu-west-1"))
	}

	// A failed probe re-opens with a longer cooldown.
	tr.Observe(probe, routing.Outcome{Kind: routing.ConnectError})
	s = state(t, tr, kLocal)
	if s.Circuit != routing.CircuitOpen || s.ProbeInFlight {
		t.Fatalf("after failed probe: %s probe=%v, want open", s.Circuit, s.ProbeInFlight)
	}
	clk.Set(s.CooldownUntil)
	probe = mustStart(t, tr, kLocal, 1)
	tr.Observe(probe, routing.Outcome{Kind: routing.Success, TTFT: 100 * time.Millisecond})
	s = state(t, tr, kLocal)
	if s.Circuit != routing.CircuitClosed {
		t.Fatalf("after successful probe circuit = %s, want closed", s.Circuit)
	}
	// Ramp back: 10% at once, full after RampUp (10s).
	if s.Ramp < 0.1 || s.Ramp > 0.11 {
		t.Errorf("ramp right after closing = %v, want 0.1", s.Ramp)
	}
	clk.Advance(5 * time.Second)
	if r := state(t, tr, kLocal).Ramp; r < 0.5 || r > 0.6 {
		t.Errorf("ramp after 5s = %v, want 0.55", r)
	}
	clk.Advance(5 * time.Second)
	if r := state(t, tr, kLocal).Ramp; r != 1 {
		t.Errorf("ramp after 10s = %v, want 1", r)
	}
}

func TestTrackerSuccessResetsFailures(t *testing.T) {
	t.Parallel()
	tr, clk := newTracker(t, "eu-west-1")
	for range 5 {
		for _, k := range []routing.OutcomeKind{routing.ServerError, routing.ServerError, routing.Success} {
			a := mustStart(t, tr, kLocal, 1)
			tr.Observe(a, routing.Outcome{Kind: k, TTFT: 50 * time.Millisecond})
			clk.Set(state(t, tr, kLocal).CooldownUntil)
		}
	}
	if s := state(t, tr, kLocal); s.Circuit != routing.CircuitClosed {
		t.Errorf("circuit = %s after failures interleaved with successes, want closed", s.Circuit)
	}
}

func TestTrackerEWMAAndWindows(t *testing.T) {
	t.Parallel()
	tr, clk := newTracker(t, "eu-west-1")
	for _, ttft := range []time.Duration{100, 200, 200} {
		a := mustStart(t, tr, kLocal, 100)
		tr.Observe(a, routing.Outcome{Kind: routing.Success, TTFT: ttft * time.Millisecond})
	}
	a := mustStart(t, tr, kLocal, 100) // still in flight
	s := state(t, tr, kLocal)
	// 100 → 100+0.2·100 = 120 → 120+0.2·80 = 136.
	if s.TTFT != 136*time.Millisecond {
		t.Errorf("TTFT EWMA = %v, want 136ms", s.TTFT)
	}
	if s.InFlight != 1 || s.RPMRemaining != 6 || s.TPMRemaining != 600 {
		t.Errorf("in-flight/rpm/tpm = %d/%d/%d, want 1/6/600", s.InFlight, s.RPMRemaining, s.TPMRemaining)
	}
	tr.Observe(a, routing.Outcome{Kind: routing.Canceled})
	clk.Advance(61 * time.Second)
	s = state(t, tr, kLocal)
	if s.InFlight != 0 || s.RPMRemaining != 10 || s.TPMRemaining != 1000 {
		t.Errorf("a minute later in-flight/rpm/tpm = %d/%d/%d, want 0/10/1000", s.InFlight, s.RPMRemaining, s.TPMRemaining)
	}
	if s.ErrorRate != 0 {
		t.Errorf("error rate = %v after successes and a cancel, want 0", s.ErrorRate)
	}
}

// TestSnapshotExchange publishes a snapshot from one node, sends it as JSON,
// applies it on another with a skewed clock and checks what the receiver sees.
func TestSnapshotExchange(t *testing.T) {
	t.Parallel()
	sender, sclk := newTracker(t, "eu-central-1")
	a := mustStart(t, sender, kRemote, 500)
	_ = a
	sclk.Advance(time.Second)
	snap := sender.Snapshot()
	if len(snap.Deployments) != 1 || snap.Deployments[0].Region != "eu-central-1" {
		t.Fatalf("Snapshot() = %+v, want only the local deployment", snap)
	}
	wire, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	var got routing.Snapshot
	if err := json.Unmarshal(wire, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(snap, got); diff != "" {
		t.Fatalf("JSON round trip (-sent +received):\n%s", diff)
	}

	recv, rclk := newTracker(t, "eu-west-1")
	rclk.Advance(time.Hour) // clocks disagree by an hour; only ages matter
	if err := recv.Apply(got); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	s := state(t, recv, kRemote)
	if !s.ObservedAt.Equal(rclk.Now()) || s.InFlight != 1 || s.TPMRemaining != 1500 {
		t.Errorf("applied state observed %v in-flight %d tpm %d, want now/1/1500", s.ObservedAt, s.InFlight, s.TPMRemaining)
	}
	// Requests this node sends count until the next report.
	b := mustStart(t, recv, kRemote, 300)
	s = state(t, recv, kRemote)
	if s.InFlight != 2 || s.TPMRemaining != 1200 || s.RPMRemaining != 18 {
		t.Errorf("after own start: in-flight %d tpm %d rpm %d, want 2/1200/18", s.InFlight, s.TPMRemaining, s.RPMRemaining)
	}
	recv.Observe(b, routing.Outcome{Kind: routing.Success})
	// Stale after the staleness bound.
	rclk.Advance(4 * time.Second)
	s = state(t, recv, kRemote)
	if s.Fresh(rclk.Now(), routing.DefaultStaleness) {
		t.Errorf("state 4s after the report is fresh, want stale")
	}
}

func TestApplyRejects(t *testing.T) {
	t.Parallel()
	tr, _ := newTracker(t, "eu-west-1")
	tests := []struct {
		name string
		snap routing.Snapshot
	}{
		{"own region", routing.Snapshot{Region: "eu-west-1", SentAt: t0, Deployments: []routing.State{{Region: "eu-west-1", Model: "m", ObservedAt: t0}}}},
		{"speaks for another region", routing.Snapshot{Region: "eu-central-1", SentAt: t0, Deployments: []routing.State{{Region: "eu-west-1", Model: "m", ObservedAt: t0}}}},
		{"unknown deployment", routing.Snapshot{Region: "eu-central-1", SentAt: t0, Deployments: []routing.State{{Region: "eu-central-1", Model: "other", ObservedAt: t0}}}},
	}
	for _, tc := range tests {
		if err := tr.Apply(tc.snap); err == nil {
			t.Errorf("Apply(%s) = nil, want an error", tc.name)
		}
	}
	if s := state(t, tr, kLocal); s.InFlight != 0 || !s.ObservedAt.Equal(t0) {
		t.Errorf("a peer changed the local deployment: %+v", s)
	}
}

func TestTrackerConcurrent(t *testing.T) {
	t.Parallel()
	tr, clk := newTracker(t, "eu-west-1")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var dst []routing.State
			for i := range 500 {
				dst = tr.States(dst[:0], "m", []string{"eu-west-1", "eu-central-1"})
				k := kLocal
				if i%2 == 0 {
					k = kRemote
				}
				if a, err := tr.Start(k, 1); err == nil {
					tr.Observe(a, routing.Outcome{Kind: routing.OutcomeKind(i % 6), RetryAfter: time.Millisecond})
				}
				if g == 0 && i%50 == 0 {
					_ = tr.Apply(routing.Snapshot{Region: "eu-central-1", SentAt: clk.Now(), Deployments: []routing.State{{Region: "eu-central-1", Model: "m", ObservedAt: clk.Now()}}})
					_ = tr.Snapshot()
					clk.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	for _, k := range []routing.Key{kLocal, kRemote} {
		if s := state(t, tr, k); s.InFlight != 0 && k == kLocal {
			t.Errorf("%s in-flight = %d after all attempts ended, want 0", k, s.InFlight)
		}
	}
}

func TestNewTrackerErrors(t *testing.T) {
	t.Parallel()
	if _, err := routing.NewTracker(routing.TrackerConfig{}, nil); err == nil {
		t.Error("NewTracker(nil clock) = nil error")
	}
	dup := []routing.Deployment{{Key: kLocal}, {Key: kLocal}}
	if _, err := routing.NewTracker(routing.TrackerConfig{Deployments: dup}, fixedClock{t0}); err == nil {
		t.Error("NewTracker(duplicate deployment) = nil error")
	}
	tr, _ := newTracker(t, "eu-west-1")
	if _, err := tr.Start(routing.Key{Region: "x", Model: "y"}, 1); !errors.Is(err, routing.ErrUnknownDeployment) {
		t.Errorf("Start(unknown) = %v, want ErrUnknownDeployment", err)
	}
}

func ExampleRoute() {
	clk := fixedClock{t0}
	tr, _ := routing.NewTracker(routing.TrackerConfig{
		Region: "eu-west-1",
		Deployments: []routing.Deployment{
			{Key: routing.Key{Region: "eu-west-1", Model: "chat"}, MaxConcurrency: 2},
			{Key: routing.Key{Region: "eu-central-1", Model: "chat"}, MaxConcurrency: 8},
		},
	}, clk)
	// Peers report their deployments every second.
	_ = tr.Apply(routing.Snapshot{Region: "eu-central-1", SentAt: t0, Deployments: []routing.State{
		{Region: "eu-central-1", Model: "chat", MaxConcurrency: 8, InFlight: 1, ObservedAt: t0},
	}})
	// The source region is busy.
	a1, _ := tr.Start(routing.Key{Region: "eu-west-1", Model: "chat"}, 100)
	a2, _ := tr.Start(routing.Key{Region: "eu-west-1", Model: "chat"}, 100)
	defer tr.Observe(a1, routing.Outcome{Kind: routing.Success})
	defer tr.Observe(a2, routing.Outcome{Kind: routing.Success})

	cfg := routing.Config{}
	dests := []string{"eu-west-1", "eu-central-1"}
	in := routing.Input{
		SourceRegion:    "eu-west-1",
		Destinations:    dests,
		States:          tr.States(nil, "chat", dests),
		Authorized:      func(string) bool { return true },
		RTT:             routing.NewRTTMatrix(map[string]routing.Location{"eu-west-1": {Lat: 53.3, Lon: -6.3}, "eu-central-1": {Lat: 50.1, Lon: 8.7}}),
		EstimatedTokens: 100,
		Options:         cfg.Options("eu.chat"),
		Now:             clk.Now(),
	}
	var p routing.Plan
	if err := routing.Route(&p, &in); err != nil {
		fmt.Println(err)
	}
	for _, c := range p.Candidates() {
		fmt.Printf("try %s (%s) headroom=%.2f rtt=%v\n", c.Region, c.Reason, c.Headroom, c.RTT.Round(time.Millisecond))
	}
	fmt.Println("eu-west-1 excluded:", p.WhyExcluded("eu-west-1"))
	fmt.Println("us-east-1 excluded:", p.WhyExcluded("us-east-1"))
	// Output:
	// try eu-central-1 (headroom) headroom=0.88 rtt=17ms
	// eu-west-1 excluded: saturated
	// us-east-1 excluded: not-destination
}

// TestPeerCooldown: a cooldown a peer reports for its own deployment (its
// backend sent Retry-After) holds on this node too, rebased to this clock.
func TestPeerCooldown(t *testing.T) {
	t.Parallel()
	tr, clk := newTracker(t, "eu-west-1")
	peerNow := t0.Add(-time.Hour) // the peer's clock is an hour behind
	err := tr.Apply(routing.Snapshot{Region: "eu-central-1", SentAt: peerNow, Deployments: []routing.State{{
		Region: "eu-central-1", Model: "m", MaxConcurrency: 8, ObservedAt: peerNow, CooldownUntil: peerNow.Add(2 * time.Second),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	s := state(t, tr, kRemote)
	if !s.CooldownUntil.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("rebased cooldown = %v, want t0+2s", s.CooldownUntil)
	}
	if _, err := tr.Start(kRemote, 1); !errors.Is(err, routing.ErrUnavailable) {
		t.Errorf("Start during the peer's cooldown = %v, want ErrUnavailable", err)
	}
	clk.Advance(2 * time.Second)
	a := mustStart(t, tr, kRemote, 1)
	tr.Observe(a, routing.Outcome{Kind: routing.Success, TTFT: time.Millisecond})
}

func TestRouter(t *testing.T) {
	tr, clk := newTracker(t, "eu-west-1")
	cfg := routing.Config{Profiles: map[string]routing.ProfileConfig{"eu.m": {MaxAttempts: 2}}}
	r := &routing.Router{Config: cfg, Tracker: tr, RTT: rtts{"eu-central-1": 20 * time.Millisecond}}
	req := &routing.Request{SourceRegion: "eu-west-1", ProfileID: "eu.m", Model: "m",
		Destinations: []string{"eu-west-1", "eu-central-1"}, Authorized: all, EstimatedTokens: 10, Seed: 1}
	_ = tr.Apply(routing.Snapshot{Region: "eu-central-1", SentAt: clk.Now(), Deployments: []routing.State{{
		Region: "eu-central-1", Model: "m", MaxConcurrency: 8, ObservedAt: clk.Now()}}})
	var p routing.Plan
	opts, err := r.Plan(&p, req)
	if err != nil {
		t.Fatal(err)
	}
	if opts.MaxAttempts != 2 {
		t.Errorf("Options.MaxAttempts = %d, want the profile's 2", opts.MaxAttempts)
	}
	if got := regions(p.Candidates()); !equal(got, []string{"eu-west-1", "eu-central-1"}) || p.Candidates()[0].Reason != routing.ReasonLocal {
		t.Errorf("plan = %v, want eu-west-1 (local) then eu-central-1", p.Candidates())
	}
	// Fill the local deployment (max 4): the plan moves away.
	for range 4 {
		mustStart(t, tr, kLocal, 1)
	}
	if _, err := r.Plan(&p, req); err != nil || p.Candidates()[0].Region != "eu-central-1" || p.WhyExcluded("eu-west-1") != routing.ExcludedSaturated {
		t.Errorf("plan with a full source region = %v (%v), want eu-central-1 and eu-west-1 saturated", p.Candidates(), err)
	}
	if n := testing.AllocsPerRun(50, func() { _, _ = r.Plan(&p, req) }); n != 0 && !raceEnabled {
		t.Errorf("Router.Plan with a reused Plan: %v allocs, want 0", n)
	}
}

// TestRemoteInFlightEndsWithTheAttempt: a remote deployment's in-flight is
// the peer's report, less this node's attempts that ended since, plus its
// attempts begun since and still running; RPM counts every attempt started.
func TestRemoteInFlightEndsWithTheAttempt(t *testing.T) {
	t.Parallel()
	tr, clk := newTracker(t, "eu-west-1")
	remote := routing.Key{Region: "eu-central-1", Model: kLocal.Model}
	if err := tr.Apply(routing.Snapshot{Region: "eu-central-1", SentAt: clk.Now(), Deployments: []routing.State{
		{Region: "eu-central-1", Model: kLocal.Model, InFlight: 1, MaxConcurrency: 8, RPMLimit: 100, RPMRemaining: 50, ObservedAt: clk.Now()},
	}}); err != nil {
		t.Fatal(err)
	}
	var atts []routing.Attempt
	for i := 0; i < 5; i++ {
		atts = append(atts, mustStart(t, tr, remote, 1))
	}
	if s := state(t, tr, remote); s.InFlight != 6 || s.RPMRemaining != 45 {
		t.Fatalf("after 5 starts: in flight %d, RPM remaining %d; want 6 and 45", s.InFlight, s.RPMRemaining)
	}
	for _, a := range atts[:4] {
		tr.Observe(a, routing.Outcome{Kind: routing.Success, TTFT: time.Millisecond})
	}
	if s := state(t, tr, remote); s.InFlight != 2 || s.RPMRemaining != 45 {
		t.Errorf("after 4 ended: in flight %d, RPM remaining %d; want 2 and 45", s.InFlight, s.RPMRemaining)
	}
	// A new report includes the still-running attempt; ending it later must
	// not subtract it from the new report's count.
	if err := tr.Apply(routing.Snapshot{Region: "eu-central-1", SentAt: clk.Now(), Deployments: []routing.State{
		{Region: "eu-central-1", Model: kLocal.Model, InFlight: 2, MaxConcurrency: 8, ObservedAt: clk.Now()},
	}}); err != nil {
		t.Fatal(err)
	}
	// The report's 2 are this node's running attempt and one from another
	// node: when ours ends, only the other remains.
	if s := state(t, tr, remote); s.InFlight != 2 {
		t.Errorf("after the next report: in flight %d, want the report's 2", s.InFlight)
	}
	tr.Observe(atts[4], routing.Outcome{Kind: routing.Success, TTFT: time.Millisecond})
	if s := state(t, tr, remote); s.InFlight != 1 {
		t.Errorf("after our last attempt ended: in flight %d, want the other node's 1", s.InFlight)
	}
}

func TestTrackerCoolDownFromElsewhere(t *testing.T) {
	t.Parallel()
	tr, clk := newTracker(t, "eu-west-1")
	tr.CoolDown(kLocal, clk.Now().Add(2*time.Second), true)
	if _, err := tr.Start(kLocal, 1); !errors.Is(err, routing.ErrUnavailable) {
		t.Errorf("Start during a shared cooldown = %v, want ErrUnavailable", err)
	}
	tr.CoolDown(kLocal, clk.Now().Add(time.Second), false) // never shortens
	if st, _ := tr.State(kLocal); !st.Throttled {
		t.Error("a shorter cooldown from a failure replaced the later 429's cause")
	}
	clk.Advance(1500 * time.Millisecond)
	if _, err := tr.Start(kLocal, 1); !errors.Is(err, routing.ErrUnavailable) {
		t.Errorf("a later, shorter cooldown shortened the first: %v", err)
	}
	clk.Advance(time.Second)
	mustStart(t, tr, kLocal, 1)
}

// TestBurstOfFailuresIsOneIncident: attempts already in flight when a
// deployment starts failing are one incident. Fifty concurrent failures
// cool it down for the first back-off step, not for MaxBackoff; failures
// of later attempts (probes) escalate as before.
func TestBurstOfFailuresIsOneIncident(t *testing.T) {
	t.Parallel()
	tr, clk := newTracker(t, "eu-west-1")
	var atts []routing.Attempt
	for range 50 {
		atts = append(atts, mustStart(t, tr, kLocal, 1))
	}
	clk.Advance(10 * time.Millisecond)
	for _, a := range atts {
		tr.Observe(a, routing.Outcome{Kind: routing.Timeout})
	}
	cd := state(t, tr, kLocal).CooldownUntil.Sub(clk.Now())
	if cd <= 0 || cd > 250*time.Millisecond {
		t.Fatalf("after a burst of 50 concurrent failures: cooldown %v, want the first step (at most 250ms)", cd)
	}
	// The probe after it fails: the next step (at most 500ms).
	clk.Advance(cd)
	p := mustStart(t, tr, kLocal, 1)
	tr.Observe(p, routing.Outcome{Kind: routing.Timeout})
	if cd2 := state(t, tr, kLocal).CooldownUntil.Sub(clk.Now()); cd2 <= 0 || cd2 > 500*time.Millisecond {
		t.Errorf("after the failed probe: cooldown %v, want the second step (at most 500ms)", cd2)
	}
}
