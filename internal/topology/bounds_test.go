package topology

import (
	"errors"
	"strings"
	"testing"
)

// TestValidateRejectsNonsense holds one row per value that once parsed,
// passed `config validate` and then misbehaved (or was refused by serve):
// each must be reported with its field path and a fix.
func TestValidateRejectsNonsense(t *testing.T) {
	t.Parallel()
	add := func(extra string) func(string) string { return func(s string) string { return s + extra } }
	replace := func(old, new string) func(string) string {
		return func(s string) string { return strings.Replace(s, old, new, 1) }
	}
	lookalike := func(id, from string) func(string) string {
		return func(s string) string {
			return strings.Replace(s, "    - id: claims-eu\n", "    - id: "+id+"\n      copy_from: "+from+"\n    - id: claims-eu\n", 1)
		}
	}
	tests := []struct {
		name   string
		mutate func(string) string
		field  string
	}{
		{"max_request_bytes negative", add("server: {max_request_bytes: -1}\n"), "server.max_request_bytes"},
		{"max_request_bytes huge", add("server: {max_request_bytes: 1099511627776}\n"), "server.max_request_bytes"},
		{"drain_timeout negative", add("server: {drain_timeout: -1s}\n"), "server.drain_timeout"},
		{"drain_grace negative", add("server: {drain_grace: -1s}\n"), "server.drain_grace"},
		{"drain_grace huge", add("server: {drain_grace: 1h}\n"), "server.drain_grace"},
		{"failover_deadline negative", add("routing: {failover_deadline: -5s}\n"), "routing.failover_deadline"},
		{"queue timeout negative", add("routing: {queue: {timeout: -2s}}\n"), "routing.queue.timeout"},
		{"staleness zero", add("routing: {staleness: 0s}\n"), "routing.staleness"},
		{"staleness negative", add("routing: {staleness: -1s}\n"), "routing.staleness"},
		{"max_attempts zero", add("routing: {max_attempts: 0}\n"), "routing.max_attempts"},
		{"profile max_attempts zero", add("routing: {profiles: {eu.demo.chat-small: {max_attempts: 0}}}\n"), "routing.profiles.eu.demo.chat-small.max_attempts"},
		{"profile failover_deadline negative", add("routing: {profiles: {eu.demo.chat-small: {failover_deadline: -1s}}}\n"), "routing.profiles.eu.demo.chat-small.failover_deadline"},
		{"weights outside geography", add("routing: {profiles: {eu.demo.chat-small: {strategy: weighted, weights: {eu-west-1: 1, us-east-1: 1}}}}\n"), "routing.profiles.eu.demo.chat-small.weights.us-east-1"},
		{"weights outside application profile's geography", add("routing: {profiles: {claims-eu: {strategy: weighted, weights: {us-east-1: 1}}}}\n"), "routing.profiles.claims-eu.weights.us-east-1"},
		{"weights all zero", add("routing: {profiles: {eu.demo.chat-small: {strategy: weighted, weights: {eu-west-1: 0}}}}\n"), "routing.profiles.eu.demo.chat-small.weights"},
		{"load_interval zero", add("link: {load_interval: 0s}\n"), "link.load_interval"},
		{"load_interval negative", add("link: {load_interval: -1s}\n"), "link.load_interval"},
		{"envelope_window a year", add("link: {envelope_window: 8760h}\n"), "link.envelope_window"},
		{"envelope_window negative", add("link: {envelope_window: -1s}\n"), "link.envelope_window"},
		{"envelope_window zero", add("link: {envelope_window: 0s}\n"), "link.envelope_window"},
		{"expiry_warning negative", add("link: {expiry_warning: -1h}\n"), "link.expiry_warning"},
		{"fsync_interval negative", add("audit: {fsync_interval: -100ms}\n"), "audit.fsync_interval"},
		{"digest_interval negative", add("audit: {digest_interval: -1s}\n"), "audit.digest_interval"},
		{"rotate_interval negative", add("audit: {rotate_interval: -1s}\n"), "audit.rotate_interval"},
		{"queue_size negative", add("audit: {queue_size: -5}\n"), "audit.queue_size"},
		{"rotate_bytes negative", add("audit: {rotate_bytes: -1}\n"), "audit.rotate_bytes"},
		{"lease_ttl negative", add("quota: {lease_ttl: -1m}\n"), "quota.lease_ttl"},
		{"daily_default unknown", add("quota: {daily_default: aws}\n"), "quota.daily_default"},
		{"burndown negative", replace("  - id: demo.chat-small\n", "  - id: demo.chat-small\n    output_token_burndown: -5\n"), "models[0].output_token_burndown"},
		{"flex_share above 1", replace("capacity: { max_concurrency: 8 }", "capacity: { max_concurrency: 8, flex_share: 1.5 }"), "deployments[1].capacity.flex_share"},
		{"capacity pool negative", replace("capacity: { max_concurrency: 8 }", "capacity: { max_concurrency: 8, pools: {global: {tpm: -1}} }"), "deployments[1].capacity.pools.global.tpm"},
		{"principal pool negative", replace("    policies: [invoke-eu-only]\n", "    policies: [invoke-eu-only]\n    limits: {per_model: {demo.chat-small: {pools: {geographic: {rpm: -2}}}}}\n"), "principals[0].limits.per_model.demo.chat-small.pools.geographic.rpm"},
		{"pools on a profile", replace("    policies: [invoke-eu-only]\n", "    policies: [invoke-eu-only]\n    limits: {per_profile: {claims-eu: {pools: {global: {rpm: 2}}}}}\n"), "principals[0].limits.per_profile.claims-eu.pools"},
		{"application id with geography prefix", lookalike("eu.evil", "global.demo.chat-small"), "profiles.application[0].id"},
		{"application id with global prefix", lookalike("global.evil", "eu.demo.chat-small"), "profiles.application[0].id"},
		{"application id with undefined Bedrock geography", lookalike("apac.evil", "eu.demo.chat-small"), "profiles.application[0].id"},
		{"application id with upper-case prefix", lookalike("EU.evil", "global.demo.chat-small"), "profiles.application[0].id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.mutate(base)), "base.yaml")
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse = %v, want a *ValidationError naming %s", err, tc.field)
			}
			for _, p := range ve.Problems {
				if p.Field == tc.field {
					if p.Hint == "" || p.File != "base.yaml" || p.Line == 0 {
						t.Errorf("problem %q lacks file, line or fix", p.Error())
					}
					return
				}
			}
			t.Errorf("Parse problems = %v, want one for field %s", err, tc.field)
		})
	}
}

// TestValidateAcceptsDefaultsAndBounds keeps the bounds from refusing what
// is meant: left-out fields, zero where zero is documented, the limits.
func TestValidateAcceptsDefaultsAndBounds(t *testing.T) {
	t.Parallel()
	for _, extra := range []string{
		"",
		"server: {drain_grace: 0s, drain_timeout: 0s, max_request_bytes: 0}\n",
		"server: {drain_grace: 5m, max_request_bytes: 1073741824}\n",
		"link: {envelope_window: 5m, load_interval: 250ms}\n",
		"routing: {max_attempts: 1, staleness: 1s, failover_deadline: 0s, queue: {max: -1, timeout: 0s}}\n",
		"routing: {profiles: {eu.demo.chat-small: {strategy: weighted, weights: {eu-west-1: 1}}}}\n",
		"routing: {profiles: {global.demo.chat-small: {strategy: weighted, weights: {eu-west-1: 1, us-east-1: 2}}}}\n",
		"audit: {fsync_interval: 0s, queue_size: 0, rotate_bytes: 0}\n",
	} {
		if _, err := Parse([]byte(base+extra), "base.yaml"); err != nil {
			t.Errorf("Parse(base + %q) = %v, want nil", extra, err)
		}
	}
}

func TestReservedProfilePrefix(t *testing.T) {
	t.Parallel()
	geo := func(g string) bool { return g == "sov" }
	for _, tc := range []struct {
		id, want string
	}{
		{"claims-eu", ""}, {"eu.evil", "eu."}, {"global.x", "global."}, {"sov.x", "sov."}, {"US.x", "US."},
		{"apac.x", "apac."}, {"team.claims", ""}, {"euro.x", ""}, {"eu", ""},
	} {
		got, ok := ReservedProfilePrefix(tc.id, geo)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("ReservedProfilePrefix(%q) = %q, %v, want %q", tc.id, got, ok, tc.want)
		}
	}
}

// TestValidateCopyCycle: application profiles copying each other are
// reported, not followed.
func TestValidateCopyCycle(t *testing.T) {
	t.Parallel()
	cyc := strings.Replace(base, "    - id: claims-eu\n      copy_from: eu.demo.chat-small\n",
		"    - id: a\n      copy_from: b\n    - id: b\n      copy_from: a\n", 1) + "routing: {profiles: {a: {strategy: weighted, weights: {eu-west-1: 1}}}}\n"
	if _, err := Parse([]byte(cyc), "cycle.yaml"); err == nil || !strings.Contains(err.Error(), "profiles.application[0].copy_from") {
		t.Errorf("Parse(copy cycle) = %v, want copy_from reported", err)
	}
}
