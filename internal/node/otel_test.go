package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes every export
// (protobuf) and keeps the spans with their node's region.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []receivedSpan
	// metrics holds the names of the metrics pushed, by region.
	metrics map[string][]string
	// auth is the Authorization header of the last export.
	auth string
}

type receivedSpan struct {
	region string
	*tracepb.Span
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{metrics: map[string][]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		r.mu.Lock()
		r.auth = req.Header.Get("Authorization")
		r.mu.Unlock()
		if req.URL.Path == "/v1/metrics" && err == nil {
			var export colmetricpb.ExportMetricsServiceRequest
			if err := proto.Unmarshal(body, &export); err != nil {
				t.Errorf("OTLP receiver: %v", err)
				http.Error(w, "malformed", http.StatusBadRequest)
				return
			}
			r.mu.Lock()
			for _, rm := range export.ResourceMetrics {
				region := attrString(rm.Resource.GetAttributes(), "meridian.region")
				for _, sm := range rm.ScopeMetrics {
					for _, m := range sm.Metrics {
						r.metrics[region] = append(r.metrics[region], m.Name+" "+m.Unit)
					}
				}
			}
			r.mu.Unlock()
			out, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.Write(out)
			return
		}
		if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
			t.Errorf("OTLP receiver: %s %s (%s), %v", req.Method, req.URL.Path, req.Header.Get("Content-Type"), err)
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		var export coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &export); err != nil {
			t.Errorf("OTLP receiver: %v", err)
			http.Error(w, "malformed", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range export.ResourceSpans {
			region := attrString(rs.Resource.GetAttributes(), "meridian.region")
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					r.spans = append(r.spans, receivedSpan{region: region, Span: s})
				}
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(r.Close)
	return r
}

// trace returns the spans received for a trace id.
func (r *otlpReceiver) trace(id string) []receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []receivedSpan
	for _, s := range r.spans {
		if hex.EncodeToString(s.TraceId) == id {
			out = append(out, s)
		}
	}
	return out
}

func attrString(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// TestTraceAcrossRegions: a request entering eu-west-1 with the caller's
// traceparent and served in eu-central-1 (eu-west-1's model is throttled)
// arrives at an OTLP receiver as one trace: the source's server span (child
// of the caller's span), a client span per attempt (the forward to
// eu-central-1 among them), and the destination's server span, a child of
// that forward span, with its backend call below it. Streams too. The
// GenAI metrics are pushed to the same receiver, with the header whose
// value the environment holds.
func TestTraceAcrossRegions(t *testing.T) {
	rcv := startOTLPReceiver(t)
	t.Setenv("MERIDIAN_TEST_OTLP_AUTH", "Bearer collector-token")
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}},
		fmt.Sprintf("telemetry: {otlp: {endpoint: %q, headers_env: {authorization: MERIDIAN_TEST_OTLP_AUTH}}, traces: {enabled: true}, metrics: {otlp: true}}\n", rcv.URL))
	c.mocks["eu-west-1"].SetThrottled(time.Minute)

	for i, stream := range []bool{false, true} {
		traceID := fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e473%d", i)
		const callerSpan = "00f067aa0ba902b7"
		req, _ := http.NewRequest("POST", c.url("eu-west-1")+"/v1/chat/completions", strings.NewReader(chatBody("eu.demo.chat-small", stream)))
		req.Header.Set("Authorization", "Bearer "+c.key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-"+traceID+"-"+callerSpan+"-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Meridian-Inference-Region") != "eu-central-1" {
			t.Fatalf("stream=%v: status %d, inference region %q, body %s; want 200 from eu-central-1", stream, resp.StatusCode, resp.Header.Get("X-Meridian-Inference-Region"), body)
		}
		for _, r := range []string{"eu-west-1", "eu-central-1"} {
			if err := c.nodes[r].FlushTelemetry(t.Context()); err != nil {
				t.Fatalf("flush %s: %v", r, err)
			}
		}

		spans := rcv.trace(traceID)
		byID := map[string]receivedSpan{}
		for _, s := range spans {
			byID[hex.EncodeToString(s.SpanId)] = s
		}
		find := func(what, region string, kind tracepb.Span_SpanKind, name string) receivedSpan {
			t.Helper()
			for _, s := range spans {
				if s.region == region && s.Kind == kind && (name == "" || s.Name == name) {
					return s
				}
			}
			var got []string
			for _, s := range spans {
				got = append(got, fmt.Sprintf("%s %s %q parent %x", s.region, s.Kind, s.Name, s.ParentSpanId))
			}
			t.Fatalf("stream=%v: no %s span (%s, %s, %q) in trace %s; got:\n%s", stream, what, region, kind, name, traceID, strings.Join(got, "\n"))
			return receivedSpan{}
		}
		source := find("source", "eu-west-1", tracepb.Span_SPAN_KIND_SERVER, "chat demo.chat-small")
		forward := find("forward", "eu-west-1", tracepb.Span_SPAN_KIND_CLIENT, "forward eu-central-1")
		dest := find("destination", "eu-central-1", tracepb.Span_SPAN_KIND_SERVER, "chat demo.chat-small")
		backend := find("backend call", "eu-central-1", tracepb.Span_SPAN_KIND_CLIENT, "chat demo.chat-small")
		links := []struct {
			what          string
			child, parent []byte
		}{
			{"source under the caller's span", source.ParentSpanId, mustHex(t, callerSpan)},
			{"forward under the source", forward.ParentSpanId, source.SpanId},
			{"destination under the forward", dest.ParentSpanId, forward.SpanId},
			{"backend call under the destination", backend.ParentSpanId, dest.SpanId},
		}
		for _, l := range links {
			if !bytes.Equal(l.child, l.parent) {
				t.Errorf("stream=%v: %s: parent span %x, want %x", stream, l.what, l.child, l.parent)
			}
		}
		for _, s := range spans {
			if s.ParentSpanId != nil && !bytes.Equal(s.ParentSpanId, mustHex(t, callerSpan)) {
				if _, ok := byID[hex.EncodeToString(s.ParentSpanId)]; !ok {
					t.Errorf("stream=%v: span %q in %s has a parent %x outside the trace", stream, s.Name, s.region, s.ParentSpanId)
				}
			}
			if s.StartTimeUnixNano == 0 || s.EndTimeUnixNano < s.StartTimeUnixNano {
				t.Errorf("stream=%v: span %q in %s runs from %d to %d", stream, s.Name, s.region, s.StartTimeUnixNano, s.EndTimeUnixNano)
			}
		}
		if forward.StartTimeUnixNano > dest.StartTimeUnixNano || dest.EndTimeUnixNano > source.EndTimeUnixNano+uint64(time.Second) {
			t.Errorf("stream=%v: forward starts at %d after the destination's %d, or the destination outlasts the source", stream, forward.StartTimeUnixNano, dest.StartTimeUnixNano)
		}
		for _, a := range []struct {
			span      receivedSpan
			key, want string
		}{
			{source, "gen_ai.operation.name", "chat"}, {source, "gen_ai.request.model", "demo.chat-small"},
			{source, "gen_ai.provider.name", "openai"}, {source, "meridian.inference_region", "eu-central-1"},
			{source, "meridian.side", "source"}, {dest, "meridian.side", "destination"},
			{dest, "meridian.request_id", attrString(source.Attributes, "meridian.request_id")},
			{backend, "gen_ai.provider.name", "openai"}, {forward, "meridian.attempt.outcome", "ok"},
		} {
			if got := attrString(a.span.Attributes, a.key); got != a.want || got == "" {
				t.Errorf("stream=%v: span %q in %s: %s = %q, want %q", stream, a.span.Name, a.span.region, a.key, got, a.want)
			}
		}
		t.Logf("stream=%v: route %s, %d spans", stream, attrString(source.Attributes, "meridian.route"), len(spans))
		if strings.HasPrefix(attrString(source.Attributes, "meridian.route"), "failover") {
			// The local attempt failed first: its span says so.
			local := find("local attempt", "eu-west-1", tracepb.Span_SPAN_KIND_CLIENT, "chat demo.chat-small")
			if !bytes.Equal(local.ParentSpanId, source.SpanId) || attrString(local.Attributes, "error.type") != "throttled" ||
				local.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || local.EndTimeUnixNano > forward.StartTimeUnixNano {
				t.Errorf("stream=%v: local attempt span %v, want a throttled child of the source ending before the forward", stream, local)
			}
		}
		for _, s := range spans {
			for _, kv := range s.Attributes {
				if kv.Key == "gen_ai.input.messages" || kv.Key == "gen_ai.output.messages" {
					t.Errorf("span %q carries %s without record_content", s.Name, kv.Key)
				}
			}
		}
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.auth != "Bearer collector-token" {
		t.Errorf("exports sent Authorization %q, want the value of MERIDIAN_TEST_OTLP_AUTH", rcv.auth)
	}
	for _, want := range []string{"gen_ai.client.token.usage {token}", "gen_ai.server.request.duration s",
		"gen_ai.server.time_to_first_token s", "gen_ai.server.time_per_output_token s"} {
		if !slices.Contains(rcv.metrics["eu-west-1"], want) {
			t.Errorf("OTLP metrics from eu-west-1 %v lack %q", rcv.metrics["eu-west-1"], want)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGenAIMetrics: /metrics serves the GenAI semantic-convention
// histograms through the OpenTelemetry Prometheus exporter, beside the
// meridian_* series, with the conventions' names (after the exporter's
// translation), units, attributes and bucket boundaries, counted where the
// request entered.
func TestGenAIMetrics(t *testing.T) {
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}}, "")
	c.mocks["eu-west-1"].SetThrottled(time.Minute)
	for _, stream := range []bool{false, true} {
		if status, h, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", stream), c.key); status != 200 || h.Get("X-Meridian-Inference-Region") != "eu-central-1" {
			t.Fatalf("stream=%v: status %d from %q: %s", stream, status, h.Get("X-Meridian-Inference-Region"), body)
		}
	}
	if status, _, _ := c.post("eu-west-1", chatBody("us.demo.chat-small", false), c.key); status != 404 {
		t.Fatalf("an unknown profile: status %d, want 404", status)
	}
	families := scrape(t, c.url("eu-west-1"), c.key)
	served := map[string]string{"region": "eu-west-1", "gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai",
		"gen_ai_request_model": "demo.chat-small", "gen_ai_response_model": "demo.chat-small",
		"meridian_source_region": "eu-west-1", "meridian_inference_region": "eu-central-1", "meridian_profile": "eu.demo.chat-small"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range served {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		family  string
		labels  map[string]string
		count   uint64
		buckets []float64
	}{
		{"gen_ai_client_token_usage", with(map[string]string{"gen_ai_token_type": "input"}), 2,
			[]float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}},
		{"gen_ai_client_token_usage", with(map[string]string{"gen_ai_token_type": "output"}), 2, nil},
		{"gen_ai_server_request_duration_seconds", served, 0,
			[]float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}},
		{"gen_ai_server_time_to_first_token_seconds", served, 2,
			[]float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0}},
		{"gen_ai_server_time_per_output_token_seconds", served, 1,
			[]float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5}},
		// A refusal: no model ran, so no model or provider; error.type
		// says why.
		{"gen_ai_server_request_duration_seconds", map[string]string{"region": "eu-west-1", "gen_ai_operation_name": "chat",
			"meridian_source_region": "eu-west-1", "error_type": "not_found"}, 1, nil},
	}
	for _, tc := range tests {
		f, ok := families[tc.family]
		if !ok {
			t.Errorf("/metrics lacks %s (families: %v)", tc.family, slices.Sorted(mapKeys(families)))
			continue
		}
		if f.GetType() != dto.MetricType_HISTOGRAM {
			t.Errorf("%s is a %s, want a histogram", tc.family, f.GetType())
		}
		ms := findMetrics(f, tc.labels)
		if len(ms) == 0 {
			t.Errorf("%s has no series with labels %v; series:\n%s", tc.family, tc.labels, seriesOf(f))
			continue
		}
		var count uint64
		for _, m := range ms {
			count += m.GetHistogram().GetSampleCount()
			if tc.buckets != nil {
				var got []float64
				for _, b := range m.GetHistogram().GetBucket() {
					got = append(got, b.GetUpperBound())
				}
				if want := append(slices.Clip(tc.buckets), math.Inf(1)); !slices.Equal(got, want) {
					t.Errorf("%s buckets %v, want %v", tc.family, got, want)
				}
			}
		}
		if tc.count != 0 && count != tc.count {
			t.Errorf("%s%v: count %d, want %d", tc.family, tc.labels, count, tc.count)
		}
	}
	if _, ok := families["meridian_requests_total"]; !ok {
		t.Error("/metrics lost meridian_requests_total")
	}
	// A forwarded request is counted where it entered, not again where it ran.
	if f, ok := scrape(t, c.url("eu-central-1"), c.key)["gen_ai_client_token_usage"]; ok && len(f.GetMetric()) > 0 {
		t.Errorf("the destination counts token usage:\n%s", seriesOf(f))
	}
}

func scrape(t *testing.T, url, key string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// findMetrics returns f's series whose labels are exactly want, but for
// meridian_route when want leaves it out: the first request fails over,
// the next ones go where the headroom is.
func findMetrics(f *dto.MetricFamily, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if _, ok := want["meridian_route"]; !ok {
			if r, ok := got["meridian_route"]; ok && r != "failover" && r != "headroom" {
				continue
			}
			delete(got, "meridian_route")
		}
		if maps.Equal(got, want) {
			out = append(out, m)
		}
	}
	return out
}

func seriesOf(f *dto.MetricFamily) string {
	var b strings.Builder
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			fmt.Fprintf(&b, "%s=%q ", l.GetName(), l.GetValue())
		}
		b.WriteString("\n")
	}
	return b.String()
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestCollectorDown: a collector that is down or never answers costs
// requests nothing: they are served while exports fail or hang. Flushing
// to a collector that refuses connections fails with the refusal itself,
// not at a deadline: the flush's context is a hang guard only.
func TestCollectorDown(t *testing.T) {
	t.Run("refusing", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close() // its address now refuses connections
		c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}},
			fmt.Sprintf("telemetry: {otlp: {endpoint: %q, timeout: 1s}, traces: {enabled: true}, metrics: {otlp: true}}\n", down.URL))
		for _, stream := range []bool{false, true} {
			if status, _, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", stream), c.key); status != 200 {
				t.Fatalf("stream=%v: status %d %s, want 200 with the collector down", stream, status, body)
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
		defer cancel()
		err := c.nodes["eu-west-1"].FlushTelemetry(ctx)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || ctx.Err() != nil {
			t.Errorf("FlushTelemetry with the collector down = %v, want the connection's refusal (before the hang guard: %v)", err, ctx.Err())
		}
	})
	t.Run("silent", func(t *testing.T) {
		// The collector holds every export until the test ends.
		release := make(chan struct{})
		holding := make(chan struct{}, 64)
		silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			holding <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer silent.Close()
		c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}},
			fmt.Sprintf("telemetry: {otlp: {endpoint: %q, timeout: 1m}, traces: {enabled: true}, metrics: {otlp: true}}\n", silent.URL))
		defer close(release)                // before the cluster's shutdown flushes
		guard := time.NewTimer(time.Minute) // a hang guard only
		defer guard.Stop()
		serve := func(streams ...bool) {
			t.Helper()
			answered := make(chan struct{})
			go func() {
				defer close(answered)
				for _, stream := range streams {
					if status, _, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", stream), c.key); status != 200 {
						t.Errorf("stream=%v: status %d %s, want 200 with the collector silent", stream, status, body)
					}
				}
			}()
			select {
			case <-answered:
			case <-guard.C:
				t.Fatal("requests wait on the silent collector")
			}
		}
		serve(false)
		// Flush what that request recorded: the collector holds the export.
		flushed := make(chan error, 1)
		go func() { flushed <- c.nodes["eu-west-1"].FlushTelemetry(t.Context()) }()
		select {
		case <-holding:
		case <-guard.C:
			t.Fatal("the flush sent the collector nothing")
		}
		// Requests go on, recording spans and metrics, while it does.
		serve(false, true)
		select {
		case err := <-flushed:
			t.Errorf("FlushTelemetry returned %v while the collector held its export", err)
		default:
		}
	})
}
