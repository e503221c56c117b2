// Package telemetry owns Meridian's metrics, log attribute keys and request
// ids. Every node has its own Prometheus registry (the demo runs several
// nodes in one process), and metric labels come only from bounded sets
// (regions, profiles, statuses, reasons), never from request ids. The
// `profile` label holds the profiles and models the topology defines; an
// application profile created through the API is labelled
// "application:<what it copies>" ([ProfileLabel]), so callers cannot grow
// the label set. Subpackage otel adds the OpenTelemetry GenAI metrics and
// the traces, in the same registry.
package telemetry
