package otel

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// GenAI semantic-convention metric names and units (semantic conventions
// 1.40, gen_ai registry).
const (
	MetricTokenUsage         = "gen_ai.client.token.usage"
	MetricRequestDuration    = "gen_ai.server.request.duration"
	MetricTimeToFirstToken   = "gen_ai.server.time_to_first_token"
	MetricTimePerOutputToken = "gen_ai.server.time_per_output_token"
)

// Meridian's own attributes, beside the semantic conventions'. Their
// values come from bounded sets (regions, profile labels, route reasons).
const (
	attrRegion          = "meridian.region"
	attrSourceRegion    = "meridian.source_region"
	attrInferenceRegion = "meridian.inference_region"
	attrProfile         = "meridian.profile"
	attrRoute           = "meridian.route"
	// Span-only attributes (never metric labels: request ids are unbounded).
	attrRequestID         = "meridian.request_id"
	attrSide              = "meridian.side"
	attrOperation         = "meridian.operation"
	attrStream            = "meridian.stream"
	attrRequestedModel    = "meridian.requested_model"
	attrAttempt           = "meridian.attempt"
	attrAttemptOutcome    = "meridian.attempt.outcome"
	attrDestinationRegion = "meridian.destination_region"
)

// Bucket boundaries the semantic conventions recommend for each histogram.
var (
	tokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	ttftBuckets     = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0}
	tpotBuckets     = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5}
)

// instruments are the GenAI histograms.
type instruments struct {
	tokens, duration, ttft, tpot metric.Float64Histogram
}

func newInstruments(m metric.Meter) (instruments, error) {
	var in instruments
	var err error
	for _, h := range []struct {
		dst               *metric.Float64Histogram
		name, unit, descr string
		buckets           []float64
	}{
		{&in.tokens, MetricTokenUsage, "{token}", "Number of input and output tokens used.", tokenBuckets},
		{&in.duration, MetricRequestDuration, "s", "Generative AI server request duration such as time-to-last byte or last output token.", durationBuckets},
		{&in.ttft, MetricTimeToFirstToken, "s", "Time to generate first token for successful responses.", ttftBuckets},
		{&in.tpot, MetricTimePerOutputToken, "s", "Time per output token generated after the first token for successful responses.", tpotBuckets},
	} {
		if *h.dst, err = m.Float64Histogram(h.name, metric.WithUnit(h.unit), metric.WithDescription(h.descr),
			metric.WithExplicitBucketBoundaries(h.buckets...)); err != nil {
			return in, fmt.Errorf("telemetry: %s: %w", h.name, err)
		}
	}
	return in, nil
}

// meridianOperations are the operations of the node's own endpoints and
// the console (internal/node/listener.go, internal/ui/handler.go): no
// inference, and recorded in the audit trail only, never observed, so
// they have no span (the same list as audit.MeridianOperations in
// internal/audit/cloudtrail.go; TestMeridianOperationsAgree).
var meridianOperations = map[string]bool{
	"GetMetrics": true, "GetRegions": true, "StreamLive": true, "GetRequest": true,
	"OperateRegion": true, "Redirect": true, "UnknownOperation": true,
}

// operationName is gen_ai.operation.name for a record's API operation;
// ok is false for an operation that runs no model (the control plane, the
// node's own endpoints).
func operationName(op string) (name string, ok bool) {
	switch op {
	case gateway.OpListModels, gateway.OpListInferenceProfiles, gateway.OpGetInferenceProfile,
		gateway.OpCreateInferenceProfile, gateway.OpDeleteInferenceProfile,
		"GetMetrics", "GetRegions", "StreamLive", "GetRequest", "OperateRegion", "Redirect", "UnknownOperation": // meridianOperations
		return "", false
	}
	if containsFold(op, "embed") {
		return "embeddings", true
	}
	return "chat", true
}

// containsFold reports whether s contains substr (lower-case ASCII)
// without regard to ASCII case; unlike strings.ToLower, it allocates
// nothing for an operation name with capitals.
func containsFold(s, substr string) bool {
	for i := 0; i+len(substr) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(substr)], substr) {
			return true
		}
	}
	return false
}

// providerName is gen_ai.provider.name for a backend type.
func providerName(backendType string) string {
	switch backendType {
	case topology.BackendOpenAI:
		return "openai"
	case topology.BackendBedrock:
		return "aws.bedrock"
	case topology.BackendMock:
		return "meridian.mock"
	}
	return ""
}

// providerCache maps "region/model" to the provider of that deployment,
// for the topology it was built from.
type providerCache struct {
	p atomic.Pointer[providerMap]
}

type providerMap struct {
	cfg *topology.Config
	m   map[deploymentKey]string
}

// deploymentKey names a deployment by region and model: a key built by
// concatenation would allocate per lookup once longer than 32 bytes.
type deploymentKey struct{ region, model string }

// of returns the provider serving model in region, or "".
func (c *providerCache) of(cfg *topology.Config, region, model string) string {
	if cfg == nil || region == "" || model == "" {
		return ""
	}
	pm := c.p.Load()
	if pm == nil || pm.cfg != cfg {
		pm = &providerMap{cfg: cfg, m: make(map[deploymentKey]string, len(cfg.Deployments))}
		for _, d := range cfg.Deployments {
			pm.m[deploymentKey{d.Region, d.Model}] = providerName(d.Backend.Type)
		}
		c.p.Store(pm)
	}
	return pm.m[deploymentKey{region, model}]
}

// failed reports whether a record is a failure, and its error.type: the
// error kind ("throttled", "timeout", "stream_upstream", "client_closed"),
// or the status code when it has none.
func failed(rec *gateway.Record) (string, bool) {
	if rec.ErrorCode != "" {
		return rec.ErrorCode, true
	}
	if rec.Status != 200 {
		return strconv.Itoa(rec.Status), true
	}
	return "", false
}

// genAIAttrs are the attributes every GenAI metric and span of rec shares.
func (t *Telemetry) genAIAttrs(rec *gateway.Record, op string) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs, semconv.GenAIOperationNameKey.String(op))
	if t.topology != nil {
		if p := t.providers.of(t.topology(), rec.InferenceRegion, rec.Model); p != "" {
			attrs = append(attrs, semconv.GenAIProviderNameKey.String(p))
		}
	}
	if rec.Model != "" {
		attrs = append(attrs, semconv.GenAIRequestModel(rec.Model))
		if rec.Status == 200 {
			attrs = append(attrs, semconv.GenAIResponseModel(rec.Model))
		}
	}
	// Clipped: callers append their own attributes to copies.
	return slices.Clip(attrs)
}

// seriesKey is the label values of one request's GenAI series, each from
// a bounded set.
type seriesKey struct {
	op, provider, model, source, inference, profile, route, errType string
	served                                                          bool
}

// series are the measurement options of one seriesKey, built once: a
// request's metrics then cost no attribute set of their own.
type series struct {
	// plain has no error.type (time to first token, per output token);
	// duration has it when the request failed; input and output add
	// gen_ai.token.type.
	plain, duration, input, output []metric.RecordOption
}

// seriesCache holds the series seen so far; it grows with the label sets
// in use, which are bounded like the labels themselves.
type seriesCache struct {
	mu sync.RWMutex
	m  map[seriesKey]*series
}

func (c *seriesCache) of(k seriesKey) *series {
	c.mu.RLock()
	s, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return s
	}
	attrs := []attribute.KeyValue{semconv.GenAIOperationNameKey.String(k.op), attribute.String(attrSourceRegion, k.source)}
	for _, a := range []struct {
		key attribute.Key
		val string
	}{{semconv.GenAIProviderNameKey, k.provider}, {semconv.GenAIRequestModelKey, k.model},
		{attrInferenceRegion, k.inference}, {attrProfile, k.profile}, {attrRoute, k.route}} {
		if a.val != "" {
			attrs = append(attrs, a.key.String(a.val))
		}
	}
	if k.served && k.model != "" {
		attrs = append(attrs, semconv.GenAIResponseModel(k.model))
	}
	attrs = slices.Clip(attrs)
	opt := func(extra ...attribute.KeyValue) []metric.RecordOption {
		return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(append(attrs, extra...)...))}
	}
	s = &series{plain: opt(), input: opt(semconv.GenAITokenTypeInput), output: opt(semconv.GenAITokenTypeOutput)}
	s.duration = s.plain
	if k.errType != "" {
		s.duration = opt(semconv.ErrorTypeKey.String(k.errType))
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[seriesKey]*series{}
	}
	c.m[k] = s
	c.mu.Unlock()
	return s
}
