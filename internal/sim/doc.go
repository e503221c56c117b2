// Package sim is Meridian's discrete-event simulator. It replays a scenario
// (regions, deployments with capacities and latency models, arrival
// processes per source region, timed outages and throttling) against a
// routing strategy and reports what clients would have seen: completions,
// throttling, failures, TTFT and end-to-end latency percentiles, cross-region
// share, added RTT and residency violations.
//
// Meridian's strategies run the same code as the gateway: each simulated
// node has a [routing.Tracker] fed by its own attempts and by peers' load
// snapshots, delivered every exchange interval after half an RTT, and plans
// with [routing.Route]; time comes from a simulated clock. Baselines
// (in-region-only, round-robin, random, oracle) choose by their own rules;
// the oracle reads the true state of every deployment at the instant of the
// decision, an upper bound no real router reaches.
//
// A run is deterministic for a seed: arrivals and token counts use random
// streams of their own, so every strategy sees the same requests.
// The package does no I/O besides reading a scenario from an [io.Reader] and
// writing a report to an [io.Writer].
package sim
