// Package routing chooses the destination region of an inference request and
// tracks the health of deployments. It performs no I/O.
//
// The package has three parts:
//
//   - [Route] is a pure function: given an [Input] (the profile's destination
//     set, the source region, a [State] per destination deployment, RTTs,
//     the caller's authorization, the request's estimated tokens, the
//     [Options] of the profile and a random source) it fills a [Plan]: the
//     ordered candidates to try, each with a [Reason], and every other
//     destination with the [Exclusion] that kept it out. It runs as a
//     pipeline of small steps: filter, score in [0,1], pick, record the reason.
//   - [Tracker] is the stateful part: per-deployment EWMAs, in-flight counts,
//     request and token windows, cooldowns and circuit breakers, fed by
//     [Tracker.Start] and [Tracker.Observe] and by load [Snapshot]s from peers.
//     It reads time only from an injected [Clock].
//   - Admission when every destination is saturated: [PredictWait] (pure)
//     estimates when capacity frees for a request with others waiting ahead
//     of it, [Standing] detects a standing queue (sustained overload), and
//     [Queue] bounds the waiting itself; [Plan.RetryAfter] says when
//     capacity is expected back when there is no prediction.
//
// Invariant 1 (residency) is enforced here: [Route] never returns a region
// outside [Input.Destinations], whatever the states, peers or weights say.
// Invariant 2: only regions for which [Input.Authorized] returns true are
// candidates.
//
// The package imports only the standard library, starts no goroutines and never
// reads the wall clock; the simulator (internal/sim) drives the same code with
// a simulated clock.
package routing
