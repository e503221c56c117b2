// Package otel is Meridian's OpenTelemetry: the GenAI semantic-convention
// metrics and the traces that follow a request across regions.
//
// Metrics. [Telemetry.Record] receives every finished request (it is a
// [gateway.Recorder]) and records, where the request entered (the source
// side, like meridian_requests_total), gen_ai.client.token.usage,
// gen_ai.server.request.duration, gen_ai.server.time_to_first_token and
// gen_ai.server.time_per_output_token with the semantic conventions' units,
// attributes and bucket boundaries, plus Meridian's bounded dimensions
// (source and inference region, profile label, route). They are served on
// the node's /metrics through the OpenTelemetry Prometheus exporter, in
// the node's own registry, and pushed over OTLP when configured.
//
// Traces. Spans are built from finished records, with the timestamps the
// request path measured, so the request path itself creates no span. What
// must be known before the request finishes is chosen up front and carried
// in the request's context: the trace id and this node's request span id
// when the request arrives ([Telemetry.Handler] honours the caller's W3C
// traceparent as the parent; [Telemetry.Forwarded] the source attempt's
// traceparent from the signed link envelope), and each attempt's span id
// when the attempt starts ([Telemetry.Link], [Telemetry.Backends] wrap the
// executors the gateway calls): a forwarded attempt's span id travels as
// gateway.Job.TraceParent, so the destination's spans are children of the
// source's attempt span. The sampling decision (parent-based ratio) is made
// on arrival too, and travels in the traceparent's flags.
//
// Prompts and completions go on spans only with telemetry.traces.
// record_content, which needs audit.record_content. Nothing here refuses a
// request: a span or metric that cannot be exported is dropped.
package otel
