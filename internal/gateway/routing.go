package gateway

import (
	"context"
	"errors"
	"github.com/meridian-gateway/meridian/internal/clock"
	"hash/fnv"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// Routing bundles a node's routing state: the router that plans, the
// tracker of every deployment's health and load (local, measured here; remote,
// learned from peers' snapshots and this node's own attempts), the RTTs
// between regions, and the admission queue for when everything is saturated.
type Routing struct {
	Router       *routing.Router
	Tracker      *routing.Tracker
	RTT          *routing.RTTMatrix
	Queue        *routing.Queue
	QueueTimeout time.Duration
	// Clock times the routing state's waits, and the gateway's watch on
	// forwarded streams. If nil, the wall clock.
	Clock routing.TimerClock

	queues queueState // the admission queue's per-profile state (overload.go)
}

// NewRouting builds region's routing state from the topology.
func NewRouting(cfg *topology.Config, region string, clk routing.TimerClock) (*Routing, error) {
	if clk == nil {
		clk = clock.Wall
	}
	rc, err := cfg.RoutingConfig()
	if err != nil {
		return nil, err
	}
	tracker, err := routing.NewTracker(routing.TrackerConfig{Region: region, Deployments: cfg.RoutingDeployments()}, clk)
	if err != nil {
		return nil, err
	}
	rtt := routing.NewRTTMatrix(cfg.RoutingLocations())
	qmax, qtimeout := rc.QueueLimits()
	return &Routing{
		Router:  &routing.Router{Config: rc, Tracker: tracker, RTT: rtt},
		Tracker: tracker, RTT: rtt, Queue: routing.NewQueue(qmax, clk), QueueTimeout: qtimeout, Clock: clk,
	}, nil
}

func (r *Routing) clock() routing.TimerClock {
	if r.Clock == nil {
		return clock.Wall
	}
	return r.Clock
}

// outcomeOf classifies an attempt's error for the tracker.
func outcomeOf(err error, ttft time.Duration) routing.Outcome {
	if err == nil {
		return routing.Outcome{Kind: routing.Success, TTFT: ttft}
	}
	e := inference.AsError(err)
	if e.Unfit {
		// Not sent: the destination could not carry the request, which
		// is no fault of its deployment.
		return routing.Outcome{Kind: routing.Canceled}
	}
	switch e.Kind {
	case inference.KindThrottled:
		return routing.Outcome{Kind: routing.Throttled, RetryAfter: e.RetryAfter}
	case inference.KindTimeout:
		return routing.Outcome{Kind: routing.Timeout}
	case inference.KindUnavailable:
		if e.UpstreamStatus == 503 {
			return routing.Outcome{Kind: routing.ServerError, RetryAfter: e.RetryAfter}
		}
		return routing.Outcome{Kind: routing.ConnectError}
	case inference.KindUpstream, inference.KindInternal:
		return routing.Outcome{Kind: routing.ServerError}
	}
	// The request itself was at fault (or the caller went away): the
	// deployment is not to blame.
	return routing.Outcome{Kind: routing.Canceled}
}

// errClientClosed is the record's error code of a request whose caller
// went away before its answer ended.
const errClientClosed = "client_closed"

// hungUp reports whether ctx, a request's context, ended because the
// caller went away (rather than a deadline passing).
func hungUp(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}

// attemptOutcome classifies an attempt's error for the tracker, knowing the
// request's context: when the caller hung up, whatever the backend's read
// failed with says nothing about the deployment (a cancelled read looks
// like a time-out or a broken connection), so it never counts against its
// health.
func attemptOutcome(ctx context.Context, err error, ttft time.Duration) routing.Outcome {
	if err != nil && hungUp(ctx) {
		return routing.Outcome{Kind: routing.Canceled}
	}
	return outcomeOf(err, ttft)
}

// seedOf spreads plans of different requests (power of two choices).
func seedOf(requestID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(requestID))
	return h.Sum64()
}

// noCandidate is the error when no destination can take a request now. It
// says why each destination the caller may use was left out (skipped lists
// regions the plan offered but that could not be tried, e.g. a peer that
// does not answer; skipWait is the soonest end of a cooldown that began
// since the plan was made); unauthorized ones are not named.
//
// Its status follows the cause. When some destination is only busy
// (saturated, its RPM/TPM window or its quota capacity used up, or
// cooling down, its circuit open or its probe taken after a 429), the
// caller should come back: a 429 with Retry-After, never a 5xx. When none
// is busy, every remaining one is down (the same after failures, or its
// node not answering) or could never serve the request: a 503, with the Retry-After
// of the soonest cooldown's end when there is one, so that an SDK retries
// it as an outage rather than as throttling.
func noCandidate(profileID string, plan *routing.Plan, skipped map[string]string, skipWait time.Duration) *inference.Error {
	var why []string
	busy := false
	for _, c := range plan.Excluded() {
		if c.Exclusion == routing.ExcludedUnauthorized || c.Exclusion == routing.ExcludedNotDestination {
			continue
		}
		label := c.Region + " " + c.Exclusion.String()
		switch c.Exclusion {
		case routing.ExcludedSaturated, routing.ExcludedRPM, routing.ExcludedTPM:
			busy = true
		case routing.ExcludedCooldown, routing.ExcludedCircuitOpen, routing.ExcludedProbeInFlight:
			if c.Throttled {
				busy = true
				label += " after a 429"
			} else {
				label += " after failures"
			}
		}
		why = append(why, label)
	}
	for _, c := range plan.Candidates() {
		if r, ok := skipped[c.Region]; ok {
			if r == skipAtCapacity || r == skipUnavailable {
				busy = true
			}
			why = append(why, c.Region+" "+r)
		}
	}
	detail := ""
	if len(why) > 0 {
		detail = " (" + strings.Join(why, ", ") + ")"
	}
	ra := plan.RetryAfter()
	if ra == 0 || (skipWait > 0 && skipWait < ra) {
		ra = skipWait
	}
	if busy {
		return &inference.Error{Kind: inference.KindThrottled, RetryAfter: max(ra, time.Second),
			Message: "every region of " + profileID + " is at capacity; retry later" + detail}
	}
	if ra > 0 {
		return &inference.Error{Kind: inference.KindUnavailable, RetryAfter: max(ra, time.Second),
			Message: "every region of " + profileID + " is unavailable after failures; retry later" + detail}
	}
	return &inference.Error{Kind: inference.KindUnavailable, RetryAfter: time.Second,
		Message: "no region of " + profileID + " can serve the request now" + detail}
}
