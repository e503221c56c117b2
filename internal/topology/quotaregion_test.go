package topology

import (
	"strings"
	"testing"
)

// TestQuotaRedisRegionPlaceholder: "{region}" in quota.redis.url and
// key_prefix is accepted wherever the region id would be (in a host name,
// in a cluster's prefix, which may hold no other brace); a Redis store
// shared by several regions without it loads with a note saying what that
// means, and one region, "{region}" in either field, or the memory store
// get none.
func TestQuotaRedisRegionPlaceholder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, quota string
		err         string // substring of Parse's error; "" for none
		note        bool
	}{
		{name: "url per region", quota: `{store: redis, redis: {url: "redis://redis-{region}.svc:6379/0"}}`},
		{name: "prefix per region", quota: `{store: redis, redis: {url: "redis://10.0.0.5:6379/0", key_prefix: "{region}:"}}`},
		{name: "cluster prefix per region", quota: `{store: redis, redis: {url: "redis://redis-{region}:6379?addr=redis-{region}-2:6379", cluster: true, key_prefix: "q-{region}:"}}`},
		{name: "cluster prefix with another brace", quota: `{store: redis, redis: {url: "redis://10.0.0.5:6379", cluster: true, key_prefix: "{region}:{x}"}}`, err: "quota.redis.key_prefix: contains a brace"},
		{name: "other placeholder in host", quota: `{store: redis, redis: {url: "redis://redis-{zone}:6379/0"}}`, err: "is not a Redis URL"},
		{name: "shared", quota: `{store: redis, redis: {url: "redis://10.0.0.5:6379/0", key_prefix: "m:"}}`, note: true},
		{name: "shared, region only in a query parameter", quota: `{store: redis, redis: {url: "redis://10.0.0.5:6379/0?client_name=m-{region}", key_prefix: "m:"}}`, note: true},
		{name: "memory", quota: `{store: memory}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse([]byte(base+"quota: "+tc.quota+"\n"), "topo.yaml")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse = %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse = %v, want nil", err)
			}
			var notes []string
			for _, n := range cfg.Notes() {
				if n.Field == "quota.redis.url" {
					notes = append(notes, n.Error())
				}
			}
			if !tc.note {
				if len(notes) != 0 {
					t.Errorf("notes = %q, want none", notes)
				}
				return
			}
			want := `: quota.redis.url: note: nodes of the 2 regions that read this file share one Redis server and key prefix: each principal's limits count its calls in every region together, and every region needs that server; write "{region}" in url (a server per region) or key_prefix (keys per region) to count each region on its own (see docs/quotas.md#one-redis-or-one-per-region)`
			if len(notes) != 1 || !strings.HasPrefix(notes[0], "topo.yaml:") || !strings.HasSuffix(notes[0], want) {
				t.Errorf("notes = %q, want one ending %q", notes, want)
			}
		})
	}
}
