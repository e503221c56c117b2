package audit

import (
	"context"
	"flag"
	"sync"
	"testing"
	"time"
)

var benchDir = flag.String("benchdir", "", "directory for benchmark logs (default: a temporary directory); use it to measure a particular disk")

// appender is what the gateway calls; noopSink is audit switched off.
type appender interface {
	Append(ctx context.Context, e *Event) error
}

type noopSink struct{}

func (noopSink) Append(context.Context, *Event) error { return nil }

var _ appender = (*Writer)(nil)

func benchRoot(b *testing.B) string {
	if *benchDir != "" {
		return *benchDir
	}
	return b.TempDir()
}

func openBench(b *testing.B, policy SyncPolicy) *Writer {
	b.Helper()
	w, err := Open(Config{Dir: benchRoot(b), Fsync: policy, QueueSize: 1 << 16}, "bench-"+string(policy), Options{})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkAppend reports events/s through one writer from concurrent
// requests (64 per CPU, as a busy gateway has), for each fsync policy and for
// a no-op sink.
func BenchmarkAppend(b *testing.B) {
	ev := testEvent(1)
	for _, tc := range []struct {
		name   string
		policy SyncPolicy // "" for the no-op sink
	}{{"noop", ""}, {"interval", SyncInterval}, {"always", SyncAlways}} {
		b.Run(tc.name, func(b *testing.B) {
			var sink appender = noopSink{}
			if tc.policy != "" {
				w := openBench(b, tc.policy)
				defer w.Close()
				sink = w
			}
			b.ReportAllocs()
			b.SetParallelism(64)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				e := *ev
				for pb.Next() {
					if err := sink.Append(context.Background(), &e); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkAuditCost runs the same request load (64 concurrent callers
// appending 256 events each) through a no-op sink and through writers with
// fsync interval and always, in the same run, and reports each writer's
// throughput as a ratio of the no-op baseline. The ratio bounds the
// throughput cost for a gateway only from above: here appending is the whole
// request, in the gateway it is a small part of it.
func BenchmarkAuditCost(b *testing.B) {
	const callers, each = 64, 256
	ev := testEvent(1)
	run := func(sink appender) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				e := *ev
				for range each {
					if err := sink.Append(context.Background(), &e); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	interval, always := openBench(b, SyncInterval), openBench(b, SyncAlways)
	defer interval.Close()
	defer always.Close()
	var tNoop, tInterval, tAlways time.Duration
	for b.Loop() {
		tNoop += run(noopSink{})
		tInterval += run(interval)
		tAlways += run(always)
	}
	events := float64(b.N * callers * each)
	b.ReportMetric(events/tNoop.Seconds(), "noop-events/s")
	b.ReportMetric(events/tInterval.Seconds(), "interval-events/s")
	b.ReportMetric(events/tAlways.Seconds(), "always-events/s")
	b.ReportMetric(float64(tInterval)/events, "interval-ns/event")
	b.ReportMetric(float64(tAlways)/events, "always-ns/event")
}
