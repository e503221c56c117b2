package quota

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// Store-suite tests of quota pools, burndown, cache reads, the Bedrock daily
// default and the flex share (rows of runStoreSuite: memory, Redis, Redis
// Cluster).

// testPools: a model's in-region, geographic and global pools are separate
// counters, per source region; the model's own limits still apply to all.
func testPools(t *testing.T, clients func() Store, clock *fakeClock) {
	l := newTestLimiter(t, clients(), clock, Config{})
	limits := Limits{PerModel: map[string]ScopedLimits{"m1": {RPM: 10, Pools: &Pools{
		InRegion:   &PoolLimits{RPM: 1},
		Geographic: &PoolLimits{RPM: 2},
		Global:     &PoolLimits{TPM: 100},
	}}}}
	req := func(p Pool, src string, max int) Request {
		return Request{Principal: "gus", Limits: limits, Model: "m1", Pool: p, SourceRegion: src, InputTokens: 10, MaxTokens: max}
	}
	mustAdmit(t, l, req(PoolInRegion, "eu-west-1", 10))
	le := mustReject(t, l, req(PoolInRegion, "eu-west-1", 10))
	if le.Scope != ScopeModelPool || le.Name != "gus/m1/in_region/eu-west-1" || le.Kind != RequestsPerMinute {
		t.Errorf("second in-region request: %s %q %s, want model_pool \"gus/m1/in_region/eu-west-1\" rpm", le.Scope, le.Name, le.Kind)
	}
	if got, want := le.Message(), "Rate limit of the model's in_region quota pool from eu-west-1 reached (rpm: limit 1, remaining 0, requested 1); retry after 60s."; got != want {
		t.Errorf("Message() = %q, want %q", got, want)
	}
	mustAdmit(t, l, req(PoolInRegion, "eu-central-1", 10)) // another source region: its own counter
	mustAdmit(t, l, req(PoolGeographic, "eu-west-1", 10))
	mustAdmit(t, l, req(PoolGeographic, "eu-west-1", 10))
	mustReject(t, l, req(PoolGeographic, "eu-west-1", 10))
	r := mustAdmit(t, l, req(PoolGlobal, "eu-west-1", 40)) // 50 of 100
	if got := r.Status().Tokens; got.Limit != 100 || got.Remaining != 50 {
		t.Errorf("global pool Status().Tokens = %+v, want limit 100, remaining 50", got)
	}
	if le := mustReject(t, l, req(PoolGlobal, "eu-west-1", 41)); le.Kind != TokensPerMinute || le.Scope != ScopeModelPool {
		t.Errorf("global pool over tpm: %s %s, want model_pool tpm", le.Scope, le.Kind)
	}
	// No pool (or no source region): only the model's own limits.
	mustAdmit(t, l, req(PoolNone, "eu-west-1", 1))
	mustAdmit(t, l, req(PoolInRegion, "", 1))

	// A deployment's pool capacity refuses as the deployment's scope (the
	// gateway tries the next destination), without consuming the caller's.
	dep := Request{Deployment: "eu-west-1/m1", Capacity: Capacity{RPM: 100, Pools: &Pools{Geographic: &PoolLimits{RPM: 1}}},
		Pool: PoolGeographic, SourceRegion: "eu-central-1", Model: "m1"}
	mustAdmit(t, l, dep)
	if le := mustReject(t, l, dep); le.Scope != ScopeDeployment || le.Name != "eu-west-1/m1/geographic/eu-central-1" {
		t.Errorf("deployment pool: %s %q, want deployment \"eu-west-1/m1/geographic/eu-central-1\"", le.Scope, le.Name)
	}
	dep.SourceRegion = "eu-west-1"
	mustAdmit(t, l, dep)
}

// testBurndown: output tokens count × the model's burndown rate, in the
// reservation (max_tokens × rate) and at settlement (output × rate).
func testBurndown(t *testing.T, clients func() Store, clock *fakeClock) {
	l := newTestLimiter(t, clients(), clock, Config{})
	limits := Limits{TPM: 1000, TokensPerDay: 5000}
	req := Request{Principal: "hal", Limits: limits, InputTokens: 100, MaxTokens: 100, OutputBurndown: 5}
	r := mustAdmit(t, l, req)
	if got, want := r.Tokens(), int64(100+100*5); got != want {
		t.Errorf("reserved %d tokens, want %d (input + max_tokens × 5)", got, want)
	}
	if le := mustReject(t, l, req); le.Requested != 600 || le.Remaining != 400 {
		t.Errorf("second request: requested %d, remaining %d; want 600 and 400", le.Requested, le.Remaining)
	}
	if err := r.Commit(t.Context(), inference.Usage{InputTokens: 90, OutputTokens: 20}); err != nil {
		t.Fatal(err)
	}
	// 90 + 20 × 5 = 190 counted: 810 left.
	probe := Request{Principal: "hal", Limits: limits, InputTokens: 1, MaxTokens: 1}
	if got := mustAdmit(t, l, probe).Status().Tokens.Remaining; got != 1000-190-2 {
		t.Errorf("remaining after commit = %d, want %d", got, 1000-190-2)
	}
	// A burndown of zero is 1; an absurd max_tokens saturates, never wraps.
	big := Request{Principal: "hal", Limits: limits, MaxTokens: 1 << 50, OutputBurndown: 1 << 30}
	if _, err := l.Admit(t.Context(), big); err == nil {
		t.Fatal("a request of 2^50 max_tokens × 2^30 was admitted")
	} else if le := (*LimitError)(nil); !errors.As(err, &le) || !le.TooLarge || le.Requested != MaxRequestTokens {
		t.Errorf("huge burndown: %v, want TooLarge with %d requested", err, int64(MaxRequestTokens))
	}
}

// testCacheRead: cache-read tokens do not count; cache writes do.
func testCacheRead(t *testing.T, clients func() Store, clock *fakeClock) {
	l := newTestLimiter(t, clients(), clock, Config{})
	limits := Limits{TPM: 10000, TokensPerMonth: 100000}
	r := mustAdmit(t, l, Request{Principal: "ivy", Limits: limits, InputTokens: 100, MaxTokens: 100})
	u := inference.Usage{InputTokens: 50, CacheReadInputTokens: 4000, CacheWriteInputTokens: 30, OutputTokens: 20}
	if err := r.Commit(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	probe := Request{Principal: "ivy", Limits: limits, InputTokens: 1, MaxTokens: 1}
	if got, want := mustAdmit(t, l, probe).Status().Tokens.Remaining, int64(10000-100-2); got != want {
		t.Errorf("remaining = %d, want %d (50 input + 30 cache write + 20 output; 4000 cache reads not counted)", got, want)
	}
	// The month budget counted the same 100.
	month := Request{Principal: "ivy", Limits: Limits{TokensPerMonth: 100 + 2 + 2}, InputTokens: 1, MaxTokens: 1}
	mustAdmit(t, l, month)
	mustReject(t, l, month)
}

// testDailyDefault: with daily_default: bedrock a caller limit with a tpm
// and no tokens_per_day gets tpm × 1440 a day; an explicit one is kept,
// and deployments get none.
func testDailyDefault(t *testing.T, clients func() Store, clock *fakeClock) {
	l := newTestLimiter(t, clients(), clock, Config{DailyDefault: DailyDefaultBedrock})
	req := Request{Principal: "jo", Limits: Limits{TPM: 10}, InputTokens: 5, MaxTokens: 5}
	// tokens_per_day is 10 × 1440 = 14,400. Start at a UTC midnight; a
	// backend that reports more than was reserved is counted as reported.
	clock.Set(suiteStart.Truncate(24 * time.Hour).Add(24 * time.Hour))
	mustAdmit(t, l, req).Commit(t.Context(), inference.Usage{InputTokens: 14390})
	clock.Advance(Window)
	mustAdmit(t, l, req).Commit(t.Context(), inference.Usage{InputTokens: 5, OutputTokens: 5}) // 14,400
	clock.Advance(Window)
	le := mustReject(t, l, req)
	if le.Kind != TokensPerDay || le.Limit != 14400 {
		t.Errorf("after 14,400 tokens in the day: %s limit %d, want tokens_per_day 14400", le.Kind, le.Limit)
	}
	explicit := Request{Principal: "kim", Limits: Limits{TPM: 10, TokensPerDay: 15}, InputTokens: 5, MaxTokens: 5}
	mustAdmit(t, l, explicit)
	clock.Advance(Window)
	if le := mustReject(t, l, explicit); le.Kind != TokensPerDay || le.Limit != 15 {
		t.Errorf("explicit tokens_per_day: %s limit %d, want 15", le.Kind, le.Limit)
	}
	off := newTestLimiter(t, clients(), clock, Config{})
	if rules := (Request{Principal: "x", Limits: Limits{TPM: 10}}).rules(off.cfg.DailyDefault == DailyDefaultBedrock, nil); len(rules) != 1 {
		t.Errorf("without daily_default: %d rules, want only the tpm", len(rules))
	}
}

// testFlexShare: a flex request is refused once the deployment's use plus
// the request passes flex_share of its capacity; default and priority
// requests still fill it.
func testFlexShare(t *testing.T, clients func() Store, clock *fakeClock) {
	l := newTestLimiter(t, clients(), clock, Config{})
	capacity := Capacity{MaxConcurrency: 4, FlexShare: 0.5}
	flex := Request{Deployment: "eu-west-1/m", Capacity: capacity, Flex: true}
	std := Request{Deployment: "eu-west-1/m", Capacity: capacity}
	mustAdmit(t, l, flex)
	mustAdmit(t, l, std)
	le := mustReject(t, l, flex) // 2 of 4 in flight: flex's share is full
	if le.Scope != ScopeDeployment || le.Kind != Concurrency || le.Limit != 2 {
		t.Errorf("flex at half capacity: %s %s limit %d, want deployment max_concurrency 2", le.Scope, le.Kind, le.Limit)
	}
	mustAdmit(t, l, std)
	mustAdmit(t, l, std)
	mustReject(t, l, std)
	// The default share is one half; a tiny capacity still admits one.
	if got := flexLimit(1, 0); got != 1 {
		t.Errorf("flexLimit(1, 0) = %d, want 1", got)
	}
	if got := flexLimit(10, 0); got != 5 {
		t.Errorf("flexLimit(10, 0) = %d, want 5", got)
	}
}

// testReplicasExactPools: three replicas admit concurrently into one pool of
// one source region, and the pool admits exactly its limit.
func testReplicasExactPools(t *testing.T, clients func() Store, clock *fakeClock) {
	var replicas []*Limiter
	for range 3 {
		replicas = append(replicas, newTestLimiter(t, clients(), clock, Config{}))
	}
	limits := Limits{PerModel: map[string]ScopedLimits{"m": {Pools: &Pools{
		Geographic: &PoolLimits{TPM: 3000}, Global: &PoolLimits{RPM: 1000},
	}}}}
	req := Request{Principal: "pool-key", Limits: limits, Model: "m", Pool: PoolGeographic, SourceRegion: "eu-west-1",
		InputTokens: 10, MaxTokens: 10, OutputBurndown: 2}
	var admitted, rejected atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for i := range 300 {
		wg.Go(func() {
			r, err := replicas[i%3].Admit(t.Context(), req)
			var le *LimitError
			switch {
			case err == nil:
				admitted.Add(1)
				// 10 input + 5 output × 2 = 20 counted (of 30 reserved).
				r.Commit(t.Context(), inference.Usage{InputTokens: 10, OutputTokens: 5, CacheReadInputTokens: 7})
			case errors.As(err, &le) && le.Scope == ScopeModelPool && le.Kind == TokensPerMinute:
				rejected.Add(1)
			default:
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected Admit error: %v", err)
	}
	if admitted.Load()+rejected.Load() != 300 || admitted.Load() < 100 || admitted.Load() > 150 {
		t.Errorf("admitted %d, rejected %d; want 100..150 admitted of 300 (30 reserved, 20 committed, 3000 tpm)", admitted.Load(), rejected.Load())
	}
	// Exactly what was committed is counted: 20 per admitted request.
	probe := req
	probe.InputTokens, probe.MaxTokens, probe.OutputBurndown = 1, 0, 0
	used := 20 * admitted.Load()
	if left := 3000 - used; left >= 1+1024 {
		st := mustAdmit(t, replicas[0], probe).Status()
		if st.Tokens.Remaining != left-1-1024 {
			t.Errorf("pool remaining = %d, want %d", st.Tokens.Remaining, left-1-1024)
		}
	} else if le := mustReject(t, replicas[0], probe); le.Remaining != left {
		t.Errorf("pool remaining = %d, want %d", le.Remaining, left)
	}
	// The global pool of the same model and source region is untouched.
	global := req
	global.Pool = PoolGlobal
	mustAdmit(t, replicas[1], global)
}

func TestPoolsValidate(t *testing.T) {
	l := Limits{PerModel: map[string]ScopedLimits{"m": {Pools: &Pools{Global: &PoolLimits{RPM: -1}}}},
		PerProfile: map[string]ScopedLimits{"f": {Pools: &Pools{}}}}
	want := []string{"principals[0].limits.per_model.m.pools.global.rpm", "principals[0].limits.per_profile.f.pools"}
	if diff := cmp.Diff(want, errorFields(l.Validate("principals[0].limits"))); diff != "" {
		t.Errorf("Limits.Validate fields (-want +got):\n%s", diff)
	}
	c := Capacity{TPM: -1, FlexShare: 1.5, Pools: &Pools{InRegion: &PoolLimits{MaxConcurrency: -2}}}
	want = []string{"deployments[0].capacity.tpm", "deployments[0].capacity.pools.in_region.max_concurrency", "deployments[0].capacity.flex_share"}
	if diff := cmp.Diff(want, errorFields(c.Validate("deployments[0].capacity"))); diff != "" {
		t.Errorf("Capacity.Validate fields (-want +got):\n%s", diff)
	}
	cfg := Config{DailyDefault: "aws"}
	if diff := cmp.Diff([]string{"quota.daily_default"}, errorFields(cfg.Validate())); diff != "" {
		t.Errorf("Config.Validate fields (-want +got):\n%s", diff)
	}
	for _, ok := range []Capacity{{}, {FlexShare: 1}, {FlexShare: 0.01}} {
		if err := ok.Validate("c"); err != nil {
			t.Errorf("Capacity%+v.Validate() = %v, want nil", ok, err)
		}
	}
}

// TestBurnTokensSaturates: output × burndown never wraps.
func TestBurnTokensSaturates(t *testing.T) {
	for _, tc := range []struct {
		out      int64
		burndown int
		want     int64
	}{
		{100, 0, 100}, {100, 1, 100}, {100, 5, 500}, {-3, 5, 0},
		{MaxRequestTokens, 5, MaxRequestTokens}, {MaxRequestTokens/5 + 1, 5, MaxRequestTokens}, {1 << 62, 1 << 30, MaxRequestTokens},
	} {
		if got := burnTokens(tc.out, tc.burndown); got != tc.want {
			t.Errorf("burnTokens(%d, %d) = %d, want %d", tc.out, tc.burndown, got, tc.want)
		}
	}
	if got := usageTokens(inference.Usage{InputTokens: -1, CacheWriteInputTokens: MaxRequestTokens, OutputTokens: 1 << 40, CacheReadInputTokens: 1 << 40}, 5); got != MaxRequestTokens {
		t.Errorf("usageTokens of absurd usage = %d, want %d", got, int64(MaxRequestTokens))
	}
}
