package routing

import (
	"math"
	"time"
)

// DefaultServiceTime is the slot holding time [PredictWait] assumes for a
// deployment without a [State.ServiceTime] sample yet.
const DefaultServiceTime = 2 * time.Second

// maxPredictedWait is the horizon of [PredictWait]: a wait longer than this
// is hopeless for any budget.
const maxPredictedWait = 10 * time.Minute

// supply is when and how fast one destination is expected to take requests
// again: instant slots at start, then rate slots per nanosecond, at most
// limit in all.
type supply struct {
	start   float64 // ns from now
	instant float64
	rate    float64 // slots per ns
	limit   float64
}

func (s supply) slots(t float64) float64 {
	if t < s.start {
		return 0
	}
	return min(s.limit, s.instant+(t-s.start)*s.rate)
}

// PredictWait estimates how long a request planned into p from in would
// wait before some destination admits it, when ahead requests wait for the
// same destinations before it. ok is false when no destination is expected
// to take it within ten minutes (nothing authorized, every destination
// failing, or the request larger than every TPM window): waiting is then
// hopeless.
//
// The model (see docs/routing.md, "Admission that predicts the wait"): each
// destination frees capacity as a supply of slots over time:
//
//   - saturated: its in-flight requests end at in_flight/service_time
//     slots per unit of time (service_time is the EWMA of how long an
//     attempt holds its slot, [State.ServiceTime]);
//   - cooling down: nothing until the cooldown ends, then one slot and its
//     full rate (max_concurrency/service_time, else its RPM rate);
//   - circuit open, or its probe in flight: a single probe slot when the
//     cooldown ends (a probe's answer is only known later);
//   - RPM or TPM window used up: the window refills evenly, limit per
//     minute (TPM: in requests of this request's size);
//   - a candidate (only seen when a woken request re-plans): one slot now,
//     then its full rate.
//
// The wait is the first time the destinations together have supplied
// ahead+1 slots. PredictWait is pure and does not allocate.
func PredictWait(in *Input, p *Plan, ahead int) (wait time.Duration, ok bool) {
	var sup [maxSupply]supply
	n := 0
	for i := range p.entries {
		c := &p.entries[i]
		s := stateFor(in, -1, c.Region)
		x, has := supplyOf(in, s, c.Exclusion)
		if has && n < maxSupply {
			sup[n] = x
			n++
		}
	}
	need := float64(max(ahead, 0) + 1)
	total := func(t float64) float64 {
		var sum float64
		for _, s := range sup[:n] {
			sum += s.slots(t)
		}
		return sum
	}
	hi := float64(maxPredictedWait)
	if n == 0 || total(hi) < need {
		return 0, false
	}
	lo := 0.0
	if total(lo) >= need {
		return 0, true
	}
	// total is non-decreasing in t: bisect to 1ms.
	for hi-lo > float64(time.Millisecond) {
		mid := (lo + hi) / 2
		if total(mid) >= need {
			hi = mid
		} else {
			lo = mid
		}
	}
	return time.Duration(math.Ceil(hi)), true
}

// maxSupply bounds the destinations PredictWait considers.
const maxSupply = 32

// supplyOf models one destination's returning capacity; false when it
// will not take the request at all (not authorized, weight 0, no state).
func supplyOf(in *Input, s *State, x Exclusion) (supply, bool) {
	if s == nil {
		if x == Included {
			return supply{instant: 1, limit: math.Inf(1)}, true
		}
		return supply{}, false
	}
	svc := float64(s.ServiceTime)
	if svc <= 0 {
		svc = float64(DefaultServiceTime)
	}
	full := fullRate(s, svc)
	until := max(float64(s.CooldownUntil.Sub(in.Now)), 0)
	switch x {
	case Included:
		return supply{instant: 1, rate: full, limit: math.Inf(1)}, true
	case ExcludedSaturated:
		busy := max(s.InFlight, s.OwnInFlight, 1)
		return supply{rate: float64(busy) / svc, limit: math.Inf(1)}, true
	case ExcludedCooldown:
		return supply{start: until, instant: 1, rate: full, limit: math.Inf(1)}, true
	case ExcludedCircuitOpen:
		return supply{start: until, instant: 1, limit: 1}, true
	case ExcludedProbeInFlight:
		return supply{start: svc, instant: 1, limit: 1}, true
	case ExcludedRPM:
		return supply{rate: float64(s.RPMLimit) / float64(time.Minute), limit: math.Inf(1)}, true
	case ExcludedTPM:
		tokens := max(in.EstimatedTokens, 1)
		if tokens > s.TPMLimit {
			return supply{}, false // never fits this deployment
		}
		need := float64(tokens - max(s.TPMRemaining, 0))
		perNS := float64(s.TPMLimit) / float64(time.Minute)
		return supply{start: need / perNS, instant: 1, rate: perNS / float64(tokens), limit: math.Inf(1)}, true
	}
	return supply{}, false
}

// fullRate is the slots per nanosecond a deployment takes when nothing
// holds it back: its concurrency over the service time, else its RPM, else
// one per millisecond (no limit known).
func fullRate(s *State, svc float64) float64 {
	switch {
	case s.MaxConcurrency > 0:
		return float64(s.MaxConcurrency) / svc
	case s.RPMLimit > 0:
		return float64(s.RPMLimit) / float64(time.Minute)
	}
	return 1 / float64(time.Millisecond)
}

// PredictWait is [PredictWait] for a plan p just filled by [Router.Plan]
// for req.
func (r *Router) PredictWait(p *Plan, req *Request, ahead int) (time.Duration, bool) {
	if r.Tracker == nil {
		return 0, false
	}
	in := Input{
		SourceRegion:    req.SourceRegion,
		Destinations:    req.Destinations,
		States:          p.states,
		Authorized:      req.Authorized,
		EstimatedTokens: req.EstimatedTokens,
		Options:         r.Config.Options(req.ProfileID),
		Now:             r.Tracker.clock.Now(),
	}
	return PredictWait(&in, p, ahead)
}
