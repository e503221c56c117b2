package routing

import (
	"fmt"
	"time"
)

// Key names a deployment: a model served in a region.
type Key struct {
	Region string `json:"region"`
	Model  string `json:"model"`
}

// String returns "region/model", the form topology uses.
func (k Key) String() string { return k.Region + "/" + k.Model }

// CircuitState is the state of a deployment's circuit breaker.
type CircuitState uint8

// Circuit states. The zero value is closed.
const (
	// CircuitClosed: traffic flows.
	CircuitClosed CircuitState = iota
	// CircuitOpen: repeated failures; no traffic until the cooldown passes,
	// then a single probe (the circuit is then half-open).
	CircuitOpen
	// CircuitHalfOpen: a probe is allowed or in flight; its outcome closes
	// or re-opens the circuit.
	CircuitHalfOpen
)

var circuitNames = [...]string{CircuitClosed: "closed", CircuitOpen: "open", CircuitHalfOpen: "half-open"}

// String returns "closed", "open" or "half-open".
func (c CircuitState) String() string {
	if int(c) < len(circuitNames) {
		return circuitNames[c]
	}
	return fmt.Sprintf("circuit(%d)", uint8(c))
}

// MarshalText implements [encoding.TextMarshaler].
func (c CircuitState) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (c *CircuitState) UnmarshalText(b []byte) error {
	for i, n := range circuitNames {
		if n == string(b) {
			*c = CircuitState(i)
			return nil
		}
	}
	return fmt.Errorf("unknown circuit state %q", b)
}

// State is what is known about one deployment at one moment: a row of a
// [Snapshot] sent between nodes and an entry of [Input.States].
//
// A zero limit (MaxConcurrency, RPMLimit, TPMLimit) means "no such limit";
// the matching Remaining field is then ignored. A zero ObservedAt means the
// state is unknown; so does an ObservedAt older than [Options.Staleness].
type State struct {
	Region string `json:"region"`
	Model  string `json:"model"`

	InFlight       int `json:"in_flight"`
	MaxConcurrency int `json:"max_concurrency,omitempty"`
	// OwnInFlight is how many of InFlight this node started itself: exact
	// even when the rest of the state is stale. Never sent to peers.
	OwnInFlight  int `json:"-"`
	QueueDepth   int `json:"queue_depth,omitempty"`
	RPMLimit     int `json:"rpm_limit,omitempty"`
	RPMRemaining int `json:"rpm_remaining"`
	TPMLimit     int `json:"tpm_limit,omitempty"`
	TPMRemaining int `json:"tpm_remaining"`

	// TTFT is the EWMA of time to first token at the deployment, without
	// inter-region RTT; zero means unknown.
	TTFT time.Duration `json:"ttft_ns"`
	// ServiceTime is the EWMA of how long a successful attempt holds its
	// slot at the deployment (first byte to last, plus the time before the
	// first byte), without RTT; zero means unknown. [PredictWait] derives
	// from it the rate at which a saturated deployment frees slots.
	ServiceTime time.Duration `json:"service_ns,omitempty"`
	// ErrorRate is the EWMA of the failure ratio, in [0,1].
	ErrorRate float64 `json:"error_rate"`

	Circuit CircuitState `json:"circuit"`
	// ProbeInFlight reports that a half-open probe is running.
	ProbeInFlight bool `json:"probe_in_flight,omitempty"`
	// CooldownUntil is when the deployment may be tried again; zero or past
	// means no cooldown.
	CooldownUntil time.Time `json:"cooldown_until,omitzero"`
	// Throttled reports that the deployment's last setback was throttling
	// (a 429, its own or one another replica shared) rather than a failure:
	// its cooldown and an open circuit mean "full, come back", not "down".
	// A caller no destination can take is told 429 then, 503 otherwise.
	Throttled bool `json:"throttled,omitempty"`
	// Ramp in [0,1] limits traffic to a deployment whose circuit recently
	// closed; 1 (or 0, meaning unset) is full traffic.
	Ramp float64 `json:"ramp,omitempty"`

	// ObservedAt is when the state was measured, in the receiving node's
	// clock ([Tracker.Apply] corrects for clock skew).
	ObservedAt time.Time `json:"observed_at,omitzero"`
}

// Headroom returns the scarcest fraction of free capacity across concurrency
// (counting queued requests), RPM and TPM, in [0,1]. A deployment with no
// limits has headroom 1. Ramp scales the result.
func (s *State) Headroom() float64 {
	h := 1.0
	if s.MaxConcurrency > 0 {
		h = min(h, 1-float64(s.InFlight+s.QueueDepth)/float64(s.MaxConcurrency))
	}
	if s.RPMLimit > 0 {
		h = min(h, float64(s.RPMRemaining)/float64(s.RPMLimit))
	}
	if s.TPMLimit > 0 {
		h = min(h, float64(s.TPMRemaining)/float64(s.TPMLimit))
	}
	if s.Ramp > 0 && s.Ramp < 1 {
		h *= s.Ramp
	}
	return clamp01(h)
}

// Fresh reports whether the state was observed no longer than staleness
// before now. A zero ObservedAt is never fresh; a zero staleness means
// [DefaultStaleness].
func (s *State) Fresh(now time.Time, staleness time.Duration) bool {
	if s.ObservedAt.IsZero() {
		return false
	}
	if staleness <= 0 {
		staleness = DefaultStaleness
	}
	return now.Sub(s.ObservedAt) <= staleness
}

func clamp01(x float64) float64 {
	if x < 0 || x != x { // x != x: NaN
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}
