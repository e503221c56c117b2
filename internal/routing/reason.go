package routing

import "fmt"

// Reason says why a candidate is in a [Plan] at its position. Its String is
// the short form used in the x-meridian-route header, logs and metrics.
type Reason uint8

// Reasons.
const (
	// ReasonNone is the zero value; excluded entries carry it.
	ReasonNone Reason = iota
	// ReasonLocal: the source region, kept because it has headroom.
	ReasonLocal
	// ReasonHeadroom: chosen by the locality-first score (headroom, expected
	// TTFT, error rate) after the source region ran short.
	ReasonHeadroom
	// ReasonLeastLoaded: ordered by headroom.
	ReasonLeastLoaded
	// ReasonLatency: ordered by expected TTFT.
	ReasonLatency
	// ReasonWeighted: drawn in proportion to the profile's weights.
	ReasonWeighted
	// ReasonProbe: the single half-open probe of a deployment whose circuit
	// was open.
	ReasonProbe
	// ReasonStale: the destination's state is unknown or older than the
	// staleness bound; ranked below every fresh candidate.
	ReasonStale
)

var reasonNames = [...]string{
	ReasonNone:        "",
	ReasonLocal:       "local",
	ReasonHeadroom:    "headroom",
	ReasonLeastLoaded: "least-loaded",
	ReasonLatency:     "latency",
	ReasonWeighted:    "weighted",
	ReasonProbe:       "probe",
	ReasonStale:       "stale",
}

// String returns the reason's short name, e.g. "headroom".
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// MarshalText implements [encoding.TextMarshaler], for JSON logs and audit
// events.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Exclusion says why a destination is not a candidate of a [Plan].
type Exclusion uint8

// Exclusions, in the order the filters apply them: the first that matches is
// recorded.
const (
	// Included is the zero value: the destination is a candidate.
	Included Exclusion = iota
	// ExcludedNotDestination: the region is not in the profile's destination
	// set (invariant 1). [Plan.WhyExcluded] returns it for any region the
	// plan does not list.
	ExcludedNotDestination
	// ExcludedUnauthorized: the caller may not invoke the model there
	// (invariant 2).
	ExcludedUnauthorized
	// ExcludedZeroWeight: the weighted strategy gives the region weight 0.
	ExcludedZeroWeight
	// ExcludedCircuitOpen: the deployment's circuit is open and its cooldown
	// has not passed.
	ExcludedCircuitOpen
	// ExcludedProbeInFlight: the circuit is half-open and another request
	// holds the single probe.
	ExcludedProbeInFlight
	// ExcludedCooldown: the deployment is cooling down after a failure or a
	// 429 (Retry-After).
	ExcludedCooldown
	// ExcludedSaturated: the deployment runs its max_concurrency of requests
	// already (fresh state only); it would answer 429. Requests queued in
	// the gateway do not count, so that they can take the next free slot.
	ExcludedSaturated
	// ExcludedRPM: the deployment has no requests left in its per-minute
	// window (fresh state only).
	ExcludedRPM
	// ExcludedTPM: the request needs more tokens than the deployment has
	// left this minute (fresh state only).
	ExcludedTPM
	// ExcludedIncapable: the deployment lacks a capability the request
	// uses (tools, vision, ...). It applies right after
	// ExcludedUnauthorized; it is last only to keep the values stable.
	ExcludedIncapable
)

var exclusionNames = [...]string{
	Included:               "",
	ExcludedNotDestination: "not-destination",
	ExcludedUnauthorized:   "unauthorized",
	ExcludedZeroWeight:     "zero-weight",
	ExcludedCircuitOpen:    "circuit-open",
	ExcludedProbeInFlight:  "probe-in-flight",
	ExcludedCooldown:       "cooldown",
	ExcludedSaturated:      "saturated",
	ExcludedRPM:            "rpm-exhausted",
	ExcludedTPM:            "tpm-exhausted",
	ExcludedIncapable:      "lacks-capability",
}

// String returns the exclusion's short name, e.g. "cooldown"; Included is "".
func (e Exclusion) String() string {
	if int(e) < len(exclusionNames) {
		return exclusionNames[e]
	}
	return fmt.Sprintf("exclusion(%d)", uint8(e))
}

// MarshalText implements [encoding.TextMarshaler].
func (e Exclusion) MarshalText() ([]byte, error) { return []byte(e.String()), nil }
