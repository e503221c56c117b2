package topology

import (
	"errors"
	"strings"
	"testing"
)

// TestServerLimitsAndOpsListen: server.ops_listen and server.limits are
// validated with the field path and a fix.
func TestServerLimitsAndOpsListen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, server, field, msg string
	}{
		{"ops_listen without port", `ops_listen: "localhost"`, "server.ops_listen", "is not a listen address"},
		{"negative per-IP byte budget", `limits: {max_unauthenticated_bytes_per_ip: -1}`, "server.limits.max_unauthenticated_bytes_per_ip", "would refuse a body"},
		{"byte budget below one body", `max_request_bytes: 8388608, limits: {max_unauthenticated_bytes_per_ip: 4194304}`, "server.limits.max_unauthenticated_bytes_per_ip", "would refuse a body"},
		{"negative per-IP connection limit", `limits: {max_unauthenticated_connections_per_ip: -2}`, "server.limits.max_unauthenticated_connections_per_ip", "must not be negative"},
		{"header timeout too short", `limits: {read_header_timeout: 1ms}`, "server.limits.read_header_timeout", "too short"},
		{"body timeout too short", `limits: {body_read_timeout: 10ms}`, "server.limits.body_read_timeout", "too short"},
		{"valid", `ops_listen: "127.0.0.1:9090", limits: {max_unauthenticated_bytes_per_ip: 33554432, read_header_timeout: 5s, body_read_timeout: 30s}`, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := strings.Replace(base, "policies:\n  invoke", "server: {"+tc.server+"}\npolicies:\n  invoke", 1)
			c, err := Parse([]byte(in), "topo.yaml")
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Parse(%s) = %v, want nil", tc.server, err)
				}
				if c.Server.OpsListen != "127.0.0.1:9090" || c.Server.Limits.MaxUnauthenticatedBytesPerIP != 32<<20 || c.Server.Limits.BodyReadTimeout.D().Seconds() != 30 {
					t.Errorf("Parse(%s) server = %+v", tc.server, c.Server)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse(%s) = %v, want a ValidationError", tc.server, err)
			}
			for _, p := range ve.Problems {
				if p.Field == tc.field && strings.Contains(p.Msg, tc.msg) && p.Hint != "" {
					return
				}
			}
			t.Errorf("Parse(%s) problems:\n%v\nwant one at %s containing %q", tc.server, err, tc.field, tc.msg)
		})
	}
}

// TestMaxRequestBytesOrDefault: server.max_request_bytes when written;
// else 32 MiB, capped at a written per-IP unauthenticated byte budget so
// that a topology written for the former 4 MiB default still loads and a
// body still fits the budget.
func TestMaxRequestBytesOrDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    Server
		want int64
	}{
		{Server{}, 32 << 20},
		{Server{MaxRequestBytes: 1 << 20}, 1 << 20},
		{Server{MaxRequestBytes: 100 << 20, Limits: ClientLimits{MaxUnauthenticatedBytesPerIP: 200 << 20}}, 100 << 20},
		{Server{Limits: ClientLimits{MaxUnauthenticatedBytesPerIP: 8 << 20}}, 8 << 20},
		{Server{Limits: ClientLimits{MaxUnauthenticatedBytesPerIP: 128 << 20}}, 32 << 20},
	} {
		if got := tc.s.MaxRequestBytesOrDefault(); got != tc.want {
			t.Errorf("%+v: %d, want %d", tc.s, got, tc.want)
		}
	}
	if DefaultMaxRequestBytes != 32<<20 {
		t.Errorf("DefaultMaxRequestBytes = %d, want 32 MiB (docs/bedrock.md, Request size)", DefaultMaxRequestBytes)
	}
}
