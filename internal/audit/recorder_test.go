package audit

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/policy"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// TestAuditError: the audit writer's refusals reach clients as 429 (queue
// full) or 503 (trail unavailable), each with a Retry-After.
func TestAuditError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		kind       inference.ErrorKind
		retryAfter time.Duration
	}{
		{"queue full", ErrBackpressure, inference.KindThrottled, time.Second},
		{"disk full", &UnavailableError{Cause: syscall.ENOSPC, RetryAfter: 4 * time.Second}, inference.KindUnavailable, 4 * time.Second},
		{"retry after at least a second", &UnavailableError{Cause: syscall.EIO}, inference.KindUnavailable, time.Second},
	}
	for _, tc := range tests {
		var e *inference.Error
		if err := auditError(tc.err); !errors.As(err, &e) || e.Kind != tc.kind || e.RetryAfter != tc.retryAfter || !errors.Is(err, tc.err) {
			t.Errorf("%s: auditError(%v) = %#v, want kind %v with Retry-After %v wrapping the cause", tc.name, tc.err, err, tc.kind, tc.retryAfter)
		}
	}
	for _, err := range []error{&UnavailableError{Cause: syscall.EIO}, ErrUnavailable} {
		if got := auditError(err); !errors.Is(got, gateway.ErrRecorderOutage) || !errors.Is(got, ErrUnavailable) {
			t.Errorf("auditError(%v) = %v, want it to match gateway.ErrRecorderOutage and ErrUnavailable", err, got)
		}
	}
	if err := auditError(ErrBackpressure); errors.Is(err, gateway.ErrRecorderOutage) {
		t.Errorf("auditError(ErrBackpressure) matches gateway.ErrRecorderOutage; a full queue is no outage")
	}
	if err := auditError(nil); err != nil {
		t.Errorf("auditError(nil) = %v", err)
	}
}

// TestEventOf: a gateway record maps to the audit event field for field:
// the caller's words in requestParameters, the resolved model in modelId,
// the side, the caller's identity and the deciding statement of a denial.
func TestEventOf(t *testing.T) {
	t.Parallel()
	rec := &gateway.Record{RequestID: "r", Operation: "ChatCompletions", Side: "destination", PrincipalID: "team",
		AuthMethod: "apiKey", KeyID: "key-0", SourceRegion: "eu-west-1", ProfileID: "eu.m",
		ProfileARN: "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.m", Model: "m", RequestedModel: "eu.m",
		DenyReason: "guardrail eu-only/DenyOutsideEU", Deciding: &policy.StatementRef{Policy: "eu-only", Sid: "DenyOutsideEU", Index: 1, Guardrail: true},
		Status: 403, Attempts: []gateway.Attempt{{Region: "eu-west-1", Outcome: "ok", Status: 200, Duration: 2 * time.Millisecond}},
		ServiceTier: "flex"}
	e := EventOf(rec)
	if e.ServiceTier != "flex" {
		t.Errorf("EventOf: serviceTier %q, want flex", e.ServiceTier)
	}
	if e.ModelID != "m" || e.RequestParameters == nil || e.RequestParameters.ModelID != "eu.m" || e.InferenceProfileARN != rec.ProfileARN {
		t.Errorf("EventOf: modelId %q requestParameters %+v arn %q, want m, eu.m, %s", e.ModelID, e.RequestParameters, e.InferenceProfileARN, rec.ProfileARN)
	}
	if e.Side != SideDestination || e.UserIdentity.Type != "apiKey" || e.UserIdentity.APIKeyID != "key-0" || e.UserIdentity.AccessKeyID != "" {
		t.Errorf("EventOf: side %s identity %+v, want destination and the caller's apiKey key-0", e.Side, e.UserIdentity)
	}
	if ds := e.Decision.DecidingStatement; ds == nil || ds.Policy != "eu-only" || ds.Sid != "DenyOutsideEU" || ds.Index != 1 || !ds.Guardrail || e.Decision.Allowed {
		t.Errorf("EventOf: decision %+v, want a denial decided by eu-only/DenyOutsideEU #1", e.Decision)
	}
	if len(e.Attempts) != 1 || e.Attempts[0].Region != "eu-west-1" || e.Attempts[0].DurationMs != 2 {
		t.Errorf("EventOf: attempts %+v, want eu-west-1 in 2ms", e.Attempts)
	}
	rec.AuthMethod, rec.Side = "sigv4", "source"
	if e := EventOf(rec); e.UserIdentity.AccessKeyID != "key-0" || e.UserIdentity.APIKeyID != "" || e.Side != SideSource {
		t.Errorf("EventOf(sigv4): identity %+v side %s, want accessKeyId key-0 on the source side", e.UserIdentity, e.Side)
	}
}

// TestEventOfRequestMetadata: request metadata reaches the audit event;
// metadata outside Bedrock's limits never does, whoever passed it.
func TestEventOfRequestMetadata(t *testing.T) {
	t.Parallel()
	ok := map[string]string{"team": "claims"}
	if e := EventOf(&gateway.Record{RequestID: "r", RequestMetadata: ok}); e.RequestMetadata["team"] != "claims" {
		t.Errorf("metadata = %v, want team=claims", e.RequestMetadata)
	}
	bad := map[string]string{"team": strings.Repeat("x", 300)}
	if e := EventOf(&gateway.Record{RequestID: "r", RequestMetadata: bad}); e.RequestMetadata != nil {
		t.Errorf("oversized metadata recorded: %d pairs", len(e.RequestMetadata))
	}
}

// TestEventOfOverhead: the record's overhead maps to overheadMs in
// milliseconds rounded to the microsecond: the source's parts on a source
// event, the node's own part as destination on a destination event.
func TestEventOfOverhead(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	fwd := dispatch.ForwardedOverhead(20*time.Millisecond, 17*time.Millisecond, &dispatch.Timing{Total: 5*time.Millisecond + 400, Upstream: 4 * time.Millisecond})
	tests := []struct {
		name string
		side string
		o    *gateway.Overhead
		want *Overhead
	}{
		{"nothing served", "source", nil, nil},
		{"local", "source", dispatch.LocalOverhead(812*time.Millisecond+410*time.Microsecond, 812*time.Millisecond),
			&Overhead{Total: f(0.41), Source: f(0.41), Upstream: f(812)}},
		{"forwarded", "source", fwd, &Overhead{Total: f(16), Source: f(3), Link: f(12), Destination: f(1), Upstream: f(4)}},
		{"forwarded, unreported", "source", dispatch.ForwardedOverhead(20*time.Millisecond, 17*time.Millisecond, nil), &Overhead{Source: f(3)}},
		{"destination", "destination", dispatch.LocalOverhead(5*time.Millisecond, 4*time.Millisecond),
			&Overhead{Total: f(1), Destination: f(1), Upstream: f(4)}},
	}
	for _, tc := range tests {
		e := EventOf(&gateway.Record{Side: tc.side, Overhead: tc.o})
		if diff := cmp.Diff(tc.want, e.OverheadMs); diff != "" {
			t.Errorf("%s: overheadMs (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestEventOfAllocs pins the cost of building a served request's event:
// one allocation holding the event, its requestParameters, its overhead
// (and the overhead's values) and its first two attempts. A third attempt
// grows the attempts (one more).
func TestEventOfAllocs(t *testing.T) {
	ms := time.Millisecond
	attempt := gateway.Attempt{Region: "eu-west-1", Outcome: "ok", Status: 200, Duration: 2 * ms}
	for _, tc := range []struct {
		name string
		rec  gateway.Record
		want float64
	}{
		{"local", gateway.Record{RequestID: "r", Side: "source", RequestedModel: "eu.m", Status: 200,
			Attempts: []gateway.Attempt{attempt}, Overhead: dispatch.LocalOverhead(3*ms, 2*ms)}, 1},
		{"forwarded", gateway.Record{RequestID: "r", Side: "source", RequestedModel: "eu.m", Status: 200,
			Attempts: []gateway.Attempt{attempt, attempt}, Overhead: dispatch.ForwardedOverhead(9*ms, 7*ms, &dispatch.Timing{Total: 5 * ms, Upstream: 3 * ms})}, 1},
		{"destination", gateway.Record{RequestID: "r", Side: "destination", Status: 200,
			Attempts: []gateway.Attempt{attempt}, Overhead: dispatch.LocalOverhead(3*ms, 2*ms)}, 1},
		{"three attempts", gateway.Record{RequestID: "r", Side: "source", Status: 200,
			Attempts: []gateway.Attempt{attempt, attempt, attempt}}, 2},
	} {
		if n := testing.AllocsPerRun(100, func() { EventOf(&tc.rec) }); n != tc.want {
			t.Errorf("%s: EventOf: %v allocations, want %v", tc.name, n, tc.want)
		}
	}
}

// TestAuditErrorNilAllocs: a written event's (nil) error costs nothing.
func TestAuditErrorNilAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { auditError(nil) }); n != 0 {
		t.Errorf("auditError(nil): %v allocations, want 0", n)
	}
}

// TestRecorderTraceID: the event of a traced request names its trace
// (traceId, the id its log lines carry); an untraced request's event, or
// one whose trace id was withdrawn (not exported), has none, and encodes
// as before. A log with trace ids verifies like any other, beside the
// golden log of format 1.0 without them (TestGoldenLog).
func TestRecorderTraceID(t *testing.T) {
	t.Parallel()
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	withdrawn := telemetry.WithTraceID(context.Background(), id)
	telemetry.WithdrawTraceID(withdrawn)
	tests := []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"traced", telemetry.WithTraceID(context.Background(), id), id},
		{"not traced", context.Background(), ""},
		{"withdrawn", withdrawn, ""},
		{"not a trace id", telemetry.WithTraceID(context.Background(), `"},"x":"`+id[:23]), ""},
		{"upper case", telemetry.WithTraceID(context.Background(), strings.ToUpper(id)), ""},
	}
	root := t.TempDir()
	w := openTest(t, root, newFakeClock(), nil)
	r := Recorder{W: w, Traced: true}
	for i, tc := range tests {
		rec := &gateway.Record{RequestID: fmt.Sprintf("req-%d", i), Operation: "ChatCompletions", Side: "source", Status: 200,
			Started: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
		if err := r.Record(tc.ctx, rec); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
	}
	// A stream's intent carries it too, for the event of a stream a crash
	// interrupts.
	srec := &gateway.Record{RequestID: "req-stream", Operation: "ChatCompletions", Side: "source", Stream: true,
		Started: time.Date(2026, 11, 25, 9, 0, 1, 0, time.UTC)}
	sctx := telemetry.WithTraceID(context.Background(), id)
	if err := r.BeginStream(sctx, srec); err != nil {
		t.Fatal(err)
	}
	srec.Status = 200
	if err := r.Record(sctx, srec); err != nil {
		t.Fatal(err)
	}
	// A node that does not trace does not read it (Traced false).
	if err := (Recorder{W: w}).Record(sctx, &gateway.Record{RequestID: "req-untraced-node", Operation: "ChatCompletions", Side: "source",
		Status: 200, Started: time.Date(2026, 11, 25, 9, 0, 2, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, w.Dir(), w)
	evs := readEvents(t, w.Dir())
	if len(evs) != len(tests)+2 {
		t.Fatalf("%d events, want %d", len(evs), len(tests)+2)
	}
	lines := readLines(t, filepath.Join(w.Dir(), mustFirstLog(t, w.Dir())))
	for i, tc := range tests {
		if evs[i].TraceID != tc.want {
			t.Errorf("%s: traceId %q, want %q", tc.name, evs[i].TraceID, tc.want)
		}
		if has := strings.Contains(lines[i], `"traceId"`); has != (tc.want != "") {
			t.Errorf("%s: line %s", tc.name, lines[i])
		}
	}
	if evs[len(tests)].TraceID != id {
		t.Errorf("stream: traceId %q, want %q", evs[len(tests)].TraceID, id)
	}
	if got := evs[len(tests)+1].TraceID; got != "" {
		t.Errorf("a recorder without Traced wrote traceId %q", got)
	}
}
