package gateway

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// localExecutor runs jobs on this region's backends.
type localExecutor struct{ g *Gateway }

func (l localExecutor) backend(job *Job) (Backend, error) {
	b, ok := l.g.backends[job.Model]
	if !ok {
		return nil, &inference.Error{Kind: inference.KindUnavailable, Message: "model " + job.Model + " has no backend in " + l.g.region}
	}
	return b, nil
}

func (l localExecutor) Complete(ctx context.Context, job *Job) (*inference.Response, error) {
	b, err := l.backend(job)
	if err != nil {
		return nil, err
	}
	return b.Complete(ctx, job.Request)
}

func (l localExecutor) Stream(ctx context.Context, job *Job) (inference.Stream, error) {
	b, err := l.backend(job)
	if err != nil {
		return nil, err
	}
	return b.Stream(ctx, job.Request)
}

// ServeForwarded serves a job that another region's node forwarded here.
// It trusts nothing the source said about residency or permissions: the
// profile is resolved from this node's own topology, which must include
// this region (invariant 1), and the principal's own policies are checked
// again for this destination (invariant 2).
func (g *Gateway) ServeForwarded(ctx context.Context, job *Job) (*Outcome, error) {
	g.metrics.InFlight.Inc()
	rec := g.newRecord(&Call{RequestID: job.RequestID, Operation: job.Operation, Principal: job.Principal, Request: job.Request,
		SourceIP: job.SourceIP}, "destination")
	rec.SourceRegion, rec.ProfileID, rec.ProfileARN, rec.Model = job.SourceRegion, job.ProfileID, job.ProfileARN, job.Model
	deny := func(msg string, err error) (*Outcome, error) {
		g.metrics.ResidencyRejections.WithLabelValues("destination").Inc()
		rec.Allowed, rec.DenyReason = false, msg
		return nil, g.fail(ctx, rec, &inference.Error{Kind: inference.KindPermissionDenied, Message: msg, Err: err})
	}
	if err := g.admit(); err != nil {
		return nil, g.fail(ctx, rec, err) // 503: the source fails over
	}
	if job.DestinationRegion != g.region {
		return deny("this node is "+g.region+", not the requested destination "+job.DestinationRegion, nil)
	}
	cat := g.Catalog()
	if err := cat.CheckDestination(job.ProfileID, job.SourceRegion, g.region); err != nil {
		return deny("refused by the destination's residency check: "+strings.TrimPrefix(err.Error(), profile.ErrResidency.Error()+": "), err)
	}
	res, err := cat.Resolve(job.SourceRegion, job.ProfileID)
	if err != nil {
		return deny("refused by the destination: profile does not resolve here", err)
	}
	// The model comes from this node's own resolution, not from the wire.
	job.Model = res.Model
	rec.Model = res.Model
	principal, ok := g.auth.Principal(job.Principal.ID)
	if !ok {
		return deny("refused by the destination: unknown principal", nil)
	}
	principal.Method, principal.KeyID = job.Principal.Method, job.Principal.KeyID
	job.Receipt = job.Receipt || g.receiptPrincipals[principal.ID]
	allowed, err := g.authz.AuthorizeInvoke(AuthzInput{Principal: principal, Source: job.SourceRegion, Resolution: res, Stream: job.Request.Stream,
		SourceIP: job.SourceIP, SecureTransport: job.SecureTransport, Now: g.now()})
	if err != nil || !slices.Contains(allowed, g.region) {
		if err == nil {
			err = errors.New("destination not allowed")
		}
		return nil, g.fail(ctx, rec, &inference.Error{Kind: inference.KindPermissionDenied, Message: inference.AsError(err).Message, Err: err})
	}
	if err := g.checkMaxTokens(job.Operation, job.Request, job.Model); err != nil {
		return nil, g.fail(ctx, rec, err)
	}
	if err := checkAmbiguous(job.Request); err != nil {
		// The source refuses it (a node from before the check may not).
		return nil, g.fail(ctx, rec, err)
	}
	rec.Route = "forwarded"
	rec.ServiceTier = g.servedTier(g.region, job.Model, tierOf(job.Request)).String() // what this deployment's upstream is asked for
	// The local deployment's tracker counts forwarded load too, so the
	// snapshot this node publishes reflects every source's traffic.
	att, err := g.routing.Tracker.Start(routing.Key{Region: g.region, Model: job.Model}, g.estimatedTokens(job.Request))
	if err != nil {
		// Cooling down (or its probe taken) after a 429 is "full, come
		// back"; after failures it is down, which the source counts
		// against the destination (noCandidate makes the same split).
		st, _ := g.routing.Tracker.State(routing.Key{Region: g.region, Model: job.Model})
		e := &inference.Error{Kind: inference.KindThrottled, RetryAfter: max(st.CooldownUntil.Sub(g.now()), time.Second),
			Message: "the destination's deployment is cooling down after a 429", Err: err}
		if !st.Throttled {
			e.Kind, e.Message = inference.KindUnavailable, "the destination's deployment is cooling down after failures"
		}
		return nil, g.fail(ctx, rec, e)
	}
	// The caller's limits were admitted at the source; here, only this
	// deployment's capacity.
	resv, err := g.admitQuota(ctx, "", job, g.deploymentKey(job.Model))
	if err != nil {
		g.observe(att, routing.Outcome{Kind: routing.Canceled})
		return nil, g.fail(ctx, rec, err)
	}
	// Quota is settled before the tracker is told (see execute): a queued
	// request woken by observe must find both counters free.
	start := g.now()
	if job.Request.Stream {
		intent := &streamIntent{rec: rec}
		intent.start(ctx, g, g.region)
		s, err := g.local.Stream(ctx, job)
		intent.wait()
		if err != nil {
			settle(resv, nil)
			g.observe(att, attemptOutcome(ctx, err, 0))
			return nil, g.fail(ctx, rec, err)
		}
		rec.InferenceRegion = g.region
		ttfb := g.now().Sub(start)
		ts := g.trackedStream(ctx, s, att, ttfb, resv, job.Request)
		// The destination's own time, reported to the source on the
		// forwarded answer's headers (which are written at the first event).
		rec.Overhead = dispatch.LocalOverhead(g.now().Sub(rec.Started), ttfb)
		if err := g.begin(ctx, intent, rec); err != nil {
			ts.Close()
			return nil, g.fail(ctx, rec, err)
		}
		rs := g.recordingStream(ctx, ts, rec, job.Request)
		g.streamReceipt(rs, job, g.region, nil)
		return &Outcome{Route: Route{Overhead: rec.Overhead}, Stream: rs}, nil
	}
	resp, err := g.local.Complete(ctx, job)
	took := g.now().Sub(start)
	if err != nil {
		settle(resv, nil)
		g.observe(att, attemptOutcome(ctx, err, 0))
		return nil, g.fail(ctx, rec, err)
	}
	settle(resv, &resp.Usage)
	g.observe(att, outcomeOf(nil, took))
	rec.InferenceRegion = g.region
	rec.Overhead = dispatch.LocalOverhead(g.now().Sub(rec.Started), took)
	if err := g.succeed(ctx, rec, resp); err != nil {
		return nil, inference.AsError(err)
	}
	if job.Receipt {
		g.signResponse(ctx, rec, job.Operation, job.Request, resp)
	}
	return &Outcome{Route: Route{Overhead: rec.Overhead}, Response: resp}, nil
}

// RefuseForwarded records a forwarded request that the link refused
// before ServeForwarded, once its envelope was authenticated (its
// residency check, interregion.TopologyChecker, among others): the
// destination writes its own event for the requests it refuses, as for
// those it serves (invariant 4), and residency counts a refusal of its
// residency checks, as ServeForwarded's do. err is the link's answer,
// returned unchanged but for its message's length.
func (g *Gateway) RefuseForwarded(ctx context.Context, job *Job, residency bool, err *inference.Error) *inference.Error {
	g.metrics.InFlight.Inc()
	rec := g.newRecord(&Call{RequestID: job.RequestID, Operation: job.Operation, Principal: job.Principal, Request: job.Request,
		SourceIP: job.SourceIP}, "destination")
	rec.SourceRegion, rec.ProfileID, rec.ProfileARN, rec.Model = job.SourceRegion, job.ProfileID, job.ProfileARN, job.Model
	if rec.RequestedModel == "" {
		rec.RequestedModel = boundedModel(job.ProfileARN)
	}
	if residency {
		g.metrics.ResidencyRejections.WithLabelValues("destination").Inc()
	}
	// Every refusal is recorded as one (docs/audit.md, "Refusals at the
	// destination"), a body the destination cannot parse (400) too, not
	// only the permission refusals fail marks.
	rec.Allowed = false
	if rec.DenyReason == "" {
		rec.DenyReason = inference.Clip(err.Message, maxMessage)
	}
	return g.fail(ctx, rec, err)
}

// trackedStream reports a streaming attempt to the tracker when the stream
// ends: its in-flight slot lasts as long as the stream, and an error after
// the first byte counts against the deployment (it is never retried) unless
// the caller hung up.
type trackedStream struct {
	inference.Stream
	g     *Gateway
	ctx   context.Context
	att   routing.Attempt
	ttft  time.Duration
	res   Reservation
	count delivered
	err   error
	once  sync.Once
}

func (g *Gateway) trackedStream(ctx context.Context, s inference.Stream, att routing.Attempt, ttft time.Duration, res Reservation, req *inference.Request) inference.Stream {
	return &trackedStream{Stream: s, g: g, ctx: ctx, att: att, ttft: ttft, res: res, count: delivered{input: req.EstimatedInputTokens()}}
}

// Ready implements inference.Readier.
func (s *trackedStream) Ready() bool { return inference.Ready(s.Stream) }

func (s *trackedStream) Recv() (inference.Event, error) {
	ev, err := s.Stream.Recv()
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
	}
	if err == nil {
		s.count.see(ev)
	}
	return ev, err
}

// Close settles the attempt: the quota reservation is committed with the
// usage the backend reported, or, when the stream ended without one (the
// caller hung up, the model or the link broke), with what was delivered so
// far; then the tracker learns the outcome (quota first: see execute). A
// hang-up is never the deployment's failure.
func (s *trackedStream) Close() error {
	err := s.Stream.Close()
	s.once.Do(func() {
		u := s.count.usage()
		settle(s.res, &u)
		s.g.observe(s.att, attemptOutcome(s.ctx, s.err, s.ttft))
	})
	return err
}

// delivered counts what a stream delivered, for the usage of a stream that
// ended without the backend's own count.
type delivered struct {
	input     int // the prompt's estimate
	textBytes int
	reported  *inference.Usage
}

func (d *delivered) see(ev inference.Event) {
	switch ev.Kind {
	case inference.EventDelta:
		d.textBytes = inference.SaturatingAdd(d.textBytes, ev.TextLen())
	case inference.EventUsage:
		if ev.Usage != nil {
			u := *ev.Usage
			d.reported = &u
		}
	}
}

// usage returns the backend's usage when it reported one, else the prompt's
// estimate plus the estimate of the text delivered: a stream cut short is
// charged what it streamed, never nothing.
func (d *delivered) usage() inference.Usage {
	if d.reported != nil {
		return *d.reported
	}
	return inference.Usage{InputTokens: d.input, OutputTokens: inference.EstimateTokens(d.textBytes)}
}

// recordingStream records the request when the stream ends: time to first
// token, usage, and an in-stream error if one happened.
type recordingStream struct {
	inference.Stream
	g       *Gateway
	ctx     context.Context
	rec     *Record
	gotText bool
	ended   bool
	// count is what the stream delivered: the trackedStream's it wraps
	// (which sees the same events: each event's text is then measured
	// once, not twice), else own.
	count *delivered
	own   delivered
	text  strings.Builder
	once  sync.Once
	// receipt is set when the stream's answer carries a receipt.
	receipt *streamReceipt
}

func (g *Gateway) recordingStream(ctx context.Context, s inference.Stream, rec *Record, req *inference.Request) inference.Stream {
	rec.Status = 200
	rs := &recordingStream{Stream: s, g: g, ctx: ctx, rec: rec}
	if ts, ok := s.(*trackedStream); ok {
		rs.count = &ts.count
	} else {
		rs.own = delivered{input: req.EstimatedInputTokens()}
		rs.count = &rs.own
	}
	return rs
}

// Ready implements inference.Readier.
func (s *recordingStream) Ready() bool { return inference.Ready(s.Stream) }

func (s *recordingStream) Recv() (inference.Event, error) {
	ev, err := s.Stream.Recv()
	switch {
	case err == nil:
		if s.count == &s.own {
			s.count.see(ev)
		}
		if ev.Kind == inference.EventDelta {
			if !s.gotText {
				s.gotText = true
				s.rec.TTFT = s.g.now().Sub(s.rec.Started)
			}
			if s.g.recordBody {
				s.text.WriteString(ev.DeltaText())
			}
			if s.receipt != nil {
				s.receipt.see(&ev)
			}
		}
	case errors.Is(err, io.EOF):
		s.ended = true
	case hungUp(s.ctx):
		// The caller went away and the backend's read failed first
		// (cancelled): a hang-up, not the model's time-out.
		s.ended = true
		s.rec.ErrorCode = errClientClosed
	default:
		s.ended = true
		// Headers are sent: the error is reported in-stream (invariant 3).
		kind := inference.AsError(err).Kind.String()
		if inference.AsError(err).Code == inference.CodeShutdown {
			kind = inference.CodeShutdown // the node that served it was cut by its drain
		}
		s.rec.ErrorCode = "stream_" + kind
		s.g.log.WarnContext(s.ctx, "stream failed after first byte", telemetry.AttrRequestID, s.rec.RequestID, telemetry.AttrError, err)
	}
	return ev, err
}

// Close records the request. Its usage is the one the quota was settled
// with (see trackedStream).
func (s *recordingStream) Close() error {
	err := s.Stream.Close()
	s.once.Do(func() {
		if !s.ended {
			s.rec.ErrorCode = errClientClosed
		}
		s.rec.Usage = s.count.usage()
		if s.g.recordBody {
			s.rec.Completion = s.text.String()
		}
		s.g.finish(s.ctx, s.rec)
		if s.receipt != nil {
			s.receipt.finish(s)
		}
	})
	return err
}
