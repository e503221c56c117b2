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

// requestContext is a context shaped like a request's when the gateway
// hands it to its observers: values set along the handler chain, detached
// from the request's cancellation.
func requestContext() context.Context {
	type key int
	ctx := context.Background()
	for i := range 12 {
		ctx = context.WithValue(ctx, key(i), i)
	}
	return context.WithoutCancel(ctx)
}

// BenchmarkRecordRequestContext is BenchmarkRecord/metrics with a request's
// context, as the gateway calls it.
func BenchmarkRecordRequestContext(b *testing.B) {
	tel, err := New(Options{Region: "eu-west-1", Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	rec, ctx := served("source"), requestContext()
	b.ReportAllocs()
	for b.Loop() {
		tel.Record(ctx, rec)
	}
}

// TestRecordMetricsAllocs: recording a finished request's metrics (tracing
// off) allocates nothing once its series is known, whatever context the
// gateway passes.
func TestRecordMetricsAllocs(t *testing.T) {
	tel, err := New(Options{Region: "eu-west-1", Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	rec, ctx := served("source"), requestContext()
	rec.Operation = "ChatCompletions" // capitals, as front ends name them
	tel.Record(ctx, rec)
	if n := testing.AllocsPerRun(100, func() { tel.Record(ctx, rec) }); n != 0 {
		t.Errorf("Record allocates %v times per request, want 0", n)
	}
}
