package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
)

type zeroRTT struct{}

func (zeroRTT) RTT(string, string) time.Duration { return 0 }

// TestNoCandidateStatus: the error of a request no destination can take
// follows the cause. A destination that is only busy (saturated, RPM/TPM
// used up, its quota capacity taken, or cooling down, its circuit open or
// its probe taken after a 429) makes it a 429 with Retry-After;
// destinations that are down (the same after failures, a node that does
// not answer) or never usable make it a 503, with the Retry-After of the
// soonest cooldown's end.
func TestNoCandidateStatus(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	fresh := func(region string, f func(*routing.State)) routing.State {
		s := routing.State{Region: region, Model: "m", ObservedAt: now}
		if f != nil {
			f(&s)
		}
		return s
	}
	saturated := func(s *routing.State) { s.MaxConcurrency, s.InFlight = 2, 2 }
	rpm := func(s *routing.State) { s.RPMLimit, s.RPMRemaining = 60, 0 }
	probe := func(s *routing.State) { s.Circuit, s.ProbeInFlight = routing.CircuitHalfOpen, true }
	cooling := func(s *routing.State) { s.CooldownUntil = now.Add(3 * time.Second) }
	open := func(s *routing.State) { s.Circuit, s.CooldownUntil = routing.CircuitOpen, now.Add(20*time.Second) }
	throttled := func(f func(*routing.State)) func(*routing.State) {
		return func(s *routing.State) { f(s); s.Throttled = true }
	}
	for _, tc := range []struct {
		name       string
		states     []routing.State
		authorized func(string) bool
		skipped    map[string]string
		skipWait   time.Duration
		kind       inference.ErrorKind
		retryAfter time.Duration // 0: at least a second
		names      []string      // in the message
	}{
		{name: "saturated", states: []routing.State{fresh("a", saturated), fresh("b", saturated)},
			kind: inference.KindThrottled, names: []string{"a saturated", "b saturated", "at capacity"}},
		{name: "rpm used up", states: []routing.State{fresh("a", rpm)},
			kind: inference.KindThrottled, retryAfter: time.Second, names: []string{"a rpm-exhausted"}},
		{name: "probe taken after a 429", states: []routing.State{fresh("a", throttled(probe))},
			kind: inference.KindThrottled, names: []string{"a probe-in-flight after a 429"}},
		{name: "probe taken after failures", states: []routing.State{fresh("a", probe)},
			kind: inference.KindUnavailable, names: []string{"a probe-in-flight after failures", "unavailable"}},
		{name: "cooling down after a 429", states: []routing.State{fresh("a", throttled(cooling))},
			kind: inference.KindThrottled, retryAfter: 3 * time.Second, names: []string{"a cooldown after a 429"}},
		{name: "cooling down after failures", states: []routing.State{fresh("a", cooling)},
			kind: inference.KindUnavailable, retryAfter: 3 * time.Second, names: []string{"a cooldown after failures"}},
		{name: "circuit open after a 429", states: []routing.State{fresh("a", throttled(open)), fresh("b", throttled(open))},
			kind: inference.KindThrottled, retryAfter: 20 * time.Second, names: []string{"a circuit-open after a 429", "b circuit-open after a 429"}},
		{name: "circuit open after failures", states: []routing.State{fresh("a", open), fresh("b", open)},
			kind: inference.KindUnavailable, retryAfter: 20 * time.Second, names: []string{"a circuit-open after failures", "b circuit-open after failures", "unavailable"}},
		{name: "one throttled, one failing", states: []routing.State{fresh("a", open), fresh("b", throttled(cooling))},
			kind: inference.KindThrottled, retryAfter: 3 * time.Second, names: []string{"a circuit-open after failures", "b cooldown after a 429"}},
		{name: "quota capacity taken", states: []routing.State{fresh("a", nil)}, skipped: map[string]string{"a": skipAtCapacity},
			kind: inference.KindThrottled, names: []string{"a at-capacity"}},
		{name: "cooled down after a 429 since the plan", states: []routing.State{fresh("a", nil)}, skipped: map[string]string{"a": skipUnavailable}, skipWait: 4 * time.Second,
			kind: inference.KindThrottled, retryAfter: 4 * time.Second, names: []string{"a unavailable"}},
		{name: "cooled down after failures since the plan", states: []routing.State{fresh("a", nil)}, skipped: map[string]string{"a": skipFailing}, skipWait: 4 * time.Second,
			kind: inference.KindUnavailable, retryAfter: 4 * time.Second, names: []string{"a failing"}},
		{name: "every node down", states: []routing.State{fresh("a", nil), fresh("b", nil)}, skipped: map[string]string{"a": skipNodeDown, "b": skipNodeDown},
			kind: inference.KindUnavailable, retryAfter: time.Second, names: []string{"a node-down", "b node-down", "no region"}},
		{name: "one down, one busy", states: []routing.State{fresh("a", nil), fresh("b", saturated)}, skipped: map[string]string{"a": skipNodeDown},
			kind: inference.KindThrottled, names: []string{"a node-down", "b saturated"}},
		{name: "none authorized", states: []routing.State{fresh("a", nil)}, authorized: func(string) bool { return false },
			kind: inference.KindUnavailable, retryAfter: time.Second, names: []string{"no region"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dest []string
			for _, s := range tc.states {
				dest = append(dest, s.Region)
			}
			auth := tc.authorized
			if auth == nil {
				auth = func(string) bool { return true }
			}
			var plan routing.Plan
			routing.Route(&plan, &routing.Input{SourceRegion: "a", Destinations: dest, States: tc.states, Authorized: auth, RTT: zeroRTT{}, Now: now})
			e := noCandidate("eu.m", &plan, tc.skipped, tc.skipWait)
			if e.Kind != tc.kind {
				t.Errorf("kind %v (%s), want %v", e.Kind, e.Message, tc.kind)
			}
			if tc.retryAfter != 0 && e.RetryAfter != tc.retryAfter || e.RetryAfter < time.Second {
				t.Errorf("Retry-After %v, want %v (at least a second)", e.RetryAfter, tc.retryAfter)
			}
			for _, n := range tc.names {
				if !strings.Contains(e.Message, n) {
					t.Errorf("message %q lacks %q", e.Message, n)
				}
			}
		})
	}
}
