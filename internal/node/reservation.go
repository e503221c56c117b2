package node

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/quota"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// quotaReserver adapts the quota package's limiter to gateway.Quota: it
// holds the topology's limits per principal and capacity per deployment,
// so the gateway names only who and where.
type quotaReserver struct {
	lim      *quota.Limiter
	limits   map[string]quota.Limits // by principal id
	capacity map[string]quota.Capacity
	burndown map[string]int // output-token burndown rate by model id
}

var _ gateway.Quota = (*quotaReserver)(nil)

// newQuotaReserver returns the reserver of cfg's limits on lim.
func newQuotaReserver(cfg *topology.Config, lim *quota.Limiter) *quotaReserver {
	a := &quotaReserver{lim: lim, limits: map[string]quota.Limits{}, capacity: map[string]quota.Capacity{}, burndown: map[string]int{}}
	for _, m := range cfg.Models {
		if m.OutputTokenBurndown > 1 {
			a.burndown[m.ID] = m.OutputTokenBurndown
		}
	}
	for _, p := range cfg.Principals {
		if p.Limits != nil {
			a.limits[p.ID] = quotaLimits(*p.Limits)
		}
	}
	for _, d := range cfg.Deployments {
		a.capacity[d.Key()] = quota.Capacity{MaxConcurrency: d.Capacity.Concurrency(), RPM: d.Capacity.RequestsPerMinute(), TPM: d.Capacity.TokensPerMinute(),
			Pools: quotaPools(d.Capacity.Pools), FlexShare: d.Capacity.FlexShare}
	}
	// Every rejection series these limits can produce exists at 0 from now.
	lim.ExpectLimits(slices.Collect(maps.Values(a.limits)), slices.Collect(maps.Values(a.capacity)))
	return a
}

func quotaLimits(l topology.Limits) quota.Limits {
	scoped := func(m map[string]topology.ScopedLimits) map[string]quota.ScopedLimits {
		if m == nil {
			return nil
		}
		out := make(map[string]quota.ScopedLimits, len(m))
		for k, s := range m {
			out[k] = quota.ScopedLimits{RPM: s.RPM, TPM: s.TPM, MaxConcurrency: s.MaxConcurrency, TokensPerDay: s.TokensPerDay, TokensPerMonth: s.TokensPerMonth,
				Pools: quotaPools(s.Pools)}
		}
		return out
	}
	return quota.Limits{RPM: l.RPM, TPM: l.TPM, MaxConcurrency: l.MaxConcurrency, TokensPerDay: l.TokensPerDay,
		TokensPerMonth: l.TokensPerMonth, PerModel: scoped(l.PerModel), PerProfile: scoped(l.PerProfile)}
}

// quotaPools maps the topology's pools.
func quotaPools(ps *topology.QuotaPools) *quota.Pools {
	if ps == nil {
		return nil
	}
	one := func(l *topology.PoolLimits) *quota.PoolLimits {
		if l == nil {
			return nil
		}
		return &quota.PoolLimits{RPM: l.RPM, TPM: l.TPM, MaxConcurrency: l.MaxConcurrency, TokensPerDay: l.TokensPerDay, TokensPerMonth: l.TokensPerMonth}
	}
	return &quota.Pools{InRegion: one(ps.InRegion), Geographic: one(ps.Geographic), Global: one(ps.Global)}
}

// quotaPool maps the gateway's pool name.
func quotaPool(p string) quota.Pool {
	switch p {
	case gateway.PoolInRegion:
		return quota.PoolInRegion
	case gateway.PoolGeographic:
		return quota.PoolGeographic
	case gateway.PoolGlobal:
		return quota.PoolGlobal
	}
	return quota.PoolNone
}

// Reserve implements gateway.Quota.
func (a *quotaReserver) Reserve(ctx context.Context, r gateway.QuotaRequest) (gateway.Reservation, error) {
	req := quota.Request{Model: r.Model, Profile: r.Profile, InputTokens: r.InputTokens, MaxTokens: r.MaxTokens,
		Pool: quotaPool(r.Pool), SourceRegion: r.SourceRegion, OutputBurndown: a.burndown[r.Model], Flex: r.Tier == inference.TierFlex}
	if r.Principal != "" {
		req.Principal, req.Limits = r.Principal, a.limits[r.Principal]
	}
	if r.Deployment != "" {
		req.Deployment, req.Capacity = r.Deployment, a.capacity[r.Deployment]
	}
	res, err := a.lim.Admit(ctx, req)
	if err != nil {
		return nil, admitError(err)
	}
	return reservation{res}, nil
}

// reservation is a quota reservation with the caller's rate-limit headers.
type reservation struct{ *quota.Reservation }

// Header implements gateway.Reservation.
func (r reservation) Header() http.Header {
	if !r.Enforced() {
		return nil
	}
	h := http.Header{}
	r.Status().SetHeaders(h)
	return h
}

// admitError renders a limiter error: a rejection carries Retry-After and
// the x-ratelimit-* headers, and a deployment's refusal matches
// gateway.ErrDeploymentLimited (the gateway tries the next destination).
func admitError(err error) error {
	e := quota.AsInferenceError(err)
	if e == nil {
		return &inference.Error{Kind: inference.KindTimeout, Message: "request cancelled", Err: err}
	}
	var le *quota.LimitError
	if errors.As(err, &le) {
		e.Header = http.Header{}
		le.SetHeaders(e.Header)
		e.Header.Del("Retry-After") // front ends write Retry-After from RetryAfter
		if le.Scope == quota.ScopeDeployment {
			e.Err = deploymentLimited{le}
		}
	}
	return e
}

// deploymentLimited marks a deployment's refusal, keeping its cause.
type deploymentLimited struct{ err error }

func (d deploymentLimited) Error() string { return d.err.Error() }

func (d deploymentLimited) Unwrap() error { return d.err }

func (d deploymentLimited) Is(target error) bool { return target == gateway.ErrDeploymentLimited }
