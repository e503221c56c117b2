package otel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	otelapi "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// scope is the instrumentation scope of Meridian's meter and tracer.
const scope = "github.com/meridian-gateway/meridian"

// Defaults of the telemetry section.
const (
	defaultTimeout         = 10 * time.Second
	defaultMetricsInterval = 60 * time.Second
)

// Options configure a node's telemetry.
type Options struct {
	// Region is the node's region.
	Region string
	// Config is the topology's telemetry section.
	Config topology.Telemetry
	// Registerer receives the Prometheus exporter's collector: the node's
	// registry with its region label, so /metrics serves the GenAI metrics
	// beside the meridian_* series. Required.
	Registerer prometheus.Registerer
	// Catalog returns the profile catalog in force, for the bounded profile
	// label. If nil, the profile label is left out.
	Catalog func() *profile.Catalog
	// Topology returns the topology in force, for the provider that serves
	// a deployment. If nil, the provider is left out.
	Topology func() *topology.Config
	// Getenv reads the OTLP headers' environment variables. If nil, no
	// header is set.
	Getenv func(string) string
	// SpanExporter, if set, receives the spans instead of the OTLP
	// exporter (tests), synchronously.
	SpanExporter sdktrace.SpanExporter
	// Clock times attempts (and paces the export-error log). If nil,
	// clock.Wall.
	Clock  clock.Clock
	Logger *slog.Logger
}

// Telemetry is one node's OpenTelemetry: it records the GenAI metrics and
// the spans of every finished request ([Telemetry.Record]). It is safe for
// concurrent use; Shutdown flushes what is pending.
type Telemetry struct {
	region        string
	tracing       bool
	recordContent bool
	sampler       sdktrace.Sampler
	tracer        trace.Tracer
	tp            *sdktrace.TracerProvider
	mp            *sdkmetric.MeterProvider
	inst          instruments
	catalog       func() *profile.Catalog
	topology      func() *topology.Config
	providers     providerCache
	// timeout bounds one export, and the final flush.
	timeout time.Duration
	series  seriesCache
	now     func() time.Time
}

var _ gateway.Recorder = (*Telemetry)(nil)

// New builds a node's telemetry: the GenAI instruments on the Prometheus
// exporter (always), the OTLP metric push and the tracer when configured.
// It fails on a header whose environment variable is empty.
func New(opts Options) (*Telemetry, error) {
	if opts.Registerer == nil {
		return nil, errors.New("telemetry: no Prometheus registerer")
	}
	cfg := opts.Config
	t := &Telemetry{region: opts.Region, tracing: cfg.Traces.Enabled, recordContent: cfg.Traces.RecordContent,
		catalog: opts.Catalog, topology: opts.Topology, now: clock.Or(opts.Clock).Now}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	setErrorHandler(opts.Logger, t.now)
	headers, err := otlpHeaders(cfg.OTLP, opts.Getenv)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := otlpTLS(cfg.OTLP)
	if err != nil {
		return nil, err
	}
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("meridian"), attribute.String(attrRegion, opts.Region))

	prom, err := promexporter.New(promexporter.WithRegisterer(opts.Registerer), promexporter.WithoutScopeInfo(), promexporter.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	timeout := cfg.OTLP.Timeout.Or(defaultTimeout)
	t.timeout = timeout
	if cfg.Metrics.OTLP && cfg.OTLP.Endpoint != "" {
		o := []otlpmetrichttp.Option{otlpmetrichttp.WithEndpointURL(endpointURL(cfg.OTLP.Endpoint, "/v1/metrics")),
			otlpmetrichttp.WithHeaders(headers), otlpmetrichttp.WithTimeout(timeout)}
		if tlsConfig != nil {
			o = append(o, otlpmetrichttp.WithTLSClientConfig(tlsConfig))
		}
		exp, err := otlpmetrichttp.New(context.Background(), o...)
		if err != nil {
			return nil, fmt.Errorf("telemetry.otlp.endpoint: %w", err)
		}
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(cfg.Metrics.Interval.Or(defaultMetricsInterval)))))
	}
	t.mp = sdkmetric.NewMeterProvider(mopts...)
	if t.inst, err = newInstruments(t.mp.Meter(scope)); err != nil {
		t.mp.Shutdown(context.Background())
		return nil, err
	}

	ratio := 1.0
	if r := cfg.Traces.SampleRatio; r != nil {
		ratio = *r
	}
	t.sampler = sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
	if t.tracing {
		var sp sdktrace.SpanProcessor
		switch {
		case opts.SpanExporter != nil:
			sp = sdktrace.NewSimpleSpanProcessor(opts.SpanExporter)
		case cfg.OTLP.Endpoint != "":
			o := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpointURL(cfg.OTLP.Endpoint, "/v1/traces")),
				otlptracehttp.WithHeaders(headers), otlptracehttp.WithTimeout(timeout)}
			if tlsConfig != nil {
				o = append(o, otlptracehttp.WithTLSClientConfig(tlsConfig))
			}
			exp, err := otlptracehttp.New(context.Background(), o...)
			if err != nil {
				t.mp.Shutdown(context.Background())
				return nil, fmt.Errorf("telemetry.otlp.endpoint: %w", err)
			}
			sp = sdktrace.NewBatchSpanProcessor(exp)
		default:
			t.mp.Shutdown(context.Background())
			return nil, errors.New("telemetry.traces.enabled: traces need telemetry.otlp.endpoint")
		}
		t.tp = sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSampler(t.sampler), sdktrace.WithIDGenerator(plannedIDs{}),
			sdktrace.WithSpanProcessor(sp), sdktrace.WithRawSpanLimits(spanLimits))
		t.tracer = t.tp.Tracer(scope)
	}
	return t, nil
}

// spanLimits bound what one span carries; a recorded prompt longer than
// the value limit is cut.
var spanLimits = sdktrace.SpanLimits{AttributeValueLengthLimit: 32 << 10, AttributeCountLimit: 64, EventCountLimit: 16,
	LinkCountLimit: 16, AttributePerEventCountLimit: 16, AttributePerLinkCountLimit: 16}

// Tracing reports whether traces are recorded.
func (t *Telemetry) Tracing() bool { return t.tracing }

// ForceFlush exports the spans and metrics pending now.
func (t *Telemetry) ForceFlush(ctx context.Context) error {
	var errs []error
	if t.tp != nil {
		errs = append(errs, t.tp.ForceFlush(ctx))
	}
	errs = append(errs, t.mp.ForceFlush(ctx))
	return errors.Join(errs...)
}

// Shutdown flushes and stops the exporters, waiting at most for ctx or the
// export timeout (a collector that is down must not hold up a drain); Record
// does nothing after it.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	var errs []error
	if t.tp != nil {
		errs = append(errs, t.tp.Shutdown(ctx))
	}
	errs = append(errs, t.mp.Shutdown(ctx))
	return errors.Join(errs...)
}

// exportErrors routes the OpenTelemetry SDK's errors (failed exports,
// mostly) to a node's log, at most one line per errorLogInterval with the
// number of errors since the last one: a collector that is down must not
// flood the log. The SDK's error handler is global to the process; the
// first node's logger gets it (the demo runs several nodes in one process).
var exportErrors struct {
	once   sync.Once
	mu     sync.Mutex
	last   time.Time
	missed int
}

const errorLogInterval = 30 * time.Second

func setErrorHandler(log *slog.Logger, timeNow func() time.Time) {
	exportErrors.once.Do(func() {
		otelapi.SetErrorHandler(otelapi.ErrorHandlerFunc(func(err error) {
			e := &exportErrors
			e.mu.Lock()
			now := timeNow()
			if !e.last.IsZero() && now.Sub(e.last) < errorLogInterval {
				e.missed++
				e.mu.Unlock()
				return
			}
			missed := e.missed
			e.last, e.missed = now, 0
			e.mu.Unlock()
			log.Warn("telemetry export failed; spans or metrics were dropped", "error", err, "errors_since_last_line", missed)
		}))
	})
}

// endpointURL is the OTLP/HTTP URL of a signal under the collector's base.
func endpointURL(base, path string) string { return strings.TrimRight(base, "/") + path }

// otlpTLS is the TLS configuration of exports to an https endpoint: TLS
// 1.2 or newer, with the CA bundle of ca_file when set; nil for http.
func otlpTLS(o topology.OTLP) (*tls.Config, error) {
	if !strings.HasPrefix(o.Endpoint, "https://") {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile == "" {
		return c, nil
	}
	pem, err := os.ReadFile(o.CAFile)
	if err != nil {
		return nil, fmt.Errorf("telemetry.otlp.ca_file: %w (fix: point it to a PEM bundle of the collector's CA)", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("telemetry.otlp.ca_file: %s holds no PEM certificate (fix: point it to a PEM bundle of the collector's CA)", o.CAFile)
	}
	c.RootCAs = pool
	return c, nil
}

// otlpHeaders reads the export headers from their environment variables.
func otlpHeaders(o topology.OTLP, getenv func(string) string) (map[string]string, error) {
	if len(o.HeadersEnv) == 0 {
		return nil, nil
	}
	h := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(o.HeadersEnv)) {
		env := o.HeadersEnv[name]
		v := ""
		if getenv != nil {
			v = getenv(env)
		}
		if v == "" {
			return nil, fmt.Errorf("telemetry.otlp.headers_env.%s: environment variable %s is empty or not set (fix: export it, or remove the header)", name, env)
		}
		h[name] = v
	}
	return h, nil
}
