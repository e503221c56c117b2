package quota

import (
	"errors"
	"math"
)

// Pool is one of a model's separate quota pools, as Bedrock keeps them per
// model and source region: requests served in their own region, within
// their geography, or anywhere. The pool of a request follows from its
// inference profile (see [PoolOf]).
type Pool uint8

// Pools. The zero value is no pool: no pool limits apply.
const (
	PoolNone       Pool = iota
	PoolInRegion        // a bare model id, served in the source region
	PoolGeographic      // a geography profile ("eu.", "us.", ...)
	PoolGlobal          // a global profile ("global.")
)

var poolNames = [...]string{PoolInRegion: "in_region", PoolGeographic: "geographic", PoolGlobal: "global"}

// String returns the pool's configuration key ("in_region", "geographic",
// "global"), or "none".
func (p Pool) String() string {
	if p > PoolNone && int(p) < len(poolNames) {
		return poolNames[p]
	}
	return "none"
}

// PoolOf returns the pool of a request from its inference profile: global
// is true for a global profile ("global." prefix), geography is a
// geographic profile's geography ("eu" for "eu."), empty for a bare model
// id or a profile that stays in the source region.
func PoolOf(global bool, geography string) Pool {
	switch {
	case global:
		return PoolGlobal
	case geography != "":
		return PoolGeographic
	default:
		return PoolInRegion
	}
}

// PoolLimits are a model's limits in one pool, per source region. Zero
// fields are unlimited.
type PoolLimits struct {
	RPM            int `yaml:"rpm" json:"rpm,omitempty"`
	TPM            int `yaml:"tpm" json:"tpm,omitempty"`
	MaxConcurrency int `yaml:"max_concurrency" json:"max_concurrency,omitempty"`
	TokensPerDay   int `yaml:"tokens_per_day" json:"tokens_per_day,omitempty"`
	TokensPerMonth int `yaml:"tokens_per_month" json:"tokens_per_month,omitempty"`
}

// Pools are a model's limits per pool: every source region has its own
// counters in each pool, with these limits.
//
//	pools: {in_region: {tpm: 200000}, geographic: {tpm: 400000}, global: {tpm: 800000}}
type Pools struct {
	InRegion   *PoolLimits `yaml:"in_region" json:"in_region,omitempty"`
	Geographic *PoolLimits `yaml:"geographic" json:"geographic,omitempty"`
	Global     *PoolLimits `yaml:"global" json:"global,omitempty"`
}

// Of returns the limits of pool p, or nil.
func (ps *Pools) Of(p Pool) *PoolLimits {
	if ps == nil {
		return nil
	}
	switch p {
	case PoolInRegion:
		return ps.InRegion
	case PoolGeographic:
		return ps.Geographic
	case PoolGlobal:
		return ps.Global
	}
	return nil
}

func (ps *Pools) validate(field string) error {
	if ps == nil {
		return nil
	}
	var errs []error
	for _, p := range []Pool{PoolInRegion, PoolGeographic, PoolGlobal} {
		if l := ps.Of(p); l != nil {
			errs = append(errs, l.scoped().validate(field+"."+p.String()))
		}
	}
	return errors.Join(errs...)
}

func (l PoolLimits) scoped() ScopedLimits {
	return ScopedLimits{RPM: l.RPM, TPM: l.TPM, MaxConcurrency: l.MaxConcurrency, TokensPerDay: l.TokensPerDay, TokensPerMonth: l.TokensPerMonth}
}

// Daily-default policies (Config.DailyDefault).
const (
	// DailyDefaultNone leaves a missing tokens_per_day unlimited.
	DailyDefaultNone = "none"
	// DailyDefaultBedrock sets a missing tokens_per_day to tpm × 1440, as
	// Bedrock's daily token quota defaults to its per-minute quota times
	// the minutes of a day.
	DailyDefaultBedrock = "bedrock"
)

// minutesPerDay is Bedrock's factor from a per-minute to a daily quota.
const minutesPerDay = 1440

// withDailyDefault returns l with TokensPerDay set to TPM × 1440 when it is
// unset and TPM is set (saturating at maxCount).
func (l ScopedLimits) withDailyDefault() ScopedLimits {
	if l.TokensPerDay == 0 && l.TPM > 0 {
		l.TokensPerDay = int(min(int64(l.TPM), maxCount/minutesPerDay) * minutesPerDay)
	}
	return l
}

// DefaultFlexShare is the share of a deployment's capacity that flex
// requests may fill when Capacity.FlexShare is zero.
const DefaultFlexShare = 0.5

// flexLimit returns the limit a flex request sees of a deployment limit:
// share of it, rounded down, at least 1.
func flexLimit(limit int64, share float64) int64 {
	if share <= 0 {
		share = DefaultFlexShare
	}
	if share >= 1 {
		return limit
	}
	return max(int64(math.Floor(float64(limit)*share)), 1)
}

// burnTokens returns output tokens × burndown, saturating at
// MaxRequestTokens; a burndown below 1 counts as 1.
func burnTokens(output int64, burndown int) int64 {
	b := int64(max(burndown, 1))
	output = clampTokens(output)
	if output > MaxRequestTokens/b {
		return MaxRequestTokens
	}
	return output * b
}
