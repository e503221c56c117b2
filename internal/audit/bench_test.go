package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
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
// a no-op sink, and the average number of events per group commit.
func BenchmarkAppend(b *testing.B) {
	ev := testEvent(1)
	for _, tc := range []struct {
		name   string
		policy SyncPolicy // "" for the no-op sink
	}{{"noop", ""}, {"interval", SyncInterval}, {"always", SyncAlways}} {
		b.Run(tc.name, func(b *testing.B) {
			var sink appender = noopSink{}
			var w *Writer
			if tc.policy != "" {
				w = openBench(b, tc.policy)
				sink = w
			}
			b.ReportAllocs()
			b.SetParallelism(64)
			cpu0 := cpuTime()
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
			// CPU time (user+system, all threads) per event does not depend
			// on what else the machine runs, unlike events/s.
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N)/1e3, "cpu-µs/event")
			if w != nil {
				b.StopTimer()
				w.Close()
				b.ReportMetric(float64(b.N)/float64(max(w.Stats().Commits, 1)), "events/commit")
			}
		})
	}
}

// BenchmarkAuditCost runs the same request load through a no-op sink and
// through writers with fsync interval and always, in the same run. Each of
// 64 concurrent callers makes 128 requests; a request is a real HTTP round
// trip to a local server that decodes a chat request and encodes a
// response (a lower bound on a gateway's own per-request work, which also
// authenticates, routes and calls a backend), then Append. It reports
// requests/s per sink, each writer's throughput relative to the no-op
// baseline (the audit's throughput cost is 1 minus that ratio), and the
// p50/p99 latency of Append itself. (Process CPU per request is not reported
// here: the scheduler spins more when nothing blocks, which makes the no-op
// run look more expensive than it is; BenchmarkAppend's cpu-µs/event is the
// audit's own CPU cost.)
func BenchmarkAuditCost(b *testing.B) {
	const callers, each = 64, 128
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion", "model": req["model"],
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": strings.Repeat("token ", 40)}}},
			"usage":   map[string]any{"prompt_tokens": 12, "completion_tokens": 40},
		})
	}))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: callers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	body := []byte(`{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"hello"}]}`)
	ev := testEvent(1)
	interval, always := openBench(b, SyncInterval), openBench(b, SyncAlways)
	defer interval.Close()
	defer always.Close()
	run := func(sink appender, lat []time.Duration) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for c := range callers {
			wg.Go(func() {
				for i := range each {
					resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					e := *ev
					t0 := time.Now()
					if err := sink.Append(context.Background(), &e); err != nil {
						b.Error(err)
						return
					}
					lat[c*each+i] = time.Since(t0)
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	run(noopSink{}, make([]time.Duration, callers*each)) // warm up connections
	var tNoop, tInterval, tAlways time.Duration
	lat := make([]time.Duration, callers*each)
	var allInterval, allAlways []time.Duration
	sinks := []appender{noopSink{}, interval, always}
	for n := 0; b.Loop(); n++ {
		// Rotate the order and collect garbage before each run, so that no
		// sink pays for another's garbage or always runs on a warmer cache.
		for k := range sinks {
			sink := sinks[(n+k)%len(sinks)]
			runtime.GC()
			d := run(sink, lat)
			switch sink {
			case appender(noopSink{}):
				tNoop += d
			case appender(interval):
				tInterval += d
				allInterval = append(allInterval, lat...)
			case appender(always):
				tAlways += d
				allAlways = append(allAlways, lat...)
			}
		}
	}
	reqs := float64(b.N * callers * each)
	b.ReportMetric(reqs/tNoop.Seconds(), "off-req/s")
	b.ReportMetric(reqs/tInterval.Seconds(), "interval-req/s")
	b.ReportMetric(reqs/tAlways.Seconds(), "always-req/s")
	b.ReportMetric(tNoop.Seconds()/tInterval.Seconds(), "interval/off")
	b.ReportMetric(tNoop.Seconds()/tAlways.Seconds(), "always/off")
	pct := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[int(p*float64(len(d)-1))]) / 1e3
	}
	b.ReportMetric(pct(allInterval, 0.50), "interval-p50-µs")
	b.ReportMetric(pct(allInterval, 0.99), "interval-p99-µs")
	b.ReportMetric(pct(allAlways, 0.50), "always-p50-µs")
	b.ReportMetric(pct(allAlways, 0.99), "always-p99-µs")
}

// BenchmarkVerify reports events/s that Verify checks (hash, link, digest
// coverage) on a log of 20,000 events in several files.
func BenchmarkVerify(b *testing.B) {
	w, err := Open(Config{Dir: b.TempDir(), RotateBytes: 4 << 20}, testRegion, Options{})
	if err != nil {
		b.Fatal(err)
	}
	const n = 20000
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range n / 8 {
				if err := w.Append(context.Background(), testEvent(g*n+i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rep, err := Verify(w.Dir(), w.PublicKey())
		if err != nil || rep.Events != n {
			b.Fatalf("Verify = %v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkStreamEvent reports what a stream's journaled intent costs: a
// stream's Begin and Append against an Append alone, from concurrent
// requests under SyncInterval, as a ratio measured in the same run.
func BenchmarkStreamEvent(b *testing.B) {
	run := func(b *testing.B, begin bool) float64 {
		fsys := &countFS{}
		w, err := Open(Config{Dir: benchRoot(b), Fsync: SyncInterval, QueueSize: 1 << 16}, "bench-stream", Options{FS: fsys})
		if err != nil {
			b.Fatal(err)
		}
		defer func() {
			// write(2)s per request to the log and the journal, as a
			// rewrite's temporary file does not count.
			logs, journal := 0, 0
			fsys.mu.Lock()
			for name, n := range fsys.writes {
				switch {
				case name == journalName:
					journal += n
				case strings.HasPrefix(name, "audit-"):
					logs += n
				}
			}
			fsys.mu.Unlock()
			b.ReportMetric(float64(logs)/float64(b.N), "log-writes/request")
			b.ReportMetric(float64(journal)/float64(b.N), "journal-writes/request")
			w.Close()
		}()
		var n sync.Mutex
		i := 0
		b.ReportAllocs()
		b.ResetTimer()
		b.SetParallelism(64)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n.Lock()
				i++
				e := testEvent(i)
				n.Unlock()
				if begin {
					if err := w.Begin(context.Background(), e); err != nil {
						b.Error(err)
						return
					}
				}
				if err := w.Append(context.Background(), e); err != nil {
					b.Error(err)
					return
				}
			}
		})
		return float64(b.N) / b.Elapsed().Seconds()
	}
	var plain float64
	b.Run("append", func(b *testing.B) {
		plain = run(b, false)
		b.ReportMetric(plain, "requests/s")
	})
	b.Run("begin+append", func(b *testing.B) {
		r := run(b, true)
		b.ReportMetric(r, "requests/s")
		if plain > 0 {
			b.ReportMetric(r/plain, "ratio")
		}
	})
}

// BenchmarkMarshalEvent reports what encoding an event costs on the
// caller's goroutine (appendUnsealed into a reused buffer, as Append does
// with a pooled item).
func BenchmarkMarshalEvent(b *testing.B) {
	ev := testEvent(1)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		c := *ev
		buf = appendUnsealed(buf[:0], &c)
	}
}
