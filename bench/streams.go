package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// StreamsReport is the memory-at-scale scenario: many slow streams open at
// once through one node. Memory figures are the whole process's (client,
// node and upstream share it), so they bound the node's from above.
type StreamsReport struct {
	Streams int `json:"streams"`
	// Open is how many streams were open when RSS was sampled.
	Open   int `json:"open"`
	Errors int `json:"errors"`
	// FirstError describes one failed stream.
	FirstError         string `json:"first_error,omitempty"`
	BaselineRSSBytes   int64  `json:"baseline_rss_bytes"`
	RSSBytes           int64  `json:"rss_bytes"`
	HeapBytes          int64  `json:"heap_bytes"`
	BaselineGoroutines int    `json:"baseline_goroutines"`
	Goroutines         int    `json:"goroutines"`
	// GoroutinesAfter is the count once the streams ended and idle
	// keep-alive connections were closed.
	GoroutinesAfter int `json:"goroutines_after"`
}

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
}

func concurrentStreams(ctx context.Context, n int, progress io.Writer) (*StreamsReport, error) {
	return ConcurrentStreams(ctx, StreamsOptions{Streams: n, Progress: progress})
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
	c, err := StartCluster(ctx, ClusterOptions{Upstream: up, Capacity: 2 * opts.Streams})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	t := newTarget(MeridianLocal, c.Source, c.LocalKey, opts.Streams, time.Minute)
	defer t.close()
	body := RequestBody(true, opts.Tokens)
	if s := t.do(ctx, body, true, time.Now()); s.err != nil {
		return nil, fmt.Errorf("warm-up stream: %w", s.err)
	}
	quiesce := func() {
		t.close()
		for _, nd := range c.Nodes {
			for _, b := range nd.Backends() {
				b.Close() // closes idle pooled connections only
			}
		}
	}
	quiesce()
	r := &StreamsReport{Streams: opts.Streams}
	r.BaselineGoroutines = settle(ctx, 0)
	runtime.GC()
	r.BaselineRSSBytes = currentRSS()

	var opened, finished atomic.Int64
	allOpen := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range opts.Streams {
		wg.Go(func() {
			s := t.doStream(ctx, body, func() {
				if opened.Add(1) == int64(opts.Streams) {
					once.Do(func() { close(allOpen) })
				}
			})
			finished.Add(1)
			if s.err != nil {
				mu.Lock()
				r.Errors++
				if r.FirstError == "" {
					r.FirstError = s.err.Error()
				}
				mu.Unlock()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-allOpen:
	case <-done:
	case <-ctx.Done():
	}
	r.Open = int(opened.Load() - finished.Load())
	r.RSSBytes = currentRSS()
	r.Goroutines = runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapBytes = int64(ms.HeapInuse)
	if opts.Progress != nil {
		fmt.Fprintf(opts.Progress, "streams: %d open, RSS %s, goroutines %d\n", r.Open, mb(r.RSSBytes), r.Goroutines)
	}
	<-done
	quiesce()
	r.GoroutinesAfter = settle(ctx, r.BaselineGoroutines)
	return r, ctx.Err()
}

// settle waits (up to 10s, a hang guard) for the goroutine count to fall to
// want or below, and returns the last count. With want 0 it waits for the
// count to stop falling.
func settle(ctx context.Context, want int) int {
	n := runtime.NumGoroutine()
	for range 200 {
		if ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
		m := runtime.NumGoroutine()
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
