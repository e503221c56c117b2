package routing

import "time"

// filter returns the first exclusion that applies to a destination, or
// Included. Filters that protect invariants come first; those about capacity
// apply only to fresh state, because stale numbers are unknown, not zero.
func filter(in *Input, strategy Strategy, s *State, fresh bool, region string) Exclusion {
	if in.Authorized == nil || !in.Authorized(region) {
		return ExcludedUnauthorized
	}
	if x := capabilityFilter(in, region); x != Included {
		return x
	}
	if strategy == Weighted && len(in.Options.Weights) > 0 && in.Options.Weights[region] <= 0 {
		return ExcludedZeroWeight
	}
	if s == nil {
		return Included // unknown: ranked as stale
	}
	if x := circuitFilter(s, in.Now); x != Included {
		return x
	}
	if in.Now.Before(s.CooldownUntil) {
		return ExcludedCooldown
	}
	if !fresh {
		// Stale numbers are unknown, but this node's own attempts are
		// not: a deployment it alone already fills is saturated.
		if s.MaxConcurrency > 0 && s.OwnInFlight >= s.MaxConcurrency {
			return ExcludedSaturated
		}
		return Included
	}
	if s.MaxConcurrency > 0 && s.InFlight >= s.MaxConcurrency {
		return ExcludedSaturated
	}
	if s.RPMLimit > 0 && s.RPMRemaining < 1 {
		return ExcludedRPM
	}
	if s.TPMLimit > 0 && s.TPMRemaining < in.EstimatedTokens {
		return ExcludedTPM
	}
	return Included
}

// circuitFilter lets a closed circuit through, and an open or half-open one
// only as a single probe once its cooldown has passed.
func circuitFilter(s *State, now time.Time) Exclusion {
	switch s.Circuit {
	case CircuitOpen:
		if now.Before(s.CooldownUntil) {
			return ExcludedCircuitOpen
		}
		fallthrough
	case CircuitHalfOpen:
		if s.ProbeInFlight {
			return ExcludedProbeInFlight
		}
	}
	return Included
}

// probing reports whether trying s would be its half-open probe.
func probing(s *State, now time.Time) bool {
	return s.Circuit != CircuitClosed && !now.Before(s.CooldownUntil) && !s.ProbeInFlight
}

// recovery estimates when an excluded destination may take the request, or
// 0 if the exclusion is not temporary.
func recovery(in *Input, s *State, x Exclusion) time.Duration {
	var d time.Duration
	switch x {
	case ExcludedCircuitOpen, ExcludedCooldown:
		d = s.CooldownUntil.Sub(in.Now)
	case ExcludedProbeInFlight, ExcludedSaturated:
		// A slot frees when an attempt ends; the queue's Notify wakes
		// waiters sooner than this.
		d = time.Second
	case ExcludedRPM:
		// Without the window's shape, assume even use: one request frees
		// every minute/limit.
		d = time.Minute / time.Duration(s.RPMLimit)
	case ExcludedTPM:
		need := in.EstimatedTokens - max(s.TPMRemaining, 0)
		if need > s.TPMLimit {
			return 0 // never fits this deployment
		}
		d = time.Duration(float64(time.Minute) * float64(need) / float64(s.TPMLimit))
	default:
		return 0
	}
	return min(max(d, time.Second), time.Minute)
}
