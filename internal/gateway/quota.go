package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/quota"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// admission reserves quota for attempts: the caller's limits at the source,
// and the deployment's capacity where the deployment runs.
type admission struct {
	lim      *quota.Limiter
	limits   map[string]quota.Limits // by principal id
	capacity map[string]quota.Capacity
}

func newAdmission(cfg *topology.Config, lim *quota.Limiter) *admission {
	if lim == nil {
		return nil
	}
	a := &admission{lim: lim, limits: map[string]quota.Limits{}, capacity: map[string]quota.Capacity{}}
	for _, p := range cfg.Principals {
		if p.Limits != nil {
			a.limits[p.ID] = quotaLimits(*p.Limits)
		}
	}
	for _, d := range cfg.Deployments {
		a.capacity[d.Key()] = quota.Capacity{MaxConcurrency: d.Capacity.Concurrency(), RPM: d.Capacity.RequestsPerMinute(), TPM: d.Capacity.TokensPerMinute()}
	}
	return a
}

func quotaLimits(l topology.Limits) quota.Limits {
	scoped := func(m map[string]topology.ScopedLimits) map[string]quota.ScopedLimits {
		if m == nil {
			return nil
		}
		out := make(map[string]quota.ScopedLimits, len(m))
		for k, s := range m {
			out[k] = quota.ScopedLimits{RPM: s.RPM, TPM: s.TPM, MaxConcurrency: s.MaxConcurrency, TokensPerDay: s.TokensPerDay, TokensPerMonth: s.TokensPerMonth}
		}
		return out
	}
	return quota.Limits{RPM: l.RPM, TPM: l.TPM, MaxConcurrency: l.MaxConcurrency, TokensPerDay: l.TokensPerDay,
		TokensPerMonth: l.TokensPerMonth, PerModel: scoped(l.PerModel), PerProfile: scoped(l.PerProfile)}
}

// admit reserves an attempt. principal is empty on a destination node
// (the source already holds the caller's limits); deployment is empty for
// an attempt forwarded to another region (its node checks its capacity).
// A nil admission admits everything.
func (a *admission) admit(ctx context.Context, principal string, job *Job, deployment string) (*quota.Reservation, error) {
	if a == nil {
		return nil, nil
	}
	req := quota.Request{Model: job.Model, Profile: job.ProfileID, InputTokens: job.Request.EstimatedInputTokens(), MaxTokens: job.Request.MaxTokens}
	if principal != "" {
		req.Principal, req.Limits = principal, a.limits[principal]
	}
	if deployment != "" {
		req.Deployment, req.Capacity = deployment, a.capacity[deployment]
	}
	res, err := a.lim.Admit(ctx, req)
	if err != nil {
		return nil, admitError(err)
	}
	return res, nil
}

// admitError renders a limiter error: a rejection carries Retry-After and
// the x-ratelimit-* headers.
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
	}
	return e
}

// deploymentLimited reports whether err is a rejection by a deployment's
// capacity (the next candidate may still serve) rather than the caller's
// own limits (no destination will).
func deploymentLimited(err error) bool {
	var e *inference.Error
	if !errors.As(err, &e) {
		return false
	}
	var le *quota.LimitError
	return errors.As(e.Err, &le) && le.Scope == quota.ScopeDeployment
}

// settle commits a reservation with the real usage, or releases it when the
// attempt failed before the backend did any work. It runs detached from the
// request's context so a client hang-up does not lose the accounting.
func settle(res *quota.Reservation, usage *inference.Usage) {
	if res == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if usage != nil {
		res.Commit(ctx, *usage)
	} else {
		res.Release(ctx)
	}
}

// rateHeaders returns the x-ratelimit-* headers of an admitted request.
func rateHeaders(res *quota.Reservation) http.Header {
	if res == nil || !res.Enforced() {
		return nil
	}
	h := http.Header{}
	res.Status().SetHeaders(h)
	return h
}
