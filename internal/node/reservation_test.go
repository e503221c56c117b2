package node

import (
	"errors"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/quota"
	"github.com/meridian-gateway/meridian/internal/topology"
)

func isDeploymentLimited(err error) bool { return errors.Is(err, gateway.ErrDeploymentLimited) }

func TestAdmitErrorCarriesRateLimitHeaders(t *testing.T) {
	t.Parallel()
	le := &quota.LimitError{Scope: quota.ScopePrincipal, Name: "alice", Kind: quota.RequestsPerMinute, Limit: 60, RetryAfter: 7 * time.Second,
		Status: quota.Status{Requests: quota.Meter{Limit: 60, Remaining: 0, Reset: 7 * time.Second}}}
	err := admitError(le)
	var e *inference.Error
	if !errors.As(err, &e) || e.Kind != inference.KindThrottled || e.RetryAfter != 7*time.Second {
		t.Fatalf("admitError = %v", err)
	}
	if e.Header.Get("X-Ratelimit-Limit-Requests") != "60" || e.Header.Get("Retry-After") != "" {
		t.Errorf("headers %v: want x-ratelimit-* and no duplicate Retry-After", e.Header)
	}
	if isDeploymentLimited(err) {
		t.Error("a principal's limit reported as a deployment's")
	}
	dep := admitError(&quota.LimitError{Scope: quota.ScopeDeployment, Name: "eu-west-1/m", Kind: quota.Concurrency, RetryAfter: time.Second})
	if !isDeploymentLimited(dep) {
		t.Error("a deployment's capacity not recognised: failover would stop")
	}
}

// TestGatewayDefaultsMatchAdapters: the gateway declares the defaults it
// needs instead of importing the adapters; they must stay equal to the
// adapters' own.
func TestGatewayDefaultsMatchAdapters(t *testing.T) {
	t.Parallel()
	if gateway.DefaultMaxTokens != quota.DefaultMaxTokens {
		t.Errorf("gateway.DefaultMaxTokens = %d, want quota.DefaultMaxTokens %d", gateway.DefaultMaxTokens, quota.DefaultMaxTokens)
	}
	if gateway.DefaultStreamIdleTimeout != backend.DefaultStreamIdleTimeout {
		t.Errorf("gateway.DefaultStreamIdleTimeout = %v, want backend.DefaultStreamIdleTimeout %v", gateway.DefaultStreamIdleTimeout, backend.DefaultStreamIdleTimeout)
	}
	if gateway.MaxRequestedModel != audit.MaxRequestedModelID {
		t.Errorf("gateway.MaxRequestedModel = %d, want audit.MaxRequestedModelID %d", gateway.MaxRequestedModel, audit.MaxRequestedModelID)
	}
}

// TestQuotaReserverMapsPoolsBurndownAndTiers: the topology's pools, burndown
// rates, flex share and daily default reach the limiter, and the gateway's
// pool names map to the quota's.
func TestQuotaReserverMapsPoolsBurndownAndTiers(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Parse([]byte(`account: "111122223333"
link: { insecure_dev_link: true }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
models: [ { id: m, output_token_burndown: 5 } ]
deployments:
  - { model: m, region: eu-west-1, backend: { type: mock }, capacity: { max_concurrency: 4, flex_share: 0.25, pools: { global: { rpm: 1 } } } }
principals:
  - { id: p, api_keys: ["sha256:3b9c358f36f6e1f4d3f1c1f3f2a1e0b7c7c5d2c6b8b4e5f6a7b8c9d0e1f2a3b4"], limits: { tpm: 1000, per_model: { m: { pools: { geographic: { rpm: 1 } } } } } }
`), "map.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lim, err := quota.Open(quota.Config{DailyDefault: quota.DailyDefaultBedrock}, quota.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lim.Close()
	a := newQuotaReserver(cfg, lim)
	if a.burndown["m"] != 5 {
		t.Errorf("burndown of m = %d, want 5", a.burndown["m"])
	}
	for name, want := range map[string]quota.Pool{gateway.PoolInRegion: quota.PoolInRegion, gateway.PoolGeographic: quota.PoolGeographic, gateway.PoolGlobal: quota.PoolGlobal, "": quota.PoolNone} {
		if got := quotaPool(name); got != want {
			t.Errorf("quotaPool(%q) = %v, want %v", name, got, want)
		}
	}
	// 10 input + 100 max_tokens × 5 = 510 of 1000 tpm: a second is refused.
	req := gateway.QuotaRequest{Principal: "p", Model: "m", Profile: "eu.m", InputTokens: 10, MaxTokens: 100, Pool: gateway.PoolInRegion, SourceRegion: "eu-west-1"}
	if _, err := a.Reserve(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reserve(t.Context(), req); err == nil {
		t.Error("a second 510-token reservation fit 1000 tpm: burndown not applied")
	}
	geo := gateway.QuotaRequest{Principal: "p", Model: "m", MaxTokens: 1, Pool: gateway.PoolGeographic, SourceRegion: "eu-west-1"}
	if _, err := a.Reserve(t.Context(), geo); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reserve(t.Context(), geo); err == nil {
		t.Error("the principal's geographic pool of 1 rpm admitted two")
	}
	// flex_share 0.25 of 4 slots: one flex request.
	flex := gateway.QuotaRequest{Deployment: "eu-west-1/m", Model: "m", MaxTokens: 1, Tier: inference.TierFlex}
	if _, err := a.Reserve(t.Context(), flex); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reserve(t.Context(), flex); !isDeploymentLimited(err) {
		t.Errorf("second flex request = %v, want refused by the deployment's flex share", err)
	}
	global := gateway.QuotaRequest{Deployment: "eu-west-1/m", Model: "m", MaxTokens: 1, Pool: gateway.PoolGlobal, SourceRegion: "eu-central-1"}
	if _, err := a.Reserve(t.Context(), global); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reserve(t.Context(), global); !isDeploymentLimited(err) {
		t.Errorf("second global request = %v, want refused by the deployment's global pool", err)
	}
}

func TestQuotaConfigDailyDefault(t *testing.T) {
	t.Parallel()
	qc, err := quotaConfig(topology.Quota{DailyDefault: "bedrock"}, func(string) string { return "" })
	if err != nil || qc.DailyDefault != quota.DailyDefaultBedrock {
		t.Errorf("quotaConfig = %+v, %v; want daily_default bedrock", qc, err)
	}
}
