package topology

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCompare is the reload decision: what a valid new file changes, and
// which changes need a restart (the running topology is then kept).
func TestCompare(t *testing.T) {
	t.Parallel()
	old, err := Parse([]byte(base), "base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mutate  func(string) string
		want    Change
		restart []string // fields named as restart required
	}{
		{name: "unchanged", mutate: func(s string) string { return s }},
		{
			name: "profile destinations and policy change live",
			mutate: func(s string) string {
				s = strings.Replace(s, "copy_from: eu.demo.chat-small", "copy_from: global.demo.chat-small", 1)
				return strings.Replace(s, "Action: bedrock:InvokeModel", "Action: [bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream]", 1)
			},
			want: Change{Profiles: Diff{Changed: []string{"claims-eu"}}, Policies: Diff{Changed: []string{"invoke-eu-only"}}},
		},
		{
			name: "deployment removed, principal and profile added, routing changed",
			mutate: func(s string) string {
				s = strings.Replace(s, "  - model: demo.chat-small\n    region: eu-west-1\n    backend: { type: mock }\n    capacity: { max_concurrency: 8 }\n", "", 1)
				s = strings.Replace(s, "    - id: claims-eu\n", "    - id: team-us\n      copy_from: us.demo.chat-small\n    - id: claims-eu\n", 1)
				s = strings.Replace(s, "copy_from: eu.demo.chat-small", "copy_from: us.demo.chat-small", 1)
				s = strings.Replace(s, "principals:\n", "principals:\n  - id: ops\n", 1)
				return s + "routing: {strategy: least-loaded}\nserver: {drain_grace: 1s}\n"
			},
			want: Change{Deployments: Diff{Removed: []string{"eu-west-1/demo.chat-small"}}, Profiles: Diff{Added: []string{"team-us"}, Changed: []string{"claims-eu"}},
				Principals: Diff{Added: []string{"ops"}}, Routing: true, Server: true},
		},
		{
			name: "per-source destination sets and the authorization mode change live",
			mutate: func(s string) string {
				s = strings.Replace(s, "profiles:\n", "profiles:\n  system:\n    us.demo.chat-small:\n      sources: { us-east-1: [us-east-1] }\n", 1)
				return "authorization: all-destinations\n" + s
			},
			want: Change{SystemProfiles: Diff{Added: []string{"us.demo.chat-small"}}, Authorization: true},
		},
		{
			name: "this region's listener",
			mutate: func(s string) string {
				return strings.Replace(s, "listen: 127.0.0.1:8081", "listen: 127.0.0.1:8091", 1)
			},
			restart: []string{"regions[0]"},
		},
		{
			name:    "this region removed",
			mutate:  func(s string) string { return strings.ReplaceAll(s, "us-east-1", "us-east-2") },
			restart: []string{"regions", "regions[0]"},
		},
		{
			name: "link identity, audit, quota store and body limit",
			mutate: func(s string) string {
				return s + "link: {trust_domain: other}\naudit: {dir: /elsewhere}\nquota: {store: memory}\nserver: {max_request_bytes: 1024}\n"
			},
			restart: []string{"link", "audit", "quota", "server"},
		},
		{
			name: "telemetry",
			mutate: func(s string) string {
				return s + "telemetry: {otlp: {endpoint: \"http://127.0.0.1:4318\"}, traces: {enabled: true}}\n"
			},
			restart: []string{"telemetry"},
		},
		{
			name: "geography opts out of global routing",
			mutate: func(s string) string {
				return strings.Replace(s, "eu: { name: European Union }", "eu: { name: European Union, global: false }", 1)
			},
			restart: []string{"geographies"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next, err := Parse([]byte(tc.mutate(base)), "next.yaml")
			if err != nil {
				t.Fatalf("Parse(next) = %v", err)
			}
			got, err := Compare(old, next, "us-east-1")
			if len(tc.restart) == 0 {
				if err != nil {
					t.Fatalf("Compare = %v, want no restart required", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Compare change (-want +got):\n%s", diff)
				}
				if got.Empty() != (tc.name == "unchanged") {
					t.Errorf("Change.Empty() = %v for %s", got.Empty(), tc.name)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Compare = %v, want restart required for %v", err, tc.restart)
			}
			var fields []string
			for _, p := range ve.Problems {
				fields = append(fields, p.Field)
				if !strings.Contains(p.Error(), "restart required") || p.File != "next.yaml" {
					t.Errorf("problem %q does not say restart required in next.yaml", p.Error())
				}
			}
			for _, f := range tc.restart {
				if !strings.Contains(strings.Join(fields, " "), f) {
					t.Errorf("Compare problems %v, want one for %s", fields, f)
				}
			}
		})
	}
}

func TestDiffString(t *testing.T) {
	t.Parallel()
	d := Diff{Added: []string{"a"}, Removed: []string{"b"}, Changed: []string{"c", "d"}}
	if got, want := d.String(), "+a -b ~c ~d"; got != want {
		t.Errorf("Diff.String() = %q, want %q", got, want)
	}
}
