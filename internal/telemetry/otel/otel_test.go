package otel

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/topology"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// newTest returns a tracing Telemetry whose spans land in the returned
// exporter, and its registry.
func newTest(t testing.TB, ratio float64, recordContent bool) (*Telemetry, *tracetest.InMemoryExporter, *prometheus.Registry) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	reg := prometheus.NewRegistry()
	tel, err := New(Options{Region: "eu-west-1", Registerer: reg, SpanExporter: exp, Clock: clock.NewManual(t0),
		Config: topology.Telemetry{Traces: topology.Traces{Enabled: true, SampleRatio: &ratio, RecordContent: recordContent}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	return tel, exp, reg
}

// arrive runs a request with the given headers through Handler and
// returns the context the handler saw.
func arrive(t *testing.T, tel *Telemetry, traceparent string) context.Context {
	t.Helper()
	var ctx context.Context
	h := tel.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { ctx = r.Context() }))
	req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	h.ServeHTTP(httptest.NewRecorder(), req)
	return ctx
}

func served(side string) *gateway.Record {
	return &gateway.Record{RequestID: "req-1", Operation: gateway.OpChatCompletions, Side: side, SourceRegion: "eu-west-1",
		InferenceRegion: "eu-west-1", ProfileID: "eu.demo.chat-small", Model: "demo.chat-small", Route: "local", Status: 200,
		Usage: inference.Usage{InputTokens: 10, OutputTokens: 5}, Started: t0, Latency: 300 * time.Millisecond, TTFT: 100 * time.Millisecond,
		Allowed: true, Stream: true}
}

const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"

// TestSampling: a caller's traceparent decides by its sampled flag
// (parent-based); without one, the ratio decides; a malformed one starts
// a trace of its own.
func TestSampling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		ratio       float64
		traceparent string
		sampled     bool
		sameTrace   bool
	}{
		{"sampled caller, ratio 0", 0, "00-" + callerTrace + "-00f067aa0ba902b7-01", true, true},
		{"unsampled caller, ratio 1", 1, "00-" + callerTrace + "-00f067aa0ba902b7-00", false, true},
		{"no caller, ratio 1", 1, "", true, false},
		{"no caller, ratio 0", 0, "", false, false},
		{"malformed traceparent", 1, "00-" + strings.ToUpper(callerTrace) + "-00f067aa0ba902b7-01", true, false},
		{"zero trace id", 1, "00-00000000000000000000000000000000-00f067aa0ba902b7-01", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tel, exp, _ := newTest(t, tc.ratio, false)
			ctx := arrive(t, tel, tc.traceparent)
			tel.Record(ctx, served("source"))
			spans := exp.GetSpans()
			if got := len(spans) > 0; got != tc.sampled {
				t.Fatalf("traceparent %q, ratio %g: %d spans, want sampled=%v", tc.traceparent, tc.ratio, len(spans), tc.sampled)
			}
			rt := traceFrom(ctx)
			if got := rt.sc.TraceID().String() == callerTrace; got != tc.sameTrace {
				t.Errorf("trace id %s, want the caller's: %v", rt.sc.TraceID(), tc.sameTrace)
			}
			if !tc.sampled {
				return
			}
			s := spans[0]
			if s.SpanContext.SpanID() != rt.sc.SpanID() || s.SpanKind != trace.SpanKindServer || !s.StartTime.Equal(t0) || !s.EndTime.Equal(t0.Add(300*time.Millisecond)) {
				t.Errorf("span %s %v %v–%v, want the planned id %s, server, %v–%v", s.SpanContext.SpanID(), s.SpanKind, s.StartTime, s.EndTime, rt.sc.SpanID(), t0, t0.Add(300*time.Millisecond))
			}
			if tc.sameTrace && s.Parent.SpanID().String() != "00f067aa0ba902b7" {
				t.Errorf("parent %s, want the caller's span", s.Parent.SpanID())
			}
		})
	}
}

// fakeExec is a peer that records the job it was sent.
type fakeExec struct{ got *gateway.Job }

func (f *fakeExec) Complete(_ context.Context, job *gateway.Job) (*inference.Response, error) {
	f.got = job
	job.Reported = &dispatch.Timing{Total: 3 * time.Millisecond}
	return &inference.Response{}, nil
}

func (f *fakeExec) Stream(_ context.Context, job *gateway.Job) (inference.Stream, error) {
	job.Reported = &dispatch.Timing{Total: 2 * time.Millisecond} // read from the refusal's headers
	return nil, &inference.Error{Kind: inference.KindThrottled, Message: "busy"}
}

type fakeLink struct{ exec *fakeExec }

func (l fakeLink) Executor(string) gateway.Executor { return l.exec }
func (l fakeLink) PeerHealthy(string) bool          { return true }

// TestAttemptParentsDestination: a forwarded attempt carries its own span
// id in the job's traceparent, and the destination's request span is that
// span's child, in the same trace with the same sampling decision.
func TestAttemptParentsDestination(t *testing.T) {
	t.Parallel()
	src, srcExp, _ := newTest(t, 1, false)
	dst, dstExp, _ := newTest(t, 1, false)
	exec := &fakeExec{}
	link := src.Link(fakeLink{exec})
	ctx := arrive(t, src, "")
	job := &gateway.Job{RequestID: "req-1", DestinationRegion: "eu-central-1"}
	if _, err := link.Executor("eu-central-1").Stream(ctx, job); err == nil {
		t.Fatal("Stream: want the peer's throttle")
	}
	if _, err := link.Executor("eu-central-1").Complete(ctx, job); err != nil {
		t.Fatal(err)
	}
	if job.TraceParent != "" {
		t.Errorf("the gateway's job was changed: traceparent %q", job.TraceParent)
	}
	// The job's output reaches the gateway's job: the destination's own
	// time, which the overhead split needs.
	if job.Reported == nil || job.Reported.Total != 3*time.Millisecond {
		t.Errorf("job.Reported = %+v, want the executor's (total 3ms)", job.Reported)
	}
	tp := exec.got.TraceParent
	dctx := dst.Forwarded(context.Background(), tp)
	drec := served("destination")
	drec.InferenceRegion = "eu-central-1"
	dst.Record(dctx, drec)
	rec := served("source")
	rec.InferenceRegion = "eu-central-1"
	rec.Attempts = []gateway.Attempt{{Region: "eu-central-1", Outcome: "throttled", Status: 429}, {Region: "eu-central-1", Outcome: "ok", Status: 200}}
	src.Record(ctx, rec)

	ss := srcExp.GetSpans()
	if len(ss) != 3 {
		t.Fatalf("source wrote %d spans, want request + 2 attempts", len(ss))
	}
	var attempts []tracetest.SpanStub
	for _, s := range ss {
		if s.SpanKind == trace.SpanKindClient {
			attempts = append(attempts, s)
		}
	}
	if len(attempts) != 2 || attempts[0].Name != "forward eu-central-1" || attrOf(attempts[0].Attributes, "error.type") != "throttled" || attempts[0].Status.Code != codes.Error {
		t.Errorf("attempt spans %+v, want two forwards, the first throttled", attempts)
	}
	last := attempts[1].SpanContext
	if want := "00-" + last.TraceID().String() + "-" + last.SpanID().String() + "-01"; tp != want {
		t.Errorf("job traceparent %q, want the second attempt span's %q", tp, want)
	}
	ds := dstExp.GetSpans()
	if len(ds) != 1 || ds[0].Parent.SpanID() != last.SpanID() || ds[0].SpanContext.TraceID() != last.TraceID() || !ds[0].Parent.IsRemote() {
		t.Errorf("destination spans %+v, want one, child of %s", ds, last.SpanID())
	}
}

// TestUnauthenticatedNotTraced: a request refused for want of credentials
// writes no span, whatever its traceparent says.
func TestUnauthenticatedNotTraced(t *testing.T) {
	t.Parallel()
	tel, exp, _ := newTest(t, 1, false)
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} { // 403: SigV4's refusals
		rec := &gateway.Record{RequestID: "req-1", Operation: gateway.OpConverse, Side: "source", SourceRegion: "eu-west-1",
			Status: status, ErrorCode: "unauthenticated", Started: t0}
		tel.Record(arrive(t, tel, "00-"+callerTrace+"-00f067aa0ba902b7-01"), rec)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("unauthenticated requests wrote %d spans", n)
	}
	denied := served("source")
	denied.PrincipalID, denied.Status, denied.ErrorCode = "alice", http.StatusForbidden, "permission_denied"
	tel.Record(arrive(t, tel, "00-"+callerTrace+"-00f067aa0ba902b7-01"), denied)
	if n := len(exp.GetSpans()); n != 1 {
		t.Errorf("a principal's denied request wrote %d spans, want 1", n)
	}
}

// TestContentOnlyWhenAllowed: prompts and completions reach spans only
// with record_content; the record holds them whenever audit does.
func TestContentOnlyWhenAllowed(t *testing.T) {
	t.Parallel()
	for _, allowed := range []bool{false, true} {
		tel, exp, _ := newTest(t, 1, allowed)
		rec := served("source")
		rec.Prompt = []inference.Message{{Role: "user", Content: []inference.Block{{Text: "my secret"}}}}
		rec.Completion = "the answer"
		tel.Record(arrive(t, tel, ""), rec)
		spans := exp.GetSpans()
		if len(spans) != 1 {
			t.Fatalf("%d spans", len(spans))
		}
		in, out := attrOf(spans[0].Attributes, "gen_ai.input.messages"), attrOf(spans[0].Attributes, "gen_ai.output.messages")
		if allowed != strings.Contains(in, "my secret") || allowed != strings.Contains(out, "the answer") {
			t.Errorf("record_content %v: input %q, output %q", allowed, in, out)
		}
		if allowed && in != `[{"role":"user","parts":[{"type":"text","content":"my secret"}]}]` {
			t.Errorf("gen_ai.input.messages = %s", in)
		}
	}
}

// TestNoTracingNoWrapping: with tracing off, the node's handler, link and
// backends are handed back untouched and nothing is traced.
func TestNoTracingNoWrapping(t *testing.T) {
	t.Parallel()
	tel, err := New(Options{Region: "eu-west-1", Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	l := fakeLink{&fakeExec{}}
	if tel.Link(l) != gateway.Link(l) || tel.Tracing() {
		t.Error("tracing off, yet the link is wrapped")
	}
	ctx := tel.Forwarded(context.Background(), "00-"+callerTrace+"-00f067aa0ba902b7-01")
	if traceFrom(ctx) != nil {
		t.Error("tracing off, yet a forwarded job has a trace")
	}
	if err := tel.Record(ctx, served("source")); err != nil {
		t.Error(err)
	}
}

func attrOf(kvs []attribute.KeyValue, key string) string {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

var _ sdktrace.SpanExporter = (*tracetest.InMemoryExporter)(nil)
