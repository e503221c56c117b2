package gateway

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
)

// HeaderMaxQueueWait lets a caller lower the admission queue's wait budget
// for its request, e.g. "250ms" for an interactive caller, or "0" to hear
// 429 at once rather than wait at all. It never raises the configured
// budget.
const HeaderMaxQueueWait = "x-meridian-max-queue-wait"

// maxQueueWaitKey is HeaderMaxQueueWait in canonical form: Header.Get
// allocates to canonicalise any other, on every request.
var maxQueueWaitKey = http.CanonicalHeaderKey(HeaderMaxQueueWait)

// NoQueueWait is the [Call.MaxQueueWait] of a caller that does not want to
// wait at all.
const NoQueueWait time.Duration = -1

// MaxQueueWait reads [HeaderMaxQueueWait] from h for [Call.MaxQueueWait]:
// 0 when absent or not a valid duration (the configured budget applies),
// [NoQueueWait] for "0".
func MaxQueueWait(h http.Header) time.Duration {
	d, ok := ParseMaxQueueWait(h.Get(maxQueueWaitKey))
	if !ok {
		return 0
	}
	return d
}

// ParseMaxQueueWait parses a [HeaderMaxQueueWait] value: a Go duration
// ("250ms", "1.5s") or "0". It returns [NoQueueWait] for a zero duration,
// and false for anything else (empty, negative, longer than 32 bytes, or
// malformed), which the gateway ignores.
func ParseMaxQueueWait(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 32 {
		return 0, false
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, false
	}
	if d == 0 {
		return NoQueueWait, true
	}
	return d, true
}

// Reasons of meridian_queue_rejections_total: why the admission queue
// answered 429.
const (
	rejectPredicted = "predicted_wait" // the predicted wait exceeds the budget
	rejectHopeless  = "hopeless"       // no destination is expected back, or a waiter's wait became hopeless
	rejectStanding  = "standing"       // the queue is standing (sustained overload)
	rejectFull      = "full"           // queue.max requests already wait
	rejectTimeout   = "timeout"        // the budget passed while waiting
	rejectFlex      = "flex"           // a flex request found no spare capacity: it never waits
)

// queueState is what the gateway's admission keeps per profile: waiting
// requests, the standing-queue detector and the last predicted wait (for
// /meridian/v1/regions). The zero value is ready to use.
type queueState struct {
	mu        sync.Mutex
	waiting   map[string]int
	priority  map[string]int // of waiting, those in the priority lane
	standing  map[string]*routing.Standing
	predicted map[string]time.Duration
}

// QueueStat describes one profile's admission queue.
type QueueStat struct {
	Profile string `json:"profile"`
	// Depth is how many requests wait now.
	Depth int `json:"depth"`
	// PredictedWait is the wait predicted for the last request that found
	// no destination free (zero when none has).
	PredictedWait time.Duration `json:"predicted_wait_ns"`
	// Standing reports that the queue is standing (sustained overload): it
	// takes no new request until it empties.
	Standing bool `json:"standing"`
}

// QueueStats returns every profile's admission queue that has been used,
// sorted by profile id.
func (r *Routing) QueueStats() []QueueStat {
	q := &r.queues
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []QueueStat
	for _, id := range slices.Sorted(maps.Keys(q.predicted)) {
		st := QueueStat{Profile: id, Depth: q.waiting[id], PredictedWait: q.predicted[id]}
		if s := q.standing[id]; s != nil {
			st.Standing = s.Standing()
		}
		out = append(out, st)
	}
	return out
}

// peek returns how many requests of profile wait ahead of a new one (with
// priority, only those of the priority lane) and whether its queue is
// standing.
func (q *queueState) peek(profile string, priority bool) (ahead int, standing bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.predicted == nil {
		q.waiting, q.standing, q.predicted = map[string]int{}, map[string]*routing.Standing{}, map[string]time.Duration{}
		q.priority = map[string]int{}
	}
	s := q.standing[profile]
	if priority {
		return q.priority[profile], s != nil && s.Standing()
	}
	return q.waiting[profile], s != nil && s.Standing()
}

// note records the last predicted wait of profile.
func (q *queueState) note(profile string, wait time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.predicted[profile] = wait
}

func (q *queueState) enter(profile string, priority bool) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.waiting[profile]++
	if priority {
		q.priority[profile]++
	}
	return q.waiting[profile]
}

// leave records that a request of profile left the queue after waiting
// waited (waitedInQueue false: it was refused as the queue was full, and
// its zero wait says nothing about a standing queue); it returns the depth.
func (q *queueState) leave(profile string, priority bool, now time.Time, waited time.Duration, waitedInQueue bool) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.waiting[profile] = max(q.waiting[profile]-1, 0)
	if priority {
		q.priority[profile] = max(q.priority[profile]-1, 0)
	}
	s := q.standing[profile]
	if s == nil {
		s = &routing.Standing{}
		q.standing[profile] = s
	}
	n := q.waiting[profile]
	if waitedInQueue {
		s.Left(now, waited, n)
	}
	if n == 0 {
		s.Empty()
	}
	return n
}

// admitQueued plans req, waiting in the admission queue only while that is
// expected to pay off (docs/routing.md, "Admission that predicts the
// wait"). When no destination can take the request, it predicts the wait
// (routing.PredictWait, counting the requests of the same profile already
// waiting) and queues the request only if that fits the budget: the
// profile's queue.max_wait, lowered by the caller's [Call.MaxQueueWait].
// Otherwise, or when the queue is standing, full, or the wait became
// hopeless while waiting, the caller hears 429 at once with the predicted
// wait as Retry-After. No wait exceeds the budget.
//
// Service tiers (docs/quotas.md, "Service tiers"): a priority request waits
// in the priority lane, ahead of every default one, and counts only the
// priority requests ahead of it in its predicted wait; a standing queue
// does not turn it away (the standing queue is the default lane's). A flex
// request never waits: it is served from spare capacity or refused.
func (g *Gateway) admitQueued(ctx context.Context, plan *routing.Plan, req *routing.Request, callerWait time.Duration, tier inference.ServiceTier) (routing.Options, error) {
	priority := tier == inference.TierPriority
	r := g.routing
	q := &r.queues
	var deadline time.Time
	woken := false
	for {
		opts, err := r.Router.Plan(plan, req)
		if err == nil {
			return opts, nil
		}
		if !errors.Is(err, routing.ErrNoCandidate) {
			return opts, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: err}
		}
		budget := min(opts.QueueMaxWait, r.QueueTimeout)
		switch {
		case callerWait < 0:
			budget = 0
		case callerWait > 0:
			budget = min(budget, callerWait)
		}
		now := g.now()
		if deadline.IsZero() {
			deadline = now.Add(budget)
		}
		ahead, standing := q.peek(req.ProfileID, priority)
		if woken {
			ahead = 0 // it keeps its turn at the head
		}
		wait, ok := r.Router.PredictWait(plan, req, ahead)
		q.note(req.ProfileID, wait)
		var reason string
		switch {
		case tier == inference.TierFlex:
			reason = rejectFlex
		case !ok:
			reason = rejectHopeless
		case budget <= 0 || now.Add(wait).After(deadline):
			reason = rejectPredicted
		case standing && !woken && !priority:
			reason = rejectStanding
		}
		if reason != "" {
			return opts, g.queueReject(req.ProfileID, plan, reason, wait)
		}
		g.metrics.QueueDepth.WithLabelValues(req.ProfileID).Set(float64(q.enter(req.ProfileID, priority)))
		// Hopeless reads its own copy: were it to capture deadline, every
		// request would allocate it, queued or not.
		deadline := deadline
		werr := r.Queue.WaitWith(ctx, deadline.Sub(now), routing.WaitOptions{
			Front:      woken,
			Priority:   priority,
			Key:        req.ProfileID,
			CheckEvery: min(max(wait/2, 10*time.Millisecond), 100*time.Millisecond),
			Hopeless: func(ahead int) bool {
				// Called on this goroutine: plan is ours to reuse.
				if _, err := r.Router.Plan(plan, req); err == nil {
					return false // a destination is free: the wake-up is coming
				}
				w, ok := r.Router.PredictWait(plan, req, ahead)
				return !ok || g.now().Add(w).After(deadline)
			},
		})
		left := g.now()
		waited := left.Sub(now)
		full := errors.Is(werr, routing.ErrQueueFull)
		g.metrics.QueueDepth.WithLabelValues(req.ProfileID).Set(float64(q.leave(req.ProfileID, priority, left, waited, !full)))
		if !full {
			g.metrics.QueueWait.Observe(waited.Seconds())
		}
		if werr != nil {
			if ctx.Err() != nil {
				return opts, &inference.Error{Kind: inference.KindTimeout, Message: "request cancelled while waiting for capacity", Err: ctx.Err()}
			}
			reason := rejectTimeout
			switch {
			case full:
				reason = rejectFull
			case errors.Is(werr, routing.ErrQueueHopeless):
				reason = rejectHopeless
			}
			if _, err := r.Router.Plan(plan, req); err == nil {
				// Capacity freed just as the wait ended.
				return r.Router.Config.Options(req.ProfileID), nil
			}
			ahead, _ := q.peek(req.ProfileID, priority)
			wait, _ = r.Router.PredictWait(plan, req, ahead)
			return opts, g.queueReject(req.ProfileID, plan, reason, wait)
		}
		woken = true
	}
}

// queueReject is the 429 of a request the admission queue turns away: its
// Retry-After is the predicted wait (the header rounds it up to whole
// seconds, at least 1), or the plan's own estimate when there is no
// prediction.
func (g *Gateway) queueReject(profileID string, plan *routing.Plan, reason string, wait time.Duration) *inference.Error {
	g.metrics.QueueRejections.WithLabelValues(reason).Inc()
	e := noCandidate(profileID, plan, nil, 0)
	if e.Kind == inference.KindThrottled && wait > 0 {
		e.RetryAfter = max(wait, time.Second)
	}
	if reason == rejectFlex && e.Kind == inference.KindThrottled {
		e.Message += " (flex-tier requests are served from spare capacity only)"
	}
	return e
}
