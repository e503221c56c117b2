package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profile"
)

// Quota reserves capacity for attempts: the caller's limits at the source,
// and a deployment's capacity where the deployment runs. The node adapts
// the quota package's limiter to it.
type Quota interface {
	// Reserve reserves one attempt. A refusal is an *inference.Error
	// (429 with Retry-After and the caller's x-ratelimit-* headers in its
	// Header); when a deployment's capacity refused it, the error also
	// matches ErrDeploymentLimited, and the next destination may still
	// serve. The returned Reservation is never nil when err is nil.
	Reserve(ctx context.Context, req QuotaRequest) (Reservation, error)
}

// QuotaRequest is one attempt to reserve.
type QuotaRequest struct {
	// Principal is the caller whose limits apply; empty on a destination
	// node (the source already holds the caller's limits).
	Principal string
	// Deployment is "region/model" when the attempt runs in this region;
	// empty for an attempt forwarded to another region (its node checks
	// its own capacity).
	Deployment string
	Model      string
	Profile    string
	// InputTokens is the prompt's estimate; MaxTokens the caller's bound
	// on the completion (zero: the quota's default).
	InputTokens int
	MaxTokens   int
	// Pool is the quota pool of the request's profile: PoolInRegion,
	// PoolGeographic or PoolGlobal. SourceRegion is where it entered; the
	// pool's limits are counted per source region.
	Pool         string
	SourceRegion string
	// Tier is the request's service tier: a flex request is admitted only
	// within the deployment's flex share of its capacity.
	Tier inference.ServiceTier
}

// Quota pools ([QuotaRequest].Pool), named as in the topology file.
const (
	PoolInRegion   = "in_region"
	PoolGeographic = "geographic"
	PoolGlobal     = "global"
)

// poolOf returns the quota pool of a request for profileID: global for a
// global profile, geographic for a geography profile (or an application
// profile copying one), in-region for a bare model id or an application
// profile copying one.
func poolOf(cat *profile.Catalog, profileID string) string {
	p, ok := cat.Get(profileID)
	switch {
	case !ok || p.SingleRegion():
		return PoolInRegion
	case p.Scope == profile.Global:
		return PoolGlobal
	default:
		return PoolGeographic
	}
}

// Reservation is an admitted attempt's hold on quota. Exactly one of
// Commit and Release is called, once.
//
// The gateway settles a reservation with a context that is never cancelled
// and has no deadline: an implementation that waits (a remote store)
// bounds its own wait, as the quota package's Reservation does.
type Reservation interface {
	// Commit charges the real usage. An error is the store's; the
	// gateway has nothing better to do than carry on (the store's own
	// failure policy decides), so it is ignored.
	Commit(ctx context.Context, usage inference.Usage) error
	// Release returns the reservation unused (the attempt failed before
	// the backend did any work).
	Release(ctx context.Context) error
	// Header returns the caller's x-ratelimit-* headers, or nil when no
	// limit applies.
	Header() http.Header
}

// ErrDeploymentLimited marks a Quota refusal by a deployment's capacity
// rather than the caller's own limits.
var ErrDeploymentLimited = errors.New("deployment at capacity")

// admitQuota reserves an attempt (see QuotaRequest for principal and
// deployment). Without a Quota, everything is admitted.
func (g *Gateway) admitQuota(ctx context.Context, principal string, job *Job, deployment string) (Reservation, error) {
	if g.quota == nil {
		return nil, nil
	}
	return g.quota.Reserve(ctx, QuotaRequest{Principal: principal, Deployment: deployment, Model: job.Model, Profile: job.ProfileID,
		InputTokens: job.Request.EstimatedInputTokens(), MaxTokens: job.Request.MaxTokens,
		Pool: poolOf(g.Catalog(), job.ProfileID), SourceRegion: job.SourceRegion, Tier: tierOf(job.Request)})
}

// deploymentLimited reports whether err is a rejection by a deployment's
// capacity (the next candidate may still serve) rather than the caller's
// own limits (no destination will).
func deploymentLimited(err error) bool {
	return errors.Is(err, ErrDeploymentLimited)
}

// settle commits a reservation with the real usage, or releases it when the
// attempt failed before the backend did any work. It runs detached from the
// request's context so a client hang-up does not lose the accounting; the
// Reservation bounds its own wait (see [Reservation]), so no deadline is
// made here: a context with a timer per request cost four allocations and
// a timer, for a settlement the memory store makes without waiting.
func settle(res Reservation, usage *inference.Usage) {
	if res == nil {
		return
	}
	ctx := context.Background()
	if usage != nil {
		res.Commit(ctx, *usage)
	} else {
		res.Release(ctx)
	}
}

// rateHeaders returns the x-ratelimit-* headers of an admitted request.
func rateHeaders(res Reservation) http.Header {
	if res == nil {
		return nil
	}
	return res.Header()
}
