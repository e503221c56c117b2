package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// TestUniqueKeys: the audit writer's logger added component and region on
// top of the node's, and JSON lines carried each key twice.
func TestUniqueKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		log  func(*slog.Logger)
		want string
	}{
		{"with twice", func(l *slog.Logger) {
			l.With(AttrComponent, "node", AttrRegion, "eu-west-1").With(AttrComponent, "audit", AttrRegion, "eu-west-1").Info("m", "k", 1)
		}, `{"level":"INFO","msg":"m","component":"audit","region":"eu-west-1","k":1}`},
		{"call repeats a with key", func(l *slog.Logger) {
			l.With(AttrComponent, "audit").Info("m", AttrComponent, "quota")
		}, `{"level":"INFO","msg":"m","component":"quota"}`},
		{"groups keep their own keys", func(l *slog.Logger) {
			l.With(AttrComponent, "a").WithGroup("g").With(AttrComponent, "b").With(AttrComponent, "c").Info("m")
		}, `{"level":"INFO","msg":"m","component":"a","g":{"component":"c"}}`},
		{"nothing to merge", func(l *slog.Logger) { l.Info("m", "k", "v") }, `{"level":"INFO","msg":"m","k":"v"}`},
		{"trace id from the context", func(l *slog.Logger) {
			l.With(AttrComponent, "gateway").InfoContext(WithTraceID(context.Background(), "4bf92f3577b34da6a3ce929d0e0e4736"), "m", "k", 1)
		}, `{"level":"INFO","msg":"m","component":"gateway","k":1,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`},
		{"trace id alone", func(l *slog.Logger) {
			l.InfoContext(WithTraceID(context.Background(), "4bf92f3577b34da6a3ce929d0e0e4736"), "m")
		}, `{"level":"INFO","msg":"m","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`},
		{"no trace id in the context", func(l *slog.Logger) { l.InfoContext(context.Background(), "m") }, `{"level":"INFO","msg":"m"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey && len(groups) == 0 {
					return slog.Attr{}
				}
				return a
			}})
			tc.log(slog.New(UniqueKeys(h)))
			got := strings.TrimSpace(buf.String())
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("not JSON: %s", got)
			}
		})
	}
}

// BenchmarkTraceIDDeepContext is the cost the audit recorder pays per
// request to read the trace id (telemetry.TraceID) from a request's
// context as deep as a node's (net/http's values, the connection's, the
// node's and a detached copy), with and without a trace id in it.
func BenchmarkTraceIDDeepContext(b *testing.B) {
	type key int
	for _, traced := range []bool{false, true} {
		ctx := context.Background()
		if traced {
			ctx = WithTraceID(ctx, "4bf92f3577b34da6a3ce929d0e0e4736")
		}
		for i := range 12 {
			ctx = context.WithValue(ctx, key(i), i)
		}
		ctx, cancel := context.WithCancel(ctx)
		ctx = context.WithoutCancel(ctx)
		b.Run(map[bool]string{false: "untraced", true: "traced"}[traced], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if TraceID(ctx) == "x" {
					b.Fatal()
				}
			}
		})
		cancel()
	}
}
