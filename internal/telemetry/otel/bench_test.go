package otel

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkRecord is the cost telemetry adds to every finished request:
// the GenAI metrics alone (tracing off), and with a sampled trace.
func BenchmarkRecord(b *testing.B) {
	b.Run("metrics", func(b *testing.B) {
		tel, err := New(Options{Region: "eu-west-1", Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		defer tel.Shutdown(context.Background())
		rec := served("source")
		b.ReportAllocs()
		for b.Loop() {
			tel.Record(context.Background(), rec)
		}
	})
	b.Run("metrics and spans", func(b *testing.B) {
		tel, _, _ := newTest(b, 1, false)
		rec := served("source")
		b.ReportAllocs()
		for b.Loop() {
			tel.Record(context.Background(), rec)
		}
	})
}
