package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// AuditRecorder writes every record to the hash-chained audit trail.
type AuditRecorder struct {
	W *audit.Writer
}

// auditHigh is the audit queue's fill fraction at which new requests are
// refused with 429, so that the trail never has to drop an event.
const auditHigh = 0.9

// Admitter is implemented by recorders that can refuse new requests when
// they could not record them (invariant 4).
type Admitter interface {
	Admit() error
}

// Admit refuses new work while the audit trail cannot be written (503 with
// Retry-After) or its queue is nearly full (429).
func (a AuditRecorder) Admit() error {
	if err := a.W.Err(); err != nil {
		return auditError(err)
	}
	st := a.W.Stats()
	if st.Capacity > 0 && float64(st.Queued) >= auditHigh*float64(st.Capacity) {
		return &inference.Error{Kind: inference.KindThrottled, RetryAfter: time.Second,
			Message: "the audit trail is saturated; retry shortly", Err: audit.ErrBackpressure}
	}
	return nil
}

// Record implements Recorder. An error means the event is not in the
// trail: for a request answered in full the gateway then answers 503
// instead of the body.
func (a AuditRecorder) Record(ctx context.Context, rec *Record) error {
	return auditError(a.W.Append(ctx, EventOf(rec)))
}

// BeginStream implements StreamRecorder: it journals the stream's intent,
// so that its event survives the process dying mid-stream.
func (a AuditRecorder) BeginStream(ctx context.Context, rec *Record) error {
	e := EventOf(rec)
	e.StatusCode = 200 // the stream's headers are about to go out
	return auditError(a.W.Begin(ctx, e))
}

// auditError maps the audit writer's refusals to client errors: a full
// queue is 429, an unwritable trail 503, both with Retry-After.
func auditError(err error) error {
	var ue *audit.UnavailableError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, audit.ErrBackpressure):
		return &inference.Error{Kind: inference.KindThrottled, RetryAfter: time.Second, Message: "the audit trail is saturated; retry shortly", Err: err}
	case errors.As(err, &ue):
		return &inference.Error{Kind: inference.KindUnavailable, RetryAfter: max(ue.RetryAfter, time.Second),
			Message: "the audit trail cannot be written, so the request was not served; retry shortly", Err: err}
	}
	return err
}

// StreamRecorder is implemented by recorders that must hear of a stream
// before its first byte goes out (the audit trail's write-ahead journal).
// An error refuses the stream: nothing has been sent yet.
type StreamRecorder interface {
	BeginStream(ctx context.Context, rec *Record) error
}

// BeginStream tells every recorder that can hear of streams; the first
// error wins.
func (rs Recorders) BeginStream(ctx context.Context, rec *Record) error {
	for _, r := range rs {
		if s, ok := r.(StreamRecorder); ok {
			if err := s.BeginStream(ctx, rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// beginStream is called once a stream is ready and before its first byte.
func (g *Gateway) beginStream(ctx context.Context, rec *Record) error {
	if s, ok := g.recorder.(StreamRecorder); ok {
		return s.BeginStream(ctx, rec)
	}
	return nil
}

// admit asks the recorder whether it could record a new request.
func (g *Gateway) admit() error {
	if a, ok := g.recorder.(Admitter); ok {
		return a.Admit()
	}
	return nil
}

// EventOf maps a request record to its audit event.
func EventOf(rec *Record) *audit.Event {
	side := audit.SideSource
	if rec.Side == "destination" {
		side = audit.SideDestination
	}
	e := &audit.Event{
		EventID: rec.RequestID, EventTime: audit.Time{Time: rec.Started}, EventName: rec.Operation, Side: side,
		UserIdentity:    audit.UserIdentity{PrincipalID: rec.PrincipalID, Type: rec.AuthMethod},
		SourceIPAddress: rec.SourceIP, UserAgent: rec.UserAgent,
		SourceRegion: rec.SourceRegion, InferenceRegion: rec.InferenceRegion,
		InferenceProfileARN: rec.ProfileARN, ModelID: rec.Model,
		Decision:    audit.Decision{Allowed: rec.Allowed, Reason: rec.DenyReason},
		RouteReason: rec.Route, StatusCode: rec.Status, ErrorCode: rec.ErrorCode,
		Usage:     audit.Usage{InputTokens: int64(rec.Usage.InputTokens), OutputTokens: int64(rec.Usage.OutputTokens)},
		LatencyMs: rec.Latency.Milliseconds(), TTFTMs: rec.TTFT.Milliseconds(),
	}
	if rec.RequestedModel != "" {
		e.RequestParameters = &audit.RequestParameters{ModelID: rec.RequestedModel}
	}
	// Front ends refuse metadata outside Bedrock's limits; checking again
	// here keeps the trail bounded whatever a front end or a peer passed.
	if len(rec.RequestMetadata) > 0 && inference.ValidateMetadata(rec.RequestMetadata) == nil {
		e.RequestMetadata = rec.RequestMetadata
	}
	if d := rec.Deciding; d != nil {
		e.Decision.DecidingStatement = &audit.Statement{Policy: d.Policy, Sid: d.Sid, Index: d.Index, Guardrail: d.Guardrail}
	}
	if rec.PrincipalID == "" {
		e.UserIdentity.Type = ""
	}
	if rec.AuthMethod == "sigv4" {
		e.UserIdentity.AccessKeyID = rec.KeyID
	} else {
		e.UserIdentity.APIKeyID = rec.KeyID
	}
	for _, a := range rec.Attempts {
		e.Attempts = append(e.Attempts, audit.Attempt{Region: a.Region, Outcome: a.Outcome, DurationMs: a.Duration.Milliseconds(), Status: a.Status})
	}
	if rec.Prompt != nil || rec.Completion != "" {
		e.Content = &audit.Content{Prompt: promptText(rec.Prompt), Completion: rec.Completion}
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

// logUnrecorded logs a request whose record failed. While the audit trail
// is unavailable every request fails so: the writer logs the outage once
// and its gap marker counts and names what it lost, so each is only a debug
// line, not a flood of errors.
func (g *Gateway) logUnrecorded(rec *Record, err error) {
	level := slog.LevelError
	if errors.Is(err, audit.ErrUnavailable) {
		level = slog.LevelDebug
	}
	g.log.Log(context.Background(), level, "request not recorded", telemetry.AttrRequestID, rec.RequestID, telemetry.AttrError, err)
}
