package routing

import "errors"

// Router bundles what a node routes with: the configuration, the [Tracker]
// of deployment states and the RTTs. It is the gateway's one entry point for
// planning; attempts still go through Tracker.Start and Tracker.Observe.
// A Router is safe for concurrent use as long as each call uses its own
// [Plan]. Replace the whole Router on topology reload.
type Router struct {
	// Config is the `routing:` configuration.
	Config Config
	// Tracker holds the deployment states. Required.
	Tracker *Tracker
	// RTT gives RTTs between regions; nil means [UnknownRTT] everywhere.
	RTT RTTSource
}

// Request is one request to plan with [Router.Plan].
type Request struct {
	SourceRegion string
	// ProfileID selects the per-profile settings of [Config.Options].
	ProfileID string
	// Model is the profile's model; the deployments planned over are the
	// model's in each destination region.
	Model string
	// Destinations is the profile's destination set (invariant 1).
	Destinations []string
	// Authorized reports whether the caller may invoke the model in a
	// region (invariant 2). Nil authorizes no region.
	Authorized func(region string) bool
	// Capable reports whether the model's deployment in a region has every
	// capability the request uses. Nil: every deployment is capable.
	Capable func(region string) bool
	// EstimatedTokens is prompt plus expected output tokens.
	EstimatedTokens int
	// Seed randomizes the plan (see [Input.Seed]); use a different value per
	// request, e.g. a hash of the request id.
	Seed uint64
}

var errNoTracker = errors.New("routing: Router has no Tracker")

// Plan fills p with the plan of req from the tracker's current states, like
// [Route] (which it calls), and returns the profile's [Options] so that the
// caller knows its failover budget. It returns [ErrNoCandidate] when nothing
// may be tried. With a reused p it does not allocate.
func (r *Router) Plan(p *Plan, req *Request) (Options, error) {
	opts := r.Config.Options(req.ProfileID)
	if r.Tracker == nil {
		return opts, errNoTracker
	}
	p.states = r.Tracker.States(p.states[:0], req.Model, req.Destinations)
	in := Input{
		SourceRegion:    req.SourceRegion,
		Destinations:    req.Destinations,
		States:          p.states,
		Authorized:      req.Authorized,
		Capable:         req.Capable,
		RTT:             r.RTT,
		EstimatedTokens: req.EstimatedTokens,
		Options:         opts,
		Seed:            req.Seed,
		Now:             r.Tracker.clock.Now(),
	}
	return opts, Route(p, &in)
}
