package topology

import (
	"strings"
	"testing"
)

// TestServiceTiers: a deployment's service_tiers takes priority and flex,
// each once, and declares none when absent; HonoursTier is true only for
// a declared priority or flex.
func TestServiceTiers(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(strings.Replace(base, "    backend: { type: mock }\n", "    backend: { type: mock }\n    service_tiers: [flex]\n", 1)), "tiers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := c.Deployments[1]
	for _, tc := range []struct {
		tier string
		want bool
	}{{"flex", true}, {"priority", false}, {"default", false}, {"", false}} {
		if got := d.HonoursTier(tc.tier); got != tc.want {
			t.Errorf("HonoursTier(%q) = %v, want %v (declared %v)", tc.tier, got, tc.want, d.ServiceTiers)
		}
	}
	if c.Deployments[0].HonoursTier("priority") || c.Deployments[0].HonoursTier("flex") {
		t.Errorf("a deployment without service_tiers honours %v", c.Deployments[0].ServiceTiers)
	}
	for _, tc := range []struct{ tiers, field, hint string }{
		{"[priority, gold]", "deployments[1].service_tiers[1]", "use priority or flex"},
		{"[default]", "deployments[1].service_tiers[0]", "the default tier needs no declaration"},
		{"[flex, flex]", "deployments[1].service_tiers[1]", "name each tier once"},
		{"[Priority]", "deployments[1].service_tiers[0]", "use priority or flex"},
	} {
		_, err := Parse([]byte(strings.Replace(base, "    backend: { type: mock }\n", "    backend: { type: mock }\n    service_tiers: "+tc.tiers+"\n", 1)), "tiers.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), tc.hint) {
			t.Errorf("%s: error = %v, want field %s and hint %q", tc.tiers, err, tc.field, tc.hint)
		}
	}
}
