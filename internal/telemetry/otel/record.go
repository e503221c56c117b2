package otel

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// Record implements [gateway.Recorder]: the GenAI metrics of a request
// that entered here, and the spans of every sampled request. It never
// fails: telemetry does not refuse work.
func (t *Telemetry) Record(ctx context.Context, rec *gateway.Record) error {
	op, ok := operationName(rec.Operation)
	if !ok {
		return nil
	}
	// A caller that did not authenticate could otherwise have every one
	// of its refused requests traced (its traceparent says "sampled"),
	// and flood the collector; the metrics count it, without an exemplar
	// (it would name a trace that is never exported).
	traced := t.tracing && !unauthenticated(rec)
	var rt *requestTrace
	if traced {
		rt = traceFrom(ctx) // nil when not begun on arrival
	}
	if rec.Side == "source" {
		t.recordMetrics(exemplarContext(rt), rec, op)
	}
	if traced {
		t.recordSpans(rt, rec, op, t.genAIAttrs(rec, op))
	}
	return nil
}

// unauthenticated reports whether rec is a request refused before its
// caller authenticated: a 401, or another refusal (4xx) without a
// principal (a SigV4 403, the 429 of the listener's limit on
// unauthenticated body bytes, a body that stopped arriving before its
// signature could be checked). Its span is not exported.
func unauthenticated(rec *gateway.Record) bool {
	return rec.Status == http.StatusUnauthorized || (rec.PrincipalID == "" && rec.Status >= 400 && rec.Status < 500)
}

// exported reports whether a request recorded as rec, sampled, has its
// spans exported: an operation with a GenAI span (not the control plane,
// the console or the node's own endpoints), by a caller that
// authenticated.
func exported(rec *gateway.Record) bool {
	_, ok := operationName(rec.Operation)
	return ok && !unauthenticated(rec)
}

// Claims returns the recorder that keeps a request's trace claims honest:
// the node runs it before the audit trail's, before the answer. For a
// sampled request whose span will not be exported (exported is false) it
// withdraws the claim: traceresponse says "not sampled" (flags 00) and the
// request's log lines, and its audit event, name no trace id. Without
// tracing it does nothing.
func (t *Telemetry) Claims() gateway.Recorder { return claims{t} }

type claims struct{ t *Telemetry }

func (c claims) Record(ctx context.Context, rec *gateway.Record) error {
	if !c.t.tracing || exported(rec) {
		return nil
	}
	if rt := traceFrom(ctx); rt != nil {
		rt.withdraw(ctx)
	}
	return nil
}

// recordMetrics records the GenAI histograms of a request that entered in
// this region (a forwarded request is counted once, at its source).
//
// ctx carries at most the request's sampled span, for the histograms'
// exemplars (see exemplarContext).
func (t *Telemetry) recordMetrics(ctx context.Context, rec *gateway.Record, op string) {
	k := seriesKey{op: op, model: rec.Model, served: rec.Status == 200, source: rec.SourceRegion, inference: rec.InferenceRegion,
		route: telemetry.RouteLabel(rec.Route)}
	if t.topology != nil {
		k.provider = t.providers.of(t.topology(), rec.InferenceRegion, rec.Model)
	}
	if t.catalog != nil {
		k.profile = telemetry.ProfileLabel(t.catalog(), rec.ProfileID)
	}
	k.errType, _ = failed(rec)
	s := t.series.of(k)
	t.inst.duration.Record(ctx, rec.Latency.Seconds(), s.duration...)
	if u := rec.Usage; u.InputTokens > 0 || u.OutputTokens > 0 {
		t.inst.tokens.Record(ctx, float64(u.InputTokens), s.input...)
		t.inst.tokens.Record(ctx, float64(u.OutputTokens), s.output...)
	}
	if rec.Status != 200 || rec.TTFT <= 0 {
		return
	}
	t.inst.ttft.Record(ctx, rec.TTFT.Seconds(), s.plain...)
	// Time per output token after the first: measurable on a stream that
	// ended well with more than one output token.
	if rec.Stream && rec.ErrorCode == "" && rec.Usage.OutputTokens > 1 && rec.Latency > rec.TTFT {
		t.inst.tpot.Record(ctx, (rec.Latency-rec.TTFT).Seconds()/float64(rec.Usage.OutputTokens-1), s.plain...)
	}
}

// recordSpans writes the request's spans: the request span (server) and
// one client span per call it made (an attempt forwarded to another region,
// or a call of a local backend), with the ids chosen while it ran (rt,
// the trace begun on arrival; nil for a request not begun there).
func (t *Telemetry) recordSpans(rt *requestTrace, rec *gateway.Record, op string, base []attribute.KeyValue) {
	if rt == nil {
		// Not begun on arrival (an embedding program calling the gateway
		// directly): a root, sampled by ratio.
		rt = t.begin(trace.SpanContext{})
	}
	if !rt.sampled() {
		return
	}
	pctx := context.Background()
	if rt.parent.IsValid() {
		pctx = trace.ContextWithRemoteSpanContext(pctx, rt.parent)
	}
	end := rec.Started.Add(rec.Latency)
	attrs := append(base,
		attribute.String(attrRequestID, rec.RequestID), attribute.String(attrSide, rec.Side), attribute.String(attrOperation, rec.Operation),
		attribute.String(attrSourceRegion, rec.SourceRegion), attribute.Bool(attrStream, rec.Stream),
		semconv.HTTPResponseStatusCode(rec.Status))
	for _, a := range []struct{ k, v string }{{attrInferenceRegion, rec.InferenceRegion}, {attrProfile, rec.ProfileID},
		{attrRoute, rec.Route}, {attrRequestedModel, rec.RequestedModel}} {
		if a.v != "" {
			attrs = append(attrs, attribute.String(a.k, a.v))
		}
	}
	if u := rec.Usage; u.InputTokens > 0 || u.OutputTokens > 0 {
		attrs = append(attrs, semconv.GenAIUsageInputTokens(u.InputTokens), semconv.GenAIUsageOutputTokens(u.OutputTokens))
	}
	errType, bad := failed(rec)
	if bad {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	if t.recordContent {
		attrs = append(attrs, contentAttrs(rec)...)
	}
	sctx, span := t.tracer.Start(withPlanned(pctx, rt.sc.TraceID(), rt.sc.SpanID()), spanName(op, rec.Model),
		trace.WithTimestamp(rec.Started), trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	if bad && (rec.Status >= 500 || rec.Status == 200) {
		// A server error, or a stream that failed after its first byte;
		// a refusal (4xx) is the caller's, not this server's.
		span.SetStatus(codes.Error, errType)
	}
	for i, c := range rt.snapshot() {
		t.callSpan(sctx, rt, rec, op, i, c, end)
	}
	span.End(trace.WithTimestamp(end))
}

// callSpan writes the span of the i-th call of a request.
func (t *Telemetry) callSpan(ctx context.Context, rt *requestTrace, rec *gateway.Record, op string, i int, c call, reqEnd time.Time) {
	attrs := []attribute.KeyValue{attribute.String(attrRequestID, rec.RequestID), attribute.Int(attrAttempt, i+1),
		attribute.String(attrDestinationRegion, c.region)}
	name := spanName(op, rec.Model)
	if c.remote {
		name = "forward " + c.region
	} else {
		// A backend call: the GenAI client span of the model in c.region,
		// whichever region finally answered the request.
		attrs = append(attrs, semconv.GenAIOperationNameKey.String(op))
		if t.topology != nil {
			if p := t.providers.of(t.topology(), c.region, rec.Model); p != "" {
				attrs = append(attrs, semconv.GenAIProviderNameKey.String(p))
			}
		}
		if rec.Model != "" {
			attrs = append(attrs, semconv.GenAIRequestModel(rec.Model))
		}
	}
	outcome, status := "ok", 200
	if rec.Side == "source" && i < len(rec.Attempts) && rec.Attempts[i].Region == c.region {
		outcome, status = rec.Attempts[i].Outcome, rec.Attempts[i].Status
	} else if c.err != nil {
		e := inference.AsError(c.err)
		outcome, status = e.Kind.String(), e.Kind.Status()
	}
	attrs = append(attrs, attribute.String(attrAttemptOutcome, outcome))
	if status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
	}
	if outcome != "ok" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(outcome))
	}
	end := c.end
	if end.IsZero() || end.Before(c.start) {
		end = reqEnd
	}
	_, span := t.tracer.Start(withPlanned(ctx, rt.sc.TraceID(), c.span), name, trace.WithTimestamp(c.start),
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	if outcome != "ok" || c.err != nil {
		span.SetStatus(codes.Error, outcome)
	}
	span.End(trace.WithTimestamp(end))
}

// spanName is the GenAI span name: "{operation} {model}".
func spanName(op, model string) string {
	if model == "" {
		return op
	}
	return op + " " + model
}

// message is one message in the GenAI semantic conventions' JSON form of
// gen_ai.input.messages and gen_ai.output.messages.
type message struct {
	Role  string `json:"role"`
	Parts []part `json:"parts"`
}

type part struct {
	Type    string `json:"type"`
	Content string `json:"content"`
}

// contentAttrs are the prompt and completion of rec, when it holds them
// (audit.record_content captures them).
func contentAttrs(rec *gateway.Record) []attribute.KeyValue {
	var out []attribute.KeyValue
	if len(rec.Prompt) > 0 {
		msgs := make([]message, len(rec.Prompt))
		for i, m := range rec.Prompt {
			msgs[i] = message{Role: string(m.Role), Parts: []part{{Type: "text", Content: m.Text()}}}
		}
		if b, err := json.Marshal(msgs); err == nil {
			out = append(out, semconv.GenAIInputMessagesKey.String(string(b)))
		}
	}
	if rec.Completion != "" {
		if b, err := json.Marshal([]message{{Role: "assistant", Parts: []part{{Type: "text", Content: rec.Completion}}}}); err == nil {
			out = append(out, semconv.GenAIOutputMessagesKey.String(string(b)))
		}
	}
	return out
}

// exemplarContext is the context the histograms record with: the SDK reads
// one only for its exemplars (the OpenTelemetry span in it). The request
// path puts no OpenTelemetry span in a request's context (its spans are
// written after it, see recordSpans), so the request's own trace rt, when
// sampled, is put in an empty context: a measurement then links to its
// trace. Otherwise (rt nil: not traced) the empty context: walking a
// request's context chain once per instrument, with an allocation each
// time when it ends in context.WithoutCancel's, was most of a request's
// metrics cost in a node.
func exemplarContext(rt *requestTrace) context.Context {
	if rt != nil && rt.sampled() {
		return trace.ContextWithSpanContext(context.Background(), rt.sc)
	}
	return context.Background()
}
