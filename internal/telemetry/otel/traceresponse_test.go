package otel

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// TestTraceResponse: with tracing on, every answer names the request's
// span in traceresponse (the span the node exports, child of the caller's
// traceparent), and a sampled request's context carries its trace id for
// the log lines written with it.
func TestTraceResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		ratio       float64
		traceparent string
		wantTrace   string // "" for "any new trace id"
		wantFlags   string
		wantLogged  bool
	}{
		{"caller sampled", 0, "00-" + callerTrace + "-00f067aa0ba902b7-01", callerTrace, "01", true},
		{"caller not sampled", 1, "00-" + callerTrace + "-00f067aa0ba902b7-00", callerTrace, "00", false},
		{"root sampled", 1, "", "", "01", true},
		{"root not sampled", 0, "", "", "00", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tel, exp, _ := newTest(t, tc.ratio, false)
			var ctx context.Context
			h := tel.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { ctx = r.Context() }))
			req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
			if tc.traceparent != "" {
				req.Header.Set("traceparent", tc.traceparent)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			got := w.Header().Get("traceresponse")
			parts := strings.Split(got, "-")
			if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 {
				t.Fatalf("traceresponse %q", got)
			}
			if tc.wantTrace != "" && parts[1] != tc.wantTrace {
				t.Errorf("trace id %s, want the caller's %s", parts[1], tc.wantTrace)
			}
			if parts[3] != tc.wantFlags {
				t.Errorf("flags %s, want %s", parts[3], tc.wantFlags)
			}
			if id := telemetry.TraceID(ctx); tc.wantLogged != (id == parts[1]) || (!tc.wantLogged && id != "") {
				t.Errorf("trace id for the logs %q (sampled: %v), header's %s", id, tc.wantLogged, parts[1])
			}
			// The header names the server span the node exports.
			rec := served("source")
			if err := tel.Record(ctx, rec); err != nil {
				t.Fatal(err)
			}
			spans := exp.GetSpans()
			if !tc.wantLogged {
				if len(spans) != 0 {
					t.Errorf("%d spans exported for an unsampled request", len(spans))
				}
				return
			}
			if len(spans) == 0 {
				t.Fatal("no span exported")
			}
			sc := spans[0].SpanContext
			if sc.TraceID().String() != parts[1] || sc.SpanID().String() != parts[2] {
				t.Errorf("exported span %s/%s, header names %s/%s", sc.TraceID(), sc.SpanID(), parts[1], parts[2])
			}
		})
	}
}

// TestForwardedTraceIDLogged: a destination's log lines for a sampled
// forwarded job name the source's trace.
func TestForwardedTraceIDLogged(t *testing.T) {
	t.Parallel()
	tel, _, _ := newTest(t, 0, false)
	for _, tc := range []struct {
		flags, want string
	}{{"01", callerTrace}, {"00", ""}} {
		ctx := tel.Forwarded(context.Background(), "00-"+callerTrace+"-00f067aa0ba902b7-"+tc.flags)
		if got := telemetry.TraceID(ctx); got != tc.want {
			t.Errorf("flags %s: trace id %q, want %q", tc.flags, got, tc.want)
		}
	}
}

// TestClaimWithdrawn: a sampled request whose span is not exported (refused
// before its caller authenticated, or an operation without a GenAI span)
// does not claim it: the Claims recorder, which runs before the answer,
// turns its traceresponse to "not sampled" and withdraws the trace id from
// the lines logged with its context, and no span is exported. A request
// that authenticated keeps both, whatever its status.
func TestClaimWithdrawn(t *testing.T) {
	t.Parallel()
	const sampled = "00-" + callerTrace + "-00f067aa0ba902b7-01"
	tests := []struct {
		name      string
		op        string
		principal string
		status    int
		claimed   bool
	}{
		{"401", gateway.OpChatCompletions, "", http.StatusUnauthorized, false},
		{"403 without a principal (SigV4)", gateway.OpConverse, "", http.StatusForbidden, false},
		{"429 before authentication (body bytes)", gateway.OpConverse, "", http.StatusTooManyRequests, false},
		{"the node's own endpoint, 401", "GetMetrics", "", http.StatusUnauthorized, false},
		{"the node's own endpoint, authenticated", "GetMetrics", "viewer", http.StatusOK, false},
		{"the control plane", gateway.OpListInferenceProfiles, "app", http.StatusOK, false},
		{"a principal's denied request", gateway.OpChatCompletions, "app", http.StatusForbidden, true},
		{"a principal's throttled request", gateway.OpChatCompletions, "app", http.StatusTooManyRequests, true},
		{"served", gateway.OpChatCompletions, "app", http.StatusOK, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tel, exp, _ := newTest(t, 1, false)
			rec := served("source")
			rec.Operation, rec.PrincipalID, rec.Status = tc.op, tc.principal, tc.status
			var ctx context.Context
			h := tel.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctx = r.Context()
				// What the node's recorders do before the answer.
				if err := tel.Claims().Record(context.WithoutCancel(ctx), rec); err != nil {
					t.Error(err)
				}
				w.WriteHeader(tc.status)
			}))
			req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
			req.Header.Set("traceparent", sampled)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			got := w.Result().Header.Get("traceresponse")
			parts := strings.Split(got, "-")
			if len(parts) != 4 || parts[1] != callerTrace {
				t.Fatalf("traceresponse %q", got)
			}
			wantFlags := map[bool]string{true: "01", false: "00"}[tc.claimed]
			if parts[3] != wantFlags {
				t.Errorf("traceresponse flags %s, want %s", parts[3], wantFlags)
			}
			wantID := map[bool]string{true: callerTrace, false: ""}[tc.claimed]
			if id := telemetry.TraceID(ctx); id != wantID {
				t.Errorf("trace id for the logs %q, want %q", id, wantID)
			}
			if err := tel.Record(ctx, rec); err != nil {
				t.Fatal(err)
			}
			if n := len(exp.GetSpans()); (n > 0) != tc.claimed {
				t.Errorf("%d spans exported; claimed: %v", n, tc.claimed)
			}
		})
	}
}

// TestMeridianOperationsAgree: the operations without a span are the
// audit trail's list of Meridian's own operations.
func TestMeridianOperationsAgree(t *testing.T) {
	t.Parallel()
	if !maps.Equal(meridianOperations, audit.MeridianOperations) {
		t.Errorf("meridianOperations %v, audit.MeridianOperations %v", meridianOperations, audit.MeridianOperations)
	}
}

// TestMeridianOperationsHaveNoSpan: operationName refuses every one of
// Meridian's own operations.
func TestMeridianOperationsHaveNoSpan(t *testing.T) {
	t.Parallel()
	for op := range meridianOperations {
		if _, ok := operationName(op); ok {
			t.Errorf("operationName(%q) has a span", op)
		}
	}
}
