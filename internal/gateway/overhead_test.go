package gateway

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// reportingExecutor is a peer node behind the link: its calls take the
// fake backend's time, and it reports the destination's own timing as the
// link's answer header would.
type reportingExecutor struct {
	b      *fakeBackend
	report *dispatch.Timing
}

func (e reportingExecutor) Complete(ctx context.Context, job *Job) (*inference.Response, error) {
	job.Reported = e.report
	return e.b.Complete(ctx, job.Request)
}

func (e reportingExecutor) Stream(ctx context.Context, job *Job) (inference.Stream, error) {
	job.Reported = e.report
	return e.b.Stream(ctx, job.Request)
}

// TestOverheadArithmetic: with a manual clock, the front end's 2 ms before
// the call, the backend (or forward) call's time and 1 ms after it (the
// quota's settlement) come out exactly as the overhead's parts, in the
// headers, the record and the histogram.
func TestOverheadArithmetic(t *testing.T) {
	t.Parallel()
	const (
		before = 2 * time.Millisecond
		call   = 50 * time.Millisecond
	)
	tests := []struct {
		name   string
		model  string
		stream bool
		report *dispatch.Timing
		want   Overhead
		// header and timing are the x-meridian-overhead-ms and
		// Server-Timing values.
		header, timing string
	}{
		{name: "local", model: "n", want: Overhead{Source: before + time.Millisecond, Upstream: call},
			header: "3.000", timing: "meridian-source;dur=3.000, upstream;dur=50.000"},
		{name: "local stream", model: "n", stream: true, want: Overhead{Source: before, Upstream: call},
			header: "2.000", timing: "meridian-source;dur=2.000, upstream;dur=50.000"},
		{name: "forwarded", model: "eu.r", report: &dispatch.Timing{Total: 38 * time.Millisecond, Upstream: 35500 * time.Microsecond},
			want:   Overhead{Source: before + time.Millisecond, Link: 12 * time.Millisecond, Destination: 2500 * time.Microsecond, Upstream: 35500 * time.Microsecond, Forwarded: true},
			header: "17.500", timing: "meridian-source;dur=3.000, link;dur=12.000, meridian-destination;dur=2.500, upstream;dur=35.500"},
		{name: "forwarded stream", model: "eu.r", stream: true, report: &dispatch.Timing{Total: 38 * time.Millisecond, Upstream: 35 * time.Millisecond},
			want:   Overhead{Source: before, Link: 12 * time.Millisecond, Destination: 3 * time.Millisecond, Upstream: 35 * time.Millisecond, Forwarded: true},
			header: "17.000", timing: "meridian-source;dur=2.000, link;dur=12.000, meridian-destination;dur=3.000, upstream;dur=35.000"},
		{name: "forwarded, no report", model: "eu.r", want: Overhead{Source: before + time.Millisecond, Forwarded: true, Unreported: true},
			timing: "meridian-source;dur=3.000"},
		{name: "report larger than the call", model: "eu.r", report: &dispatch.Timing{Total: time.Hour, Upstream: 2 * time.Hour},
			want:   Overhead{Source: before + time.Millisecond, Upstream: call, Forwarded: true},
			header: "3.000", timing: "meridian-source;dur=3.000, link;dur=0.000, meridian-destination;dur=0.000, upstream;dur=50.000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newPathHarness(t)
			h.g.link = fakeLink{exec: reportingExecutor{b: h.remote, report: tc.report}}
			complete := func(context.Context, *inference.Request) (*inference.Response, error) {
				h.clock.Advance(call)
				return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok")}, nil
			}
			stream := func(ctx context.Context, _ *inference.Request) (inference.Stream, error) {
				h.clock.Advance(call)
				return newFakeStream(ctx, false, streamEvents()...), nil
			}
			h.local.complete, h.remote.complete, h.local.stream, h.remote.stream = complete, complete, stream, stream
			h.quota.setBeforeSettle(func() { h.clock.Advance(time.Millisecond) })
			c := h.call("o", tc.model, tc.stream)
			c.Received = h.clock.Now()
			h.clock.Advance(before)
			out, err := h.g.Invoke(t.Context(), c)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if out.Route.Overhead == nil {
				t.Fatal("route has no overhead")
			}
			if diff := cmp.Diff(tc.want, *out.Route.Overhead); diff != "" {
				t.Errorf("overhead (-want +got):\n%s", diff)
			}
			hdr := http.Header{}
			out.Route.SetHeaders(hdr)
			if got := hdr.Get(dispatch.HeaderOverhead); got != tc.header {
				t.Errorf("%s = %q, want %q", dispatch.HeaderOverhead, got, tc.header)
			}
			if got := hdr.Get("Server-Timing"); got != tc.timing {
				t.Errorf("Server-Timing = %q, want %q", got, tc.timing)
			}
			if out.Stream != nil {
				out.Stream.Close()
			}
			rec := h.recorder.last(t)
			if rec.Overhead == nil || *rec.Overhead != tc.want {
				t.Errorf("record overhead = %+v, want %+v", rec.Overhead, tc.want)
			}
			n := 0
			if tc.want.Known() {
				n = 2 // total and source
			}
			if got := overheadSeries(t, h.g); got != n && !tc.want.Forwarded {
				t.Errorf("overhead histogram has %d series, want %d", got, n)
			}
			if tc.want.Forwarded && tc.want.Known() {
				if got := overheadSeries(t, h.g); got != 4 {
					t.Errorf("overhead histogram has %d series, want 4 (total, source, link, destination)", got)
				}
			}
		})
	}
}

// TestForwardedOverheadIsTheDestinations: the destination's outcome carries
// its own time (what the link reports to the source): its handling time,
// and of it, its backend call's.
func TestForwardedOverheadIsTheDestinations(t *testing.T) {
	t.Parallel()
	for _, stream := range []bool{false, true} {
		h := newPathHarness(t)
		h.local.complete = func(context.Context, *inference.Request) (*inference.Response, error) {
			h.clock.Advance(30 * time.Millisecond)
			return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok")}, nil
		}
		h.local.stream = func(ctx context.Context, _ *inference.Request) (inference.Stream, error) {
			h.clock.Advance(30 * time.Millisecond)
			return newFakeStream(ctx, false, streamEvents()...), nil
		}
		h.quota.setBeforeSettle(func() { h.clock.Advance(time.Millisecond) })
		job := &Job{RequestID: "fwd", Operation: OpChatCompletions, SourceRegion: "eu-central-1", DestinationRegion: "eu-west-1",
			ProfileID: "eu.m", Model: "m", Principal: h.principal, Request: &inference.Request{Model: "eu.m", Stream: stream,
				Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "hi")}}}
		out, err := h.g.ServeForwarded(t.Context(), job)
		if err != nil {
			t.Fatalf("stream=%v: ServeForwarded: %v", stream, err)
		}
		want := Overhead{Source: time.Millisecond, Upstream: 30 * time.Millisecond}
		if stream {
			want.Source = 0 // the quota settles when the stream ends
			out.Stream.Close()
		}
		if o := out.Route.Overhead; o == nil || *o != want {
			t.Errorf("stream=%v: destination overhead = %+v, want %+v", stream, o, want)
		}
		if rec := h.recorder.last(t); rec.Overhead == nil || *rec.Overhead != want {
			t.Errorf("stream=%v: destination record overhead = %+v, want %+v", stream, rec.Overhead, want)
		}
		if got := overheadSeries(t, h.g); got != 0 {
			t.Errorf("stream=%v: a destination observed %d overhead series, want 0 (the source observes its part)", stream, got)
		}
	}
}

// overheadSeries counts the overhead histogram's series that have
// observations.
func overheadSeries(t *testing.T, g *Gateway) int {
	t.Helper()
	fams, err := g.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fams {
		if f.GetName() != "meridian_overhead_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetHistogram().GetSampleCount() > 0 {
				n++
			}
		}
	}
	return n
}

// TestOverheadCountsFailedAttemptsAsTheSources: a failover's failed attempt
// (7 ms here, plus its quota release) is time Meridian held the request
// before the serving upstream answered: the source's part.
func TestOverheadCountsFailedAttemptsAsTheSources(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	report := &dispatch.Timing{Total: 38 * time.Millisecond, Upstream: 35 * time.Millisecond}
	h.g.link = fakeLink{exec: reportingExecutor{b: h.remote, report: report}}
	calls := 0
	complete := func(context.Context, *inference.Request) (*inference.Response, error) {
		calls++
		if calls == 1 {
			h.clock.Advance(7 * time.Millisecond)
			return nil, unavailable("first")
		}
		h.clock.Advance(50 * time.Millisecond)
		return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok")}, nil
	}
	h.local.complete, h.remote.complete = complete, complete
	h.quota.setBeforeSettle(func() { h.clock.Advance(time.Millisecond) })
	c := h.call("o", "eu.m", false)
	c.Received = h.clock.Now()
	h.clock.Advance(2 * time.Millisecond)
	out, err := h.g.Invoke(t.Context(), c)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if len(out.Route.Attempts) != 2 {
		t.Fatalf("attempts %+v, want a failover", out.Route.Attempts)
	}
	// 2 ms before, 7 ms failed attempt, 1 ms its release, 1 ms the
	// serving attempt's settlement.
	want := Overhead{Source: 11 * time.Millisecond, Upstream: 50 * time.Millisecond}
	if out.Route.InferenceRegion != "eu-west-1" {
		want = Overhead{Source: 11 * time.Millisecond, Link: 12 * time.Millisecond, Destination: 3 * time.Millisecond, Upstream: 35 * time.Millisecond, Forwarded: true}
	}
	if got := *out.Route.Overhead; got != want {
		t.Errorf("served in %s: overhead %+v, want %+v", out.Route.InferenceRegion, got, want)
	}
}
