package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// StreamsReport is the memory-at-scale scenario: many slow streams open at
// once through one node. Memory figures are the whole process's (client,
// node and upstream share it), so they bound the node's from above; with
// GatewayProcess they are the gateway process's, the nodes' alone (the
// bare proxy idles there).
type StreamsReport struct {
	Streams int `json:"streams"`
	// GatewayProcess says the nodes ran in a process of their own, whose
	// figures these are (see [StreamsOptions.GatewayProcess]).
	GatewayProcess bool `json:"gateway_process,omitempty"`
	// Open is how many streams were open when RSS was sampled.
	Open   int `json:"open"`
	Errors int `json:"errors"`
	// FirstError describes one failed stream.
	FirstError       string `json:"first_error,omitempty"`
	BaselineRSSBytes int64  `json:"baseline_rss_bytes"`
	RSSBytes         int64  `json:"rss_bytes"`
	// DirectRSSBytes and DirectGoroutines are the same streams sent
	// straight to mockllm: the client's and upstream's share. RSSBytes
	// minus DirectRSSBytes approximates the node's share.
	DirectRSSBytes     int64 `json:"direct_rss_bytes"`
	DirectGoroutines   int   `json:"direct_goroutines"`
	HeapBytes          int64 `json:"heap_bytes"`
	BaselineGoroutines int   `json:"baseline_goroutines"`
	Goroutines         int   `json:"goroutines"`
	// GoroutinesAfter is the count once the streams ended and idle
	// keep-alive connections were closed.
	GoroutinesAfter int `json:"goroutines_after"`
	// StackBytes and HeapObjectBytes are the process's goroutine stacks
	// and live-or-unswept heap objects (runtime/metrics
	// /memory/classes/heap/stacks:bytes and
	// /memory/classes/heap/objects:bytes) with the local streams open; the
	// Direct and Baseline fields are the same with the streams sent
	// straight to mockllm and with none open. Where RSS says how much,
	// they say whether stacks (goroutines per stream, and how deep they
	// grew) or objects (buffers) take it.
	StackBytes              int64 `json:"stack_bytes,omitempty"`
	HeapObjectBytes         int64 `json:"heap_object_bytes,omitempty"`
	DirectStackBytes        int64 `json:"direct_stack_bytes,omitempty"`
	DirectHeapObjectBytes   int64 `json:"direct_heap_object_bytes,omitempty"`
	BaselineStackBytes      int64 `json:"baseline_stack_bytes,omitempty"`
	BaselineHeapObjectBytes int64 `json:"baseline_heap_object_bytes,omitempty"`
	// OpenSeconds is as in [Wave], for the local streams.
	OpenSeconds float64 `json:"open_seconds"`
	// Forwarded is the same streams sent to the source node for a
	// principal served only in the peer region: each crosses the mTLS
	// link, so both nodes hold it. Nil when not measured.
	Forwarded *Wave `json:"forwarded,omitempty"`
}

// Wave is one set of concurrent streams, sampled while all were open.
type Wave struct {
	// Open is how many streams were open when RSS was sampled.
	Open       int    `json:"open"`
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	RSSBytes   int64  `json:"rss_bytes"`
	HeapBytes  int64  `json:"heap_bytes"`
	Goroutines int    `json:"goroutines"`
	// StackBytes and HeapObjectBytes are as in [StreamsReport], for
	// these streams.
	StackBytes      int64 `json:"stack_bytes,omitempty"`
	HeapObjectBytes int64 `json:"heap_object_bytes,omitempty"`
	// OpenSeconds is how long after the first send every stream had its
	// first token (or the first had ended): when it nears a stream's
	// length, the path did not open the streams concurrently.
	OpenSeconds float64 `json:"open_seconds"`
	// GoroutinesAfter is the count once these streams ended and the
	// client's and the link's idle connections were closed (the link's
	// pool keeps up to 64 otherwise, a few goroutines each). A closed
	// connection's goroutines at the far end may take a moment to go, so
	// a few goroutines above the local figure are expected; a leak per
	// stream is not.
	GoroutinesAfter int `json:"goroutines_after"`
}

// ForwardedLeaked returns how many goroutines outlived the forwarded
// streams beyond what the local streams left, or 0 when not measured.
func (s *StreamsReport) ForwardedLeaked() int {
	if s.Forwarded == nil {
		return 0
	}
	return s.Forwarded.GoroutinesAfter - s.GoroutinesAfter
}

// linkIdleAllowance is how many goroutines the forwarded streams may leave
// behind: the link's idle connections, a few per connection and at most one
// connection per hundred streams. A leak per stream is far above it.
func linkIdleAllowance(streams int) int { return 8 + streams/25 }

// ForwardedRSSBytes approximates the two nodes' resident memory for the
// forwarded streams: the process's RSS with them flowing through both
// nodes, minus with them going straight to mockllm. Zero when the
// forwarded streams were not measured.
func (s *StreamsReport) ForwardedRSSBytes() int64 {
	if s.Forwarded == nil {
		return 0
	}
	return s.Forwarded.RSSBytes - s.DirectRSSBytes
}

// NodeRSSBytes approximates the node's own resident memory for the streams:
// the process's RSS with them flowing through the node, minus with them
// going straight to mockllm.
func (s *StreamsReport) NodeRSSBytes() int64 { return s.RSSBytes - s.DirectRSSBytes }

// Leaked returns how many goroutines outlived the streams.
func (s *StreamsReport) Leaked() int { return s.GoroutinesAfter - s.BaselineGoroutines }

// StreamsOptions configure [ConcurrentStreams].
type StreamsOptions struct {
	// Streams is how many streams run at once.
	Streams int
	// TTFT and TokensPerSecond pace the upstream; Tokens is each
	// completion's length. If zero: 200ms, 4/s and 20 (about 5s a stream).
	TTFT            time.Duration
	TokensPerSecond float64
	Tokens          int
	Progress        io.Writer
	// HeapProfile, if set, receives a pprof heap profile taken while every
	// local stream is open; ForwardedHeapProfile the same for the
	// forwarded streams.
	HeapProfile          io.Writer
	ForwardedHeapProfile io.Writer
	// Local skips the forwarded streams: only direct and through one node.
	Local bool
	// GatewayProcess, if not empty, runs the nodes in a process of their
	// own (see [ClusterOptions.GatewayProcess]): memory and goroutines are
	// then that process's, sampled through its control requests, while
	// the client and the paced upstream stay in this one.
	GatewayProcess []string
}

func concurrentStreams(ctx context.Context, n int, progress io.Writer, gateway []string) (*StreamsReport, error) {
	return ConcurrentStreams(ctx, StreamsOptions{Streams: n, Progress: progress, GatewayProcess: gateway})
}

// ConcurrentStreams opens opts.Streams slow streams through one node at
// once, samples memory and goroutines while they are all open, lets them
// finish, and counts the goroutines left once idle connections are closed.
func ConcurrentStreams(ctx context.Context, opts StreamsOptions) (*StreamsReport, error) {
	if opts.TTFT == 0 {
		opts.TTFT = 200 * time.Millisecond
	}
	if opts.TokensPerSecond == 0 {
		opts.TokensPerSecond = 4
	}
	if opts.Tokens == 0 {
		opts.Tokens = 20
	}
	up := mockllm.Config{TTFT: opts.TTFT, TokensPerSecond: opts.TokensPerSecond, CompletionTokens: opts.Tokens, Seed: 1}
	c, err := StartCluster(ctx, ClusterOptions{Upstream: up, Capacity: 2 * opts.Streams, GatewayProcess: opts.GatewayProcess})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	direct := newTarget(Direct, c.Upstream, "", opts.Streams, time.Minute)
	t := newTarget(MeridianLocal, c.Source, c.LocalKey, opts.Streams, time.Minute)
	fwd := newTarget(MeridianForwarded, c.Source, c.ForwardedKey, opts.Streams, time.Minute)
	defer direct.close()
	defer t.close()
	defer fwd.close()
	targets := []*Target{direct, t, fwd}
	if opts.Local {
		targets = targets[:2]
	}
	body := RequestBody(true, opts.Tokens)
	for _, x := range targets {
		if s := x.do(ctx, body, true, time.Now()); s.err != nil {
			return nil, fmt.Errorf("%s warm-up stream: %w", x.Name, s.err)
		}
	}
	quiesce := func() {
		for _, x := range targets {
			x.close()
		}
		c.closeIdleNodeConnections()
	}
	// What is sampled: the whole process, or the gateway process.
	gw := c.gateway != nil
	goroutines := runtime.NumGoroutine
	free := debug.FreeOSMemory
	sampler := &memSampler{sample: func() memSample { return localMemSample(false) }, heapProfile: func(w io.Writer) {
		pprof.Lookup("heap").WriteTo(w, 0)
	}}
	if gw {
		goroutines = func() int { return c.memory(false).Goroutines }
		free = func() { c.memory(true) }
		sampler.sample = func() memSample { return c.memory(false) }
		sampler.heapProfile = func(w io.Writer) {
			if r, err := c.gateway.call(gatewayRequest{Op: opHeapProfile}); err == nil {
				w.Write(r.Data)
			}
		}
	}
	quiesce()
	r := &StreamsReport{Streams: opts.Streams, GatewayProcess: gw}
	r.BaselineGoroutines = settle(ctx, 0, goroutines)
	free()
	base := sampler.sample()
	r.BaselineRSSBytes = base.RSS
	r.BaselineStackBytes, r.BaselineHeapObjectBytes = base.Stacks, base.Objects

	// The same streams without the node first: the client's and mockllm's
	// share, to subtract (with the gateway process, that process idle).
	w := wave(ctx, direct, body, opts.Streams, nil, sampler)
	r.DirectRSSBytes, r.DirectGoroutines = w.rss, w.goroutines
	r.DirectStackBytes, r.DirectHeapObjectBytes = w.stacks, w.objects
	quiesce()
	settle(ctx, r.BaselineGoroutines, goroutines)
	free()

	w = wave(ctx, t, body, opts.Streams, opts.HeapProfile, sampler)
	r.Open, r.RSSBytes, r.Goroutines, r.HeapBytes, r.Errors, r.FirstError = w.open, w.rss, w.goroutines, w.heap, w.errors, w.firstError
	if opts.Progress != nil {
		fmt.Fprintf(opts.Progress, "streams: %d open, RSS %s (without the node %s), goroutines %d\n", r.Open, mb(r.RSSBytes), mb(r.DirectRSSBytes), r.Goroutines)
	}
	r.OpenSeconds = w.openSeconds
	r.StackBytes, r.HeapObjectBytes = w.stacks, w.objects
	quiesce()
	r.GoroutinesAfter = settle(ctx, r.BaselineGoroutines, goroutines)
	if !opts.Local {
		free()
		w = wave(ctx, fwd, body, opts.Streams, opts.ForwardedHeapProfile, sampler)
		f := &Wave{Open: w.open, Errors: w.errors, FirstError: w.firstError, RSSBytes: w.rss, HeapBytes: w.heap, Goroutines: w.goroutines, OpenSeconds: w.openSeconds,
			StackBytes: w.stacks, HeapObjectBytes: w.objects}
		r.Forwarded = f
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "streams: %d forwarded open after %.1fs, RSS %s (without the nodes %s), goroutines %d\n", f.Open, f.OpenSeconds, mb(f.RSSBytes), mb(r.DirectRSSBytes), f.Goroutines)
		}
		quiesce()
		f.GoroutinesAfter = settle(ctx, r.GoroutinesAfter+linkIdleAllowance(opts.Streams), goroutines)
	}
	return r, ctx.Err()
}

type waveResult struct {
	open, goroutines, errors int
	rss, heap                int64
	stacks, objects          int64
	firstError               string
	openSeconds              float64
}

// memSampler samples the process whose memory a wave measures.
type memSampler struct {
	sample      func() memSample
	heapProfile func(io.Writer)
}

// localMemSample samples this process; free first returns freed memory to
// the OS (after a collection).
func localMemSample(free bool) memSample {
	if free {
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	stacks, objects := memClasses()
	return memSample{RSS: currentRSS(), Heap: int64(ms.HeapInuse), Stacks: stacks, Objects: objects, Goroutines: runtime.NumGoroutine()}
}

// wave runs n streams to t at once, samples memory and goroutines (of the
// process m samples) once all have their first token (or have ended), and
// returns when all have ended.
func wave(ctx context.Context, t *Target, body []byte, n int, heapProfile io.Writer, m *memSampler) waveResult {
	var r waveResult
	// A stream is settled once it has its first token or has ended
	// without one; the sample is taken when every stream is settled.
	var opened, closedAfterOpen, settled atomic.Int64
	allSettled := make(chan struct{})
	markSettled := func() {
		if settled.Add(1) == int64(n) {
			close(allSettled)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := time.Now()
	for range n {
		wg.Go(func() {
			s := t.doStream(ctx, body, func() {
				opened.Add(1)
				markSettled()
			})
			if s.ttft != 0 {
				closedAfterOpen.Add(1)
			} else {
				markSettled()
			}
			if s.err != nil {
				mu.Lock()
				r.errors++
				if r.firstError == "" {
					r.firstError = s.err.Error()
				}
				mu.Unlock()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-allSettled:
	case <-done:
	case <-ctx.Done():
	}
	r.openSeconds = time.Since(start).Seconds()
	r.open = int(opened.Load() - closedAfterOpen.Load())
	ms := m.sample()
	r.rss, r.goroutines, r.heap, r.stacks, r.objects = ms.RSS, ms.Goroutines, ms.Heap, ms.Stacks, ms.Objects
	if heapProfile != nil {
		m.heapProfile(heapProfile)
	}
	<-done
	return r
}

// The runtime/metrics memory classes that [memClasses] reads.
const (
	metricStacks  = "/memory/classes/heap/stacks:bytes"
	metricObjects = "/memory/classes/heap/objects:bytes"
)

// memClasses returns the process's goroutine stack bytes and heap object
// bytes (runtime/metrics), 0 for a class this runtime does not report.
func memClasses() (stacks, objects int64) {
	s := []metrics.Sample{{Name: metricStacks}, {Name: metricObjects}}
	metrics.Read(s)
	val := func(v metrics.Value) int64 {
		if v.Kind() != metrics.KindUint64 {
			return 0
		}
		return int64(v.Uint64())
	}
	return val(s[0].Value), val(s[1].Value)
}

// ForwardedStackBytes and ForwardedHeapObjectBytes are the forwarded
// streams' goroutine stacks and heap objects beyond the same streams sent
// straight to mockllm: the two nodes' share. Zero when not measured.
func (s *StreamsReport) ForwardedStackBytes() int64 {
	if s.Forwarded == nil || s.Forwarded.StackBytes == 0 {
		return 0
	}
	return s.Forwarded.StackBytes - s.DirectStackBytes
}

// ForwardedHeapObjectBytes: see [StreamsReport.ForwardedStackBytes].
func (s *StreamsReport) ForwardedHeapObjectBytes() int64 {
	if s.Forwarded == nil || s.Forwarded.HeapObjectBytes == 0 {
		return 0
	}
	return s.Forwarded.HeapObjectBytes - s.DirectHeapObjectBytes
}

// settle waits (up to 10s, a hang guard) for the goroutine count (as count
// reads it) to fall to want or below, and returns the last count. With
// want 0 it waits for the count to stop falling.
func settle(ctx context.Context, want int, count func() int) int {
	n := count()
	for range 200 {
		if ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
		m := count()
		if want > 0 && m <= want {
			return m
		}
		if want == 0 && m == n {
			return m
		}
		n = m
	}
	return n
}

// doStream sends a streaming request and calls first once its first event
// arrives, then reads it to the end.
func (t *Target) doStream(ctx context.Context, body []byte, first func()) sample {
	return t.doWith(ctx, body, true, time.Now(), first)
}
