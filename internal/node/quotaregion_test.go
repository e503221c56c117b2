package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/mockllm"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestQuotaRedisPerRegion: the nodes of two regions read one topology
// whose quota store is one real redis-server. With "{region}" in
// key_prefix each node counts its region's calls under its own prefix, so
// a principal with rpm 5 that calls once in each region has 4 left in
// both; without it the regions share one window (4, then 3), as the
// topology's note says.
func TestQuotaRedisPerRegion(t *testing.T) {
	redisSrv := startRedis(t)
	for _, tc := range []struct {
		name, prefix string
		remaining    [2]string
		keysUnder    []string // prefixes (after "test-<n>-") that hold the rpm windows
	}{
		{name: "per region", prefix: "{region}:", remaining: [2]string{"4", "4"}, keysUnder: []string{"eu-west-1:", "us-east-1:"}},
		{name: "shared", prefix: "all:", remaining: [2]string{"4", "3"}, keysUnder: []string{"all:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, _ := auth.NewKey()
			srv := mockllm.New(mockllm.Config{Models: []string{"chat-small"}, TTFT: time.Millisecond, TokensPerSecond: 1000, CompletionTokens: 4, Seed: 3})
			up := httptest.NewServer(srv.Handler())
			t.Cleanup(up.Close)
			base := fmt.Sprintf("test-%d-", time.Now().UnixNano())
			y := fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
quota: { store: redis, redis: { url: "redis://%s/0?read_timeout=30s&write_timeout=30s", key_prefix: %q } }
geographies: { eu: { name: EU }, us: { name: US } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
  - { id: us-east-1, geography: us, location: { lat: 38, lon: -77 }, listen: "127.0.0.1:3", link: "127.0.0.1:4" }
models: [ { id: demo.chat-small } ]
deployments:
  - { model: demo.chat-small, region: eu-west-1, backend: { type: openai, url: %[3]q, model: chat-small } }
  - { model: demo.chat-small, region: us-east-1, backend: { type: openai, url: %[3]q, model: chat-small } }
principals:
  - { id: alice, api_keys: [%q], limits: { rpm: 5 } }
`, redisSrv.addr(), base+tc.prefix, up.URL+"/v1", auth.HashKey(key))
			cfg, err := topology.Parse([]byte(y), "regions.yaml")
			if err != nil {
				t.Fatal(err)
			}
			for i, region := range []string{"eu-west-1", "us-east-1"} {
				cl, _ := net.Listen("tcp", "127.0.0.1:0")
				ll, _ := net.Listen("tcp", "127.0.0.1:0")
				nd, err := New(Options{Config: cfg, Region: region, Dev: true, ClientListener: cl, LinkListener: ll, AuditDir: t.TempDir(), DataDir: t.TempDir(),
					Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { // before t.TempDir's removal, registered earlier
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					nd.Shutdown(ctx)
				})
				if err := nd.Start(t.Context()); err != nil {
					t.Fatal(err)
				}
				status, h, body := postTo(t, "http://"+cl.Addr().String(), key, chatBody("demo.chat-small", false))
				if status != 200 {
					t.Fatalf("%s: status %d: %s", region, status, body)
				}
				if got := h.Get("x-ratelimit-remaining-requests"); got != tc.remaining[i] {
					t.Errorf("%s: x-ratelimit-remaining-requests = %q, want %q", region, got, tc.remaining[i])
				}
				if got := h.Get("x-meridian-inference-region"); got != region {
					t.Errorf("%s: served in %q, want in its own region", region, got)
				}
			}
			rc := redis.NewClient(&redis.Options{Addr: redisSrv.addr()})
			defer rc.Close()
			for _, p := range tc.keysUnder {
				if keys, err := rc.Keys(t.Context(), base+p+"q:p/alice:rpm").Result(); err != nil || len(keys) != 1 {
					t.Errorf("keys %sq:p/alice:rpm = %q, %v; want the window under the expanded prefix", base+p, keys, err)
				}
			}
		})
	}
}

// TestRegionQuotaExpands: "{region}" in the Redis URL and key prefix is
// the node's region, as in the link's files; the password is put into the
// expanded URL.
func TestRegionQuotaExpands(t *testing.T) {
	t.Parallel()
	q := topology.Quota{Store: "redis"}
	q.Redis.URL = "redis://redis-{region}.svc:6379/0"
	q.Redis.KeyPrefix = "m-{region}:"
	q.Redis.PasswordEnv = "PW"
	qc, err := quotaConfig(regionQuota(q, "eu-west-1"), func(string) string { return "s3cret" })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := qc.Redis.URL, "redis://:s3cret@redis-eu-west-1.svc:6379/0"; got != want {
		t.Errorf("url = %q, want %q", got, want)
	}
	if got, want := qc.Redis.KeyPrefix, "m-eu-west-1:"; got != want {
		t.Errorf("key prefix = %q, want %q", got, want)
	}
	if err := qc.Validate(); err != nil {
		t.Errorf("expanded config refused: %v", err)
	}
}
