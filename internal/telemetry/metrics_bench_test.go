package telemetry

import "testing"

// BenchmarkAttemptCounter is what meridian_attempts_total costs a request
// per destination called.
func BenchmarkAttemptCounter(b *testing.B) {
	m := NewMetrics("eu-west-1")
	b.ReportAllocs()
	for b.Loop() {
		m.Attempts.WithLabelValues("eu-west-1", "ok").Inc()
	}
}

// BenchmarkDurationObserve is the request latency observation, with its
// status class (a third label).
func BenchmarkDurationObserve(b *testing.B) {
	m := NewMetrics("eu-west-1")
	b.ReportAllocs()
	for b.Loop() {
		m.Duration.WithLabelValues("eu-west-1", "eu.demo.chat-small", StatusClass(200)).Observe(0.25)
	}
}
