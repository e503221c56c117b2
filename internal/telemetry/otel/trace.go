package otel

import (
	"context"
	"crypto/rand"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// HeaderTraceParent is the W3C trace-context header a caller may send.
const HeaderTraceParent = "traceparent"

// HeaderTraceResponse is the W3C Trace Context Level 2 response header
// naming the request's span: version-traceid-spanid-flags.
const HeaderTraceResponse = "Traceresponse"

// requestTrace is one request's trace context on this node: the span the
// node writes for the request, chosen when it arrived, its remote parent,
// and the calls (attempts, backend calls) made while it ran, each with a
// span id chosen when the call started.
type requestTrace struct {
	// sc is the request span's context: trace id, span id and the sampling
	// decision.
	sc trace.SpanContext
	// parent is the caller's span, or the source's attempt span on a
	// destination; invalid for a root.
	parent trace.SpanContext
	// header is the answer's header, whose traceresponse names the span:
	// set on arrival, rewritten unsampled when the claim is withdrawn
	// (withdraw); nil for a forwarded job.
	header http.Header
	// withdrawn is set once it is known that the request's span will not
	// be exported.
	withdrawn atomic.Bool

	mu    sync.Mutex
	calls []*call
}

// call is one attempt or backend call of a request.
type call struct {
	span trace.SpanID
	// region is where it ran; remote is true for a forward over the link.
	region string
	remote bool
	start  time.Time
	end    time.Time
	err    error
}

type traceKey struct{}

func traceFrom(ctx context.Context) *requestTrace {
	rt, _ := ctx.Value(traceKey{}).(*requestTrace)
	return rt
}

// begin returns the trace context of a request arriving with parent
// (invalid for none): a new span id, the parent's trace id or a new one,
// and the sampler's decision, made now because it travels with every
// attempt forwarded before the request finishes.
func (t *Telemetry) begin(parent trace.SpanContext) *requestTrace {
	tid := parent.TraceID()
	if !parent.IsValid() {
		tid = newTraceID()
	}
	ctx := context.Background()
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	var flags trace.TraceFlags
	if t.sampler.ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: tid, Name: "request", Kind: trace.SpanKindServer}).Decision == sdktrace.RecordAndSample {
		flags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: newSpanID(), TraceFlags: flags, TraceState: parent.TraceState()})
	return &requestTrace{sc: sc, parent: parent}
}

// startCall records the start of an attempt or backend call and returns
// it with its span id.
func (rt *requestTrace) startCall(region string, remote bool, now time.Time) *call {
	c := &call{span: newSpanID(), region: region, remote: remote, start: now}
	if !rt.sc.IsSampled() {
		// No span will be written; the id still travels, with the
		// decision, so that the destination does not sample it either.
		return c
	}
	rt.mu.Lock()
	rt.calls = append(rt.calls, c)
	rt.mu.Unlock()
	return c
}

// endCall records the end of c with its error (nil when it succeeded).
func (rt *requestTrace) endCall(c *call, now time.Time, err error) {
	rt.mu.Lock()
	if c.end.IsZero() {
		c.end, c.err = now, err
	}
	rt.mu.Unlock()
}

// snapshot returns copies of the calls made so far.
func (rt *requestTrace) snapshot() []call {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := make([]call, len(rt.calls))
	for i, c := range rt.calls {
		out[i] = *c
	}
	return out
}

// traceParent is the W3C traceparent naming span in this request's trace,
// with the request's sampling decision.
func (rt *requestTrace) traceParent(span trace.SpanID) string {
	return "00-" + rt.sc.TraceID().String() + "-" + span.String() + "-" + rt.sc.TraceFlags().String()
}

// sampled reports whether the request's spans are exported: it was
// sampled on arrival and the claim was not withdrawn since.
func (rt *requestTrace) sampled() bool { return rt.sc.IsSampled() && !rt.withdrawn.Load() }

// withdraw stops claiming that the request's span is exported: its
// traceresponse says "not sampled" (flags 00) and the lines logged with
// ctx name no trace. It runs before the answer is written (see Claims),
// on the goroutine that writes it.
func (rt *requestTrace) withdraw(ctx context.Context) {
	if !rt.sc.IsSampled() || rt.withdrawn.Swap(true) {
		return
	}
	if rt.header != nil {
		rt.header.Set(HeaderTraceResponse, "00-"+rt.sc.TraceID().String()+"-"+rt.sc.SpanID().String()+"-"+trace.TraceFlags(0).String())
	}
	telemetry.WithdrawTraceID(ctx)
}

// parseTraceParent reads a W3C traceparent (and tracestate) as a remote
// span context; an absent or malformed one gives an invalid context (the
// request starts a trace of its own, as the W3C recommendation says).
func parseTraceParent(traceparent, tracestate string) trace.SpanContext {
	if traceparent == "" {
		return trace.SpanContext{}
	}
	c := propagation.MapCarrier{HeaderTraceParent: traceparent}
	if tracestate != "" {
		c["tracestate"] = tracestate
	}
	return trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), c))
}

func newTraceID() trace.TraceID {
	var id trace.TraceID
	for !id.IsValid() {
		_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+)
	}
	return id
}

func newSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		_, _ = rand.Read(id[:])
	}
	return id
}

// plannedIDs is the tracer's ID generator: a span gets the ids chosen for
// it before it was created (the request path picks them while the request
// runs; spans are built when it has finished), and random ones otherwise.
type plannedIDs struct{}

type plannedKey struct{}

type planned struct {
	trace trace.TraceID
	span  trace.SpanID
}

func withPlanned(ctx context.Context, tid trace.TraceID, sid trace.SpanID) context.Context {
	return context.WithValue(ctx, plannedKey{}, planned{trace: tid, span: sid})
}

// NewIDs implements sdktrace.IDGenerator.
func (plannedIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if p, ok := ctx.Value(plannedKey{}).(planned); ok {
		return p.trace, p.span
	}
	return newTraceID(), newSpanID()
}

// NewSpanID implements sdktrace.IDGenerator.
func (plannedIDs) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if p, ok := ctx.Value(plannedKey{}).(planned); ok {
		return p.span
	}
	return newSpanID()
}

var _ sdktrace.IDGenerator = plannedIDs{}
