package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one scenario's endpoint: where identical requests go and with
// which credentials.
type Target struct {
	Name   string
	URL    string // full chat completions URL
	APIKey string // empty: no Authorization header
	// Header is added to every request (peers' routing headers).
	Header http.Header
	// pid is another process serving this target, whose CPU counts.
	pid int
	// cpu, if set, reads the clock whose advance over a step is the
	// step's CPU (the gateway process's, see [Options.GatewayProcess]);
	// else this process's CPU plus pid's. rssPID is the process whose peak
	// resident set a step reports (0: this one).
	cpu    func() time.Duration
	rssPID int
	client *http.Client
}

// cpuNow reads the target's CPU clock (see [Target.cpu]).
func (t *Target) cpuNow() time.Duration {
	if t.cpu != nil {
		return t.cpu()
	}
	return cpuTime() + procCPU(t.pid)
}

// resetPeak and peak are [resetPeakRSS] and [peakRSS] of the process
// whose peak a step reports.
func (t *Target) resetPeak() { resetProcPeakRSS(t.rssPID) }

func (t *Target) peak() int64 {
	if t.rssPID > 0 {
		return procPeakRSS(t.rssPID)
	}
	return peakRSS()
}

// measureIn makes the target's steps measure process pid's CPU and peak
// resident set alone.
func (t *Target) measureIn(pid int) {
	t.cpu = func() time.Duration { return procCPU(pid) }
	t.rssPID = pid
}

func newTarget(name, base, key string, maxInFlight int, timeout time.Duration) *Target {
	return &Target{Name: name, URL: base + "/v1/chat/completions", APIKey: key,
		client: &http.Client{Transport: newTransport(maxInFlight), Timeout: timeout}}
}

// close releases the target's idle connections.
func (t *Target) close() { t.client.CloseIdleConnections() }

// sample is one request's outcome, measured from its intended send time.
type sample struct {
	latency time.Duration // until the whole response was read
	ttft    time.Duration // until the first content token (streams)
	err     error
}

var (
	errNoToken   = errors.New("stream ended without a content token")
	errNoDone    = errors.New("stream ended without [DONE]")
	errDropped   = errors.New("load generator at its in-flight cap")
	dataPrefix   = []byte("data: ")
	doneLine     = []byte("data: [DONE]")
	contentStart = []byte(`"content":"`)
)

// do sends body and reads the whole response; times are measured from
// intended (coordinated-omission correction: a late send counts as latency).
func (t *Target) do(ctx context.Context, body []byte, stream bool, intended time.Time) sample {
	return t.doWith(ctx, body, stream, intended, nil)
}

// doWith is do, calling onToken (if not nil) when a stream's first content
// token arrives.
func (t *Target) doWith(ctx context.Context, body []byte, stream bool, intended time.Time, onToken func()) sample {
	req, err := http.NewRequestWithContext(ctx, "POST", t.URL, bytes.NewReader(body))
	if err != nil {
		return sample{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if t.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+t.APIKey)
	}
	for k, v := range t.Header {
		req.Header[k] = v
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return sample{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return sample{err: fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))}
	}
	if !stream {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return sample{err: err}
		}
		d := time.Since(intended)
		return sample{latency: d, ttft: d}
	}
	var s sample
	sc := bufio.NewScanner(resp.Body)
	done := false
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, dataPrefix) {
			continue
		}
		if bytes.Equal(line, doneLine) {
			done = true
			continue
		}
		if s.ttft == 0 && hasContent(line) {
			s.ttft = time.Since(intended)
			if onToken != nil {
				onToken()
			}
		}
	}
	s.latency = time.Since(intended)
	switch {
	case sc.Err() != nil:
		s.err = sc.Err()
	case s.ttft == 0:
		s.err = errNoToken
	case !done:
		s.err = errNoDone
	}
	return s
}

// hasContent reports whether an SSE data line carries a non-empty content
// delta.
func hasContent(line []byte) bool {
	i := bytes.Index(line, contentStart)
	return i >= 0 && i+len(contentStart) < len(line) && line[i+len(contentStart)] != '"'
}

// sequential sends n requests one after the other.
func (t *Target) sequential(ctx context.Context, body []byte, stream bool, n int) []sample {
	out := make([]sample, 0, n)
	for range n {
		if ctx.Err() != nil {
			break
		}
		out = append(out, t.do(ctx, body, stream, time.Now()))
	}
	return out
}

// step is one open-loop run at a constant arrival rate.
type step struct {
	rate    float64
	samples []sample
	dropped int
	elapsed time.Duration // first intended send to last completion
	cpu     time.Duration // CPU time used (see [Target.cpu])
	peakRSS int64         // bytes; 0 when unknown
}

// openLoop sends requests at a constant arrival rate for d, each at its
// intended time regardless of how many are outstanding (up to maxInFlight;
// beyond that a request is dropped and counts as an error), then waits for
// all of them.
func (t *Target) openLoop(ctx context.Context, body []byte, stream bool, rate float64, d time.Duration, maxInFlight int) step {
	n := max(int(rate*d.Seconds()), 1)
	interval := time.Duration(float64(time.Second) / rate)
	st := step{rate: rate, samples: make([]sample, n)}
	var inFlight atomic.Int64
	var dropped atomic.Int64
	var wg sync.WaitGroup
	t.resetPeak()
	cpu0 := t.cpuNow()
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; {
		now := time.Now()
		// Launch every request whose intended time has come; the
		// generator never waits for responses (open loop).
		for ; i < n; i++ {
			intended := start.Add(time.Duration(i) * interval)
			if intended.After(now) {
				break
			}
			if inFlight.Add(1) > int64(maxInFlight) || dropped.Load() > int64(n/100) {
				// Past the cap, and for the rest of a step that already
				// dropped 1%, nothing more is sent: the step has failed,
				// and piling on would only slow the next measurements.
				inFlight.Add(-1)
				dropped.Add(1)
				st.samples[i] = sample{err: errDropped}
				continue
			}
			wg.Add(1)
			go func(i int, intended time.Time) {
				defer wg.Done()
				st.samples[i] = t.do(ctx, body, stream, intended)
				inFlight.Add(-1)
			}(i, intended)
		}
		if i < n {
			time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		}
	}
	wg.Wait()
	st.elapsed = time.Since(start)
	st.cpu = t.cpuNow() - cpu0
	st.peakRSS = t.peak()
	st.dropped = int(dropped.Load())
	return st
}
