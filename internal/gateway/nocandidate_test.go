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
// used up, its probe taken, cooling down after a 429, its quota capacity
// taken) makes it a 429 with Retry-After; destinations that are down (a
// node that does not answer) or never usable make it a 503. An open
// circuit is a 429: a 429 with a Retry-After of a second or more opens one
// (internal/routing/tracker.go), and a plan does not say whether a 429 or
// failures opened it, so it is answered as the throttling it may be.
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
		{name: "probe taken", states: []routing.State{fresh("a", probe)},
			kind: inference.KindThrottled, names: []string{"a probe-in-flight"}},
		{name: "cooling down after a 429", states: []routing.State{fresh("a", cooling)},
			kind: inference.KindThrottled, retryAfter: 3 * time.Second, names: []string{"a cooldown"}},
		{name: "circuit open", states: []routing.State{fresh("a", open), fresh("b", open)},
			kind: inference.KindThrottled, retryAfter: 20 * time.Second, names: []string{"a circuit-open", "b circuit-open"}},
		{name: "quota capacity taken", states: []routing.State{fresh("a", nil)}, skipped: map[string]string{"a": skipAtCapacity},
			kind: inference.KindThrottled, names: []string{"a at-capacity"}},
		{name: "cooled down since the plan", states: []routing.State{fresh("a", nil)}, skipped: map[string]string{"a": skipUnavailable}, skipWait: 4 * time.Second,
			kind: inference.KindThrottled, retryAfter: 4 * time.Second, names: []string{"a unavailable"}},
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
