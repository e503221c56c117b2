// Package telemetry owns Meridian's metrics, log attribute keys and request
// ids. Every node has its own Prometheus registry (the demo runs several
// nodes in one process), and metric labels come only from bounded sets
// (regions, profiles, statuses, reasons), never from request ids.
package telemetry
