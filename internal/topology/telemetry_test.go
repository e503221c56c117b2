package topology

import (
	"errors"
	"strings"
	"testing"
)

// TestTelemetryValidation: every telemetry problem names its field and a
// fix; a valid section parses, and tracing stays off by default.
func TestTelemetryValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		yaml  string // appended to base
		field string // "" when valid
		msg   string
	}{
		{"off by default", "", "", ""},
		{"traces and metrics pushed", "telemetry: {otlp: {endpoint: \"https://otel.example:4318\", headers_env: {authorization: OTLP_AUTH}, timeout: 5s}, traces: {enabled: true, sample_ratio: 0.25}, metrics: {otlp: true, interval: 15s}}\n", "", ""},
		{"endpoint without scheme", "telemetry: {otlp: {endpoint: \"otel:4318\"}}\n", "telemetry.otlp.endpoint", "is not an http or https base URL"},
		{"endpoint with a query", "telemetry: {otlp: {endpoint: \"http://otel:4318/?a=b\"}}\n", "telemetry.otlp.endpoint", "is not an http or https base URL"},
		{"traces without endpoint", "telemetry: {traces: {enabled: true}}\n", "telemetry.traces.enabled", "traces need telemetry.otlp.endpoint"},
		{"metrics without endpoint", "telemetry: {metrics: {otlp: true}}\n", "telemetry.metrics.otlp", "pushing metrics needs telemetry.otlp.endpoint"},
		{"ratio above one", "telemetry: {otlp: {endpoint: \"http://otel:4318\"}, traces: {enabled: true, sample_ratio: 1.5}}\n", "telemetry.traces.sample_ratio", "1.5 is not between 0 and 1"},
		{"content without audit content", "telemetry: {otlp: {endpoint: \"http://otel:4318\"}, traces: {enabled: true, record_content: true}}\n", "telemetry.traces.record_content", "needs audit.record_content"},
		{"secret instead of env name", "telemetry: {otlp: {endpoint: \"http://otel:4318\", headers_env: {authorization: \"Bearer abc\"}}}\n", "telemetry.otlp.headers_env.authorization", "is not an environment variable name"},
		{"bad header name", "telemetry: {otlp: {endpoint: \"http://otel:4318\", headers_env: {\"x y\": OTLP_AUTH}}}\n", "telemetry.otlp.headers_env.x y", "is not an HTTP header name"},
		{"CA bundle for plain http", "telemetry: {otlp: {endpoint: \"http://otel:4318\", ca_file: ca.pem}}\n", "telemetry.otlp.ca_file", "needs an https endpoint"},
		{"interval too short", "telemetry: {otlp: {endpoint: \"http://otel:4318\"}, metrics: {otlp: true, interval: 10ms}}\n", "telemetry.metrics.interval", "is too short"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse([]byte(base+tc.yaml), "topo.yaml")
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Parse(%s) = %v, want valid", tc.yaml, err)
				}
				if tc.yaml == "" && (cfg.Telemetry.Traces.Enabled || cfg.Telemetry.OTLP.Endpoint != "") {
					t.Errorf("telemetry = %+v, want everything off", cfg.Telemetry)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse(%s) error = %v, want *ValidationError", tc.yaml, err)
			}
			for _, p := range ve.Problems {
				if p.Field == tc.field && strings.Contains(p.Msg, tc.msg) {
					if p.Hint == "" {
						t.Errorf("problem %v has no fix", p)
					}
					return
				}
			}
			t.Errorf("Parse(%s) problems:\n%v\nwant one at %q containing %q", tc.yaml, err, tc.field, tc.msg)
		})
	}
}
