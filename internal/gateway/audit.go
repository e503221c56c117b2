package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/inference"
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

// Admit refuses new work while the audit queue is nearly full.
func (a AuditRecorder) Admit() error {
	st := a.W.Stats()
	if st.Capacity > 0 && float64(st.Queued) >= auditHigh*float64(st.Capacity) {
		return &inference.Error{Kind: inference.KindThrottled, RetryAfter: time.Second,
			Message: "the audit trail is saturated; retry shortly", Err: audit.ErrBackpressure}
	}
	return nil
}

// Record implements Recorder.
func (a AuditRecorder) Record(ctx context.Context, rec *Record) error {
	err := a.W.Append(ctx, EventOf(rec))
	if errors.Is(err, audit.ErrBackpressure) {
		return &inference.Error{Kind: inference.KindThrottled, RetryAfter: time.Second, Message: "the audit trail is saturated", Err: err}
	}
	return err
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
