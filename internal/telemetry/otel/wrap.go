package otel

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// Handler wraps a client listener's handler: each request gets its trace
// context, whose parent is the caller's W3C traceparent when it sent one,
// and its answer the traceresponse header naming the request's span.
// Without tracing it returns next.
func (t *Telemetry) Handler(next http.Handler) http.Handler {
	if !t.tracing {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parent := parseTraceParent(r.Header.Get(HeaderTraceParent), r.Header.Get("Tracestate"))
		rt := t.begin(parent)
		// The request's own span, in the W3C Trace Context Level 2
		// traceresponse header, on every answer (errors too): a caller or
		// operator holding a response can open its trace. The flags say
		// whether it was sampled (exported); a request whose span turns
		// out not to be exported says "not sampled" (Claims).
		rt.header = w.Header()
		rt.header.Set(HeaderTraceResponse, rt.traceParent(rt.sc.SpanID()))
		ctx := context.WithValue(r.Context(), traceKey{}, rt)
		if rt.sc.IsSampled() {
			// Lines logged for the request name its trace (trace_id), only
			// when the trace is exported.
			ctx = telemetry.WithTraceID(ctx, rt.sc.TraceID().String())
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Forwarded returns ctx with the trace context of a job another region
// forwarded here: its parent is the source's attempt span, named by the
// job's traceparent (from the signed envelope). Without tracing it returns
// ctx.
func (t *Telemetry) Forwarded(ctx context.Context, traceParent string) context.Context {
	if !t.tracing {
		return ctx
	}
	rt := t.begin(parseTraceParent(traceParent, ""))
	ctx = context.WithValue(ctx, traceKey{}, rt)
	if rt.sc.IsSampled() {
		ctx = telemetry.WithTraceID(ctx, rt.sc.TraceID().String()) // the destination's log lines name the same trace
	}
	return ctx
}

// Link wraps the gateway's link so that each forwarded attempt gets its
// span id before it is sent, in the job's TraceParent. Without tracing, or
// for a nil link, it returns l.
func (t *Telemetry) Link(l gateway.Link) gateway.Link {
	if !t.tracing || l == nil {
		return l
	}
	return tracedLink{Link: l, t: t}
}

// Backends wraps the backends the gateway runs local jobs on, so that each
// backend call is timed for its span. Without tracing it returns m.
func (t *Telemetry) Backends(m map[string]gateway.Backend) map[string]gateway.Backend {
	if !t.tracing {
		return m
	}
	out := make(map[string]gateway.Backend, len(m))
	for k, b := range m {
		out[k] = tracedBackend{Backend: b, t: t}
	}
	return out
}

type tracedLink struct {
	gateway.Link
	t *Telemetry
}

func (l tracedLink) Executor(region string) gateway.Executor {
	return tracedExecutor{inner: l.Link.Executor(region), t: l.t, region: region}
}

// tracedExecutor forwards a job with the traceparent of its attempt span.
// It sends a copy, leaving the gateway's job as it was, and copies the
// job's outputs (dispatch.Job.Reported) back: without them a traced
// forwarded request lost the destination's part of its overhead.
type tracedExecutor struct {
	inner  gateway.Executor
	t      *Telemetry
	region string
}

func (e tracedExecutor) Complete(ctx context.Context, job *gateway.Job) (*inference.Response, error) {
	rt := traceFrom(ctx)
	if rt == nil {
		return e.inner.Complete(ctx, job)
	}
	c := rt.startCall(e.region, true, e.t.now())
	j := *job
	j.TraceParent = rt.traceParent(c.span)
	resp, err := e.inner.Complete(ctx, &j)
	job.Reported = j.Reported // an output: the destination's own time
	rt.endCall(c, e.t.now(), err)
	return resp, err
}

func (e tracedExecutor) Stream(ctx context.Context, job *gateway.Job) (inference.Stream, error) {
	rt := traceFrom(ctx)
	if rt == nil {
		return e.inner.Stream(ctx, job)
	}
	c := rt.startCall(e.region, true, e.t.now())
	j := *job
	j.TraceParent = rt.traceParent(c.span)
	s, err := e.inner.Stream(ctx, &j)
	job.Reported = j.Reported // an output: the destination's own time
	if err != nil {
		rt.endCall(c, e.t.now(), err)
		return nil, err
	}
	return &tracedStream{Stream: s, t: e.t, rt: rt, c: c}, nil
}

// tracedBackend times a local backend call.
type tracedBackend struct {
	gateway.Backend
	t *Telemetry
}

func (b tracedBackend) Complete(ctx context.Context, req *inference.Request) (*inference.Response, error) {
	rt := traceFrom(ctx)
	if rt == nil {
		return b.Backend.Complete(ctx, req)
	}
	c := rt.startCall(b.t.region, false, b.t.now())
	resp, err := b.Backend.Complete(ctx, req)
	rt.endCall(c, b.t.now(), err)
	return resp, err
}

func (b tracedBackend) Stream(ctx context.Context, req *inference.Request) (inference.Stream, error) {
	rt := traceFrom(ctx)
	if rt == nil {
		return b.Backend.Stream(ctx, req)
	}
	c := rt.startCall(b.t.region, false, b.t.now())
	s, err := b.Backend.Stream(ctx, req)
	if err != nil {
		rt.endCall(c, b.t.now(), err)
		return nil, err
	}
	return &tracedStream{Stream: s, t: b.t, rt: rt, c: c}, nil
}

// tracedStream ends its call when it is closed, which the gateway does
// before it records the request, with the error that ended it, if any.
type tracedStream struct {
	inference.Stream
	t    *Telemetry
	rt   *requestTrace
	c    *call
	err  error
	once sync.Once
}

// Ready implements inference.Readier.
func (s *tracedStream) Ready() bool { return inference.Ready(s.Stream) }

func (s *tracedStream) Recv() (inference.Event, error) {
	ev, err := s.Stream.Recv()
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
	}
	return ev, err
}

func (s *tracedStream) Close() error {
	err := s.Stream.Close()
	s.once.Do(func() { s.rt.endCall(s.c, s.t.now(), s.err) })
	return err
}

var (
	_ gateway.Link     = tracedLink{}
	_ gateway.Executor = tracedExecutor{}
	_ gateway.Backend  = tracedBackend{}
)
