package routing_test

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/routing"
)

// benchInput builds a plan input with n destinations, the source saturated so
// that every candidate is scored, a few in cooldown, one stale.
func benchInput(n int) *routing.Input {
	locs := map[string]routing.Location{}
	in := &routing.Input{
		SourceRegion:    "r00",
		Authorized:      func(r string) bool { return r != "r05" },
		EstimatedTokens: 1200,
		Options:         routing.Options{Strategy: routing.LocalityFirst},
		Now:             t0,
	}
	for i := range n {
		r := fmt.Sprintf("r%02d", i)
		locs[r] = routing.Location{Lat: float64(i * 3), Lon: float64(i * 7)}
		s := healthy(r)
		s.InFlight = i % 10
		if i == 0 {
			s.InFlight, s.QueueDepth = 9, 1 // busy: every candidate is scored
		}
		if i%7 == 3 {
			s.CooldownUntil = t0.Add(time.Second)
		}
		if i == 11 {
			s.ObservedAt = t0.Add(-time.Minute)
		}
		in.Destinations = append(in.Destinations, r)
		in.States = append(in.States, s)
	}
	in.RTT = routing.NewRTTMatrix(locs)
	return in
}

func BenchmarkRoute(b *testing.B) {
	for _, st := range routing.Strategies() {
		b.Run(st.String()+"/20", func(b *testing.B) {
			in := benchInput(20)
			in.Options.Strategy = st
			if st == routing.Weighted {
				in.Options.Weights = map[string]float64{"r01": 1, "r02": 2, "r03": 3, "r04": 1, "r06": 2, "r07": 1, "r08": 5}
			}
			in.Rand = rand.NewPCG(1, 2)
			var p routing.Plan
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if err := routing.Route(&p, in); err != nil {
					b.Fatal(err)
				}
			}
			// The machine is shared: CPU time per decision is steadier than
			// wall time when other processes compete for the cores.
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}

// BenchmarkRouteFreshPlan is the cost when the caller does not reuse a Plan.
func BenchmarkRouteFreshPlan(b *testing.B) {
	in := benchInput(20)
	in.Rand = rand.NewPCG(1, 2)
	b.ReportAllocs()
	for b.Loop() {
		var p routing.Plan
		_ = routing.Route(&p, in)
	}
}

// BenchmarkTrackerStates is the per-request cost of reading 20 states.
func BenchmarkTrackerStates(b *testing.B) {
	var deps []routing.Deployment
	var regions []string
	for i := range 20 {
		r := fmt.Sprintf("r%02d", i)
		regions = append(regions, r)
		deps = append(deps, routing.Deployment{Key: routing.Key{Region: r, Model: "m"}, MaxConcurrency: 10, RPM: 600, TPM: 100000})
	}
	tr, _ := routing.NewTracker(routing.TrackerConfig{Region: "r00", Deployments: deps}, fixedClock{t0})
	dst := make([]routing.State, 0, 20)
	b.ReportAllocs()
	for b.Loop() {
		dst = tr.States(dst[:0], "m", regions)
	}
}

// cpuTime returns the user plus system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// TestRouteNoAllocs holds the zero-allocation promise of a reused Plan.
func TestRouteNoAllocs(t *testing.T) {
	for _, st := range routing.Strategies() {
		in := benchInput(20)
		in.Options.Strategy = st
		in.Rand = rand.NewPCG(1, 2)
		var p routing.Plan
		_ = routing.Route(&p, in)
		if n := testing.AllocsPerRun(100, func() { _ = routing.Route(&p, in) }); n != 0 {
			t.Errorf("Route(%s) with a reused Plan: %v allocs, want 0", st, n)
		}
		in.Rand = nil
		if n := testing.AllocsPerRun(100, func() { in.Seed++; _ = routing.Route(&p, in) }); n != 0 {
			t.Errorf("Route(%s) with Seed: %v allocs, want 0", st, n)
		}
	}
}

// BenchmarkRouterPlan is the gateway's per-request cost with 20 destinations:
// reading the tracker's states and planning.
func BenchmarkRouterPlan(b *testing.B) {
	var deps []routing.Deployment
	var regions []string
	locs := map[string]routing.Location{}
	for i := range 20 {
		r := fmt.Sprintf("r%02d", i)
		regions = append(regions, r)
		locs[r] = routing.Location{Lat: float64(i * 3), Lon: float64(i * 7)}
		deps = append(deps, routing.Deployment{Key: routing.Key{Region: r, Model: "m"}, MaxConcurrency: 10, RPM: 600, TPM: 100000})
	}
	clk := fixedClock{t0}
	tr, _ := routing.NewTracker(routing.TrackerConfig{Region: "r00", Deployments: deps}, clk)
	for _, r := range regions[1:] {
		_ = tr.Apply(routing.Snapshot{Region: r, SentAt: t0, Deployments: []routing.State{{
			Region: r, Model: "m", MaxConcurrency: 10, InFlight: len(r) % 7, RPMLimit: 600, RPMRemaining: 500,
			TPMLimit: 100000, TPMRemaining: 90000, TTFT: 300 * time.Millisecond, ObservedAt: t0}}})
	}
	for range 9 {
		_, _ = tr.Start(routing.Key{Region: "r00", Model: "m"}, 100) // busy source
	}
	rt := &routing.Router{Tracker: tr, RTT: routing.NewRTTMatrix(locs)}
	req := &routing.Request{SourceRegion: "r00", ProfileID: "p", Model: "m", Destinations: regions, Authorized: all, EstimatedTokens: 1200}
	var p routing.Plan
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		req.Seed++
		if _, err := rt.Plan(&p, req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}
