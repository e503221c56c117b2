package audit

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// The audit trail is the gateway's recorder of record (invariant 4).
var (
	_ gateway.Recorder       = Recorder{}
	_ gateway.Admitter       = Recorder{}
	_ gateway.StreamRecorder = Recorder{}
)

// Recorder writes every request record of the gateway to the
// hash-chained audit trail: it implements gateway.Recorder,
// gateway.Admitter and gateway.StreamRecorder. It is safe for concurrent
// use.
type Recorder struct {
	W *Writer
	// Traced makes events carry the request's trace id (traceId) from
	// its context: set it when the node traces requests. Reading it walks
	// the request's context, which costs an allocation through the
	// detached context the gateway records with (BenchmarkTraceIDDeepContext
	// in internal/telemetry), so an untraced node does not.
	Traced bool
}

// auditHigh is the audit queue's fill fraction at which new requests are
// refused with 429, so that the trail never has to drop an event.
const auditHigh = 0.9

// Admit refuses new work while the audit trail cannot be written (503 with
// Retry-After) or its queue is nearly full (429).
func (a Recorder) Admit() error {
	if err := a.W.Err(); err != nil {
		return auditError(err)
	}
	st := a.W.Stats()
	if st.Capacity > 0 && float64(st.Queued) >= auditHigh*float64(st.Capacity) {
		return &inference.Error{Kind: inference.KindThrottled, RetryAfter: time.Second,
			Message: "the audit trail is saturated; retry shortly", Err: ErrBackpressure}
	}
	return nil
}

// Record implements gateway.Recorder. An error means the event is not in the
// trail: for a request answered in full the gateway then answers 503
// instead of the body.
func (a Recorder) Record(ctx context.Context, rec *gateway.Record) error {
	e := EventOf(rec)
	if a.Traced {
		e.TraceID = traceIDOf(ctx)
	}
	h, err := a.W.AppendHashed(ctx, e)
	rec.AuditHash = h // for the request's residency receipt
	return auditError(err)
}

// BeginStream implements gateway.StreamRecorder: it journals the stream's intent,
// so that its event survives the process dying mid-stream.
func (a Recorder) BeginStream(ctx context.Context, rec *gateway.Record) error {
	if u := a.W.unavail.Load(); u != nil {
		return auditError(u)
	}
	// The event, its parts and the journal's intent in one allocation,
	// prepared in place (the intent keeps the event until the stream's
	// own is in the log).
	p := &intentParts{}
	e := eventOf(rec, &p.parts)
	e.StatusCode = 200 // the stream's headers are about to go out
	if a.Traced {
		e.TraceID = traceIDOf(ctx) // an interrupted stream's event names its trace too
	}
	return auditError(a.W.begin(ctx, p))
}

// traceIDOf is the trace id of the request ctx serves, as its log lines
// carry it (telemetry.TraceID: only while the request is traced and its
// spans exported), or "". Anything but 32 lower-case hex digits is left
// out, so the event stays bounded whatever a context holds.
func traceIDOf(ctx context.Context) string {
	id := telemetry.TraceID(ctx)
	if len(id) != 32 {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
	}
	return id
}

// auditError maps the audit writer's refusals to client errors: a full
// queue is 429, an unwritable trail 503, both with Retry-After.
func auditError(err error) error {
	if err == nil {
		return nil // before ue, which errors.As moves to the heap
	}
	var ue *UnavailableError
	switch {
	case errors.Is(err, ErrBackpressure):
		return &inference.Error{Kind: inference.KindThrottled, RetryAfter: time.Second, Message: "the audit trail is saturated; retry shortly", Err: err}
	case errors.As(err, &ue):
		return &inference.Error{Kind: inference.KindUnavailable, RetryAfter: max(ue.RetryAfter, time.Second),
			Message: "the audit trail cannot be written, so the request was not served; retry shortly", Err: recorderOutage{err}}
	case errors.Is(err, ErrUnavailable):
		return recorderOutage{err}
	}
	return err
}

// eventParts is an event with the parts it usually points to: building an
// event allocates them together, once, instead of one allocation each.
type eventParts struct {
	event    Event
	params   RequestParameters
	overhead Overhead
	ms       [5]float64 // the overhead's values
	attempts [2]Attempt // the first attempts; more grow the slice
}

// EventOf maps a request record to its audit event.
func EventOf(rec *gateway.Record) *Event {
	return eventOf(rec, &eventParts{})
}

// eventOf is EventOf building the event in parts, which must be zero.
func eventOf(rec *gateway.Record, parts *eventParts) *Event {
	side := SideSource
	if rec.Side == "destination" {
		side = SideDestination
	}
	e := &parts.event
	*e = Event{
		EventID: rec.RequestID, EventTime: Time{Time: rec.Started}, EventName: rec.Operation, Side: side,
		UserIdentity:    UserIdentity{PrincipalID: rec.PrincipalID, Type: rec.AuthMethod},
		SourceIPAddress: rec.SourceIP, UserAgent: rec.UserAgent,
		SourceRegion: rec.SourceRegion, InferenceRegion: rec.InferenceRegion,
		InferenceProfileARN: rec.ProfileARN, ModelID: rec.Model,
		Decision:    Decision{Allowed: rec.Allowed, Reason: rec.DenyReason},
		RouteReason: rec.Route, ServiceTier: rec.ServiceTier, StatusCode: rec.Status, ErrorCode: rec.ErrorCode,
		Usage:     Usage{InputTokens: int64(rec.Usage.InputTokens), OutputTokens: int64(rec.Usage.OutputTokens)},
		LatencyMs: rec.Latency.Milliseconds(), TTFTMs: rec.TTFT.Milliseconds(),
	}
	e.OverheadMs = overheadOf(rec.Overhead, side == SideDestination, &parts.overhead, &parts.ms)
	if rec.RequestedModel != "" {
		parts.params = RequestParameters{ModelID: rec.RequestedModel}
		e.RequestParameters = &parts.params
	}
	// Front ends refuse metadata outside Bedrock's limits; checking again
	// here keeps the trail bounded whatever a front end or a peer passed.
	if len(rec.RequestMetadata) > 0 && inference.ValidateMetadata(rec.RequestMetadata) == nil {
		e.RequestMetadata = rec.RequestMetadata
	}
	if d := rec.Deciding; d != nil {
		e.Decision.DecidingStatement = &Statement{Policy: d.Policy, Sid: d.Sid, Index: d.Index, Guardrail: d.Guardrail}
	}
	if rec.PrincipalID == "" {
		e.UserIdentity.Type = ""
	}
	if rec.AuthMethod == "sigv4" {
		e.UserIdentity.AccessKeyID = rec.KeyID
	} else {
		e.UserIdentity.APIKeyID = rec.KeyID
	}
	if len(rec.Attempts) > 0 {
		e.Attempts = parts.attempts[:0]
	}
	for _, a := range rec.Attempts {
		e.Attempts = append(e.Attempts, Attempt{Region: a.Region, Outcome: a.Outcome, DurationMs: a.Duration.Milliseconds(), Status: a.Status})
	}
	if rec.Prompt != nil || rec.Completion != "" {
		e.Content = &Content{Prompt: promptText(rec.Prompt), Completion: rec.Completion}
	}
	return e
}

func promptText(msgs []inference.Message) string {
	if msgs == nil {
		return ""
	}
	b, _ := json.Marshal(msgs)
	return string(b)
}

// recorderOutage marks an unwritable trail's error as part of an outage
// the writer reports itself (gateway.ErrRecorderOutage), keeping its cause.
type recorderOutage struct{ err error }

func (o recorderOutage) Error() string { return o.err.Error() }

func (o recorderOutage) Unwrap() error { return o.err }

func (o recorderOutage) Is(target error) bool { return target == gateway.ErrRecorderOutage }

// overheadOf maps a record's overhead to the event's, in milliseconds
// rounded to the microsecond. A destination's record holds its own part.
// It fills out, pointing its fields into ms, and returns it (nil for a nil
// o): the event's overhead lives in the event's own allocation.
func overheadOf(o *gateway.Overhead, destination bool, out *Overhead, ms *[5]float64) *Overhead {
	if o == nil {
		return nil
	}
	used := 0
	val := func(d time.Duration) *float64 {
		v := &ms[used]
		used++
		*v = float64(d.Round(time.Microsecond).Microseconds()) / 1000
		return v
	}
	if destination {
		*out = Overhead{Total: val(o.Total()), Destination: val(o.Total()), Upstream: val(o.Upstream)}
		return out
	}
	*out = Overhead{Source: val(o.Source)}
	if o.Forwarded {
		out.Link, out.Destination = val(o.Link), val(o.Destination)
	}
	if !o.Known() {
		out.Link, out.Destination = nil, nil
		return out
	}
	out.Total, out.Upstream = val(o.Total()), val(o.Upstream)
	return out
}
