package quota

// Series that exist from the start. A counter series that appears with its
// first event is missed by an increase() > 0 alert (its first sample is
// already 1), so the limiter creates at 0 every series whose labels are
// known before any request: each admission result, store operation and
// drop reason (newMetrics), and each (scope, limit) pair of
// meridian_quota_rejections_total that the configured limits can refuse
// with (ExpectLimits). All come from fixed sets: at most 9 store
// operations, 6 results, 4 reasons and 5 scopes × 5 limits.

// storeOps are the op labels of meridian_quota_store_errors_total: the
// store operations health.fail names (Admit's reserve, the settlements'
// commit, release and retry, the probe's ping, the release of a previous
// run's leases, and the shared routing state's operations in shared.go).
var storeOps = [...]string{"ping", "reserve", "commit", "release", "retry", "release_leases", "cooldown", "state", "records"}

// admissionResults are the result labels of meridian_quota_admissions_total.
var admissionResults = [...]string{resultAdmitted, resultRejected, resultFailedOpen, resultFailedClosed, resultInvalid, resultRefused}

// dropReasons are the reason labels of meridian_quota_dropped_settlements_total.
var dropReasons = [...]string{dropOverflow, dropRefused, dropAttempts, dropClosed}

// ExpectLimits creates, at 0, the meridian_quota_rejections_total series
// of every (scope, limit) pair that limits (the principals' topology
// limits) and capacity (the deployments') can refuse a request with: a
// principal's rpm, its per-model tokens_per_day, a deployment's
// max_concurrency, .... With daily_default: bedrock, a caller scope with
// a tpm also has its implied tokens_per_day. The node calls it with each
// topology it runs (start and reloads); a series a reload leaves unused
// stays at its count. The pairs come from a fixed set (5 scopes × 5
// limits), whatever the topology.
func (l *Limiter) ExpectLimits(limits []Limits, capacity []Capacity) {
	bedrock := l.cfg.DailyDefault == DailyDefaultBedrock
	expect := func(scope Scope, s ScopedLimits) {
		if bedrock && scope.Caller() {
			s = s.withDailyDefault()
		}
		for _, x := range [...]struct {
			kind  Kind
			limit int
		}{{RequestsPerMinute, s.RPM}, {TokensPerMinute, s.TPM}, {Concurrency, s.MaxConcurrency}, {TokensPerDay, s.TokensPerDay}, {TokensPerMonth, s.TokensPerMonth}} {
			if x.limit > 0 {
				l.metrics.rejections.WithLabelValues(scope.String(), x.kind.String())
			}
		}
	}
	pools := func(scope Scope, ps *Pools) {
		if ps == nil {
			return
		}
		for _, p := range [...]*PoolLimits{ps.InRegion, ps.Geographic, ps.Global} {
			if p != nil {
				expect(scope, p.scoped())
			}
		}
	}
	for _, lim := range limits {
		expect(ScopePrincipal, lim.scoped())
		for _, s := range lim.PerModel {
			expect(ScopeModel, s)
			pools(ScopeModelPool, s.Pools)
		}
		for _, s := range lim.PerProfile {
			expect(ScopeProfile, s)
		}
	}
	for _, c := range capacity {
		expect(ScopeDeployment, ScopedLimits{RPM: c.RPM, TPM: c.TPM, MaxConcurrency: c.MaxConcurrency})
		pools(ScopeDeployment, c.Pools)
	}
}
