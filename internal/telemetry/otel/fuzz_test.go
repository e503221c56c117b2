package otel

import (
	"strings"
	"testing"
)

// FuzzParseTraceParent: a caller's traceparent and tracestate headers
// never panic, and a span context is taken only from a well-formed
// traceparent whose ids it carries.
func FuzzParseTraceParent(f *testing.F) {
	f.Add("00-"+callerTrace+"-00f067aa0ba902b7-01", "")
	f.Add("00-"+callerTrace+"-00f067aa0ba902b7-00", "vendor=abc,other=1")
	f.Add("01-"+callerTrace+"-00f067aa0ba902b7-01-future", "")
	f.Add("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "")
	f.Add("garbage", "=,=")
	f.Fuzz(func(t *testing.T, tp, ts string) {
		sc := parseTraceParent(tp, ts)
		if !sc.IsValid() {
			return
		}
		if !sc.IsRemote() || !strings.Contains(strings.ToLower(tp), sc.TraceID().String()) || !strings.Contains(strings.ToLower(tp), sc.SpanID().String()) {
			t.Fatalf("parseTraceParent(%q) = %v", tp, sc)
		}
	})
}
