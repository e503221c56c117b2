package gateway

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// PlanInput is what a planner needs to order destinations.
type PlanInput struct {
	Source    string
	Model     string
	ProfileID string
	// Destinations are the profile's destinations the caller is authorized
	// for; a planner never returns any other region.
	Destinations []string
	// EstimatedTokens is prompt plus maximum completion tokens.
	EstimatedTokens int
	// PeerHealthy reports whether a region's node answers.
	PeerHealthy func(region string) bool
}

// Candidate is one destination to try, with the reason it was chosen.
type Candidate struct {
	Region string
	Reason string
}

// Observation is the result of one attempt, fed back to the planner.
type Observation struct {
	Took time.Duration
	// Err is nil on success.
	Err *inference.Error
}

// Planner orders the destinations of a request and learns from outcomes.
// Implementations are safe for concurrent use.
type Planner interface {
	// Plan returns the candidates to try in order. When no destination can
	// take the request now it returns an *inference.Error (429 with
	// Retry-After when they are all cooling down, else 503).
	Plan(in PlanInput) ([]Candidate, error)
	// Observe records an attempt's outcome for region's deployment of model.
	Observe(region, model string, obs Observation)
}

// NearestPlanner prefers the source region, then the nearest healthy
// destination by great-circle distance, skipping deployments in cooldown
// after a throttle or failure.
type NearestPlanner struct {
	now  func() time.Time
	dist map[[2]string]float64

	mu        sync.Mutex
	cooldowns map[string]cooldown // key: region/model
}

type cooldown struct {
	until    time.Time
	failures int
}

// NewNearestPlanner returns a planner for cfg's regions.
func NewNearestPlanner(cfg *topology.Config, now func() time.Time) *NearestPlanner {
	if now == nil {
		now = time.Now
	}
	p := &NearestPlanner{now: now, dist: map[[2]string]float64{}, cooldowns: map[string]cooldown{}}
	for _, a := range cfg.Regions {
		for _, b := range cfg.Regions {
			p.dist[[2]string{a.ID, b.ID}] = GreatCircleKm(a.Location, b.Location)
		}
	}
	return p
}

// Plan implements Planner.
func (p *NearestPlanner) Plan(in PlanInput) ([]Candidate, error) {
	now := p.now()
	var out []Candidate
	var soonest time.Time
	cooling := 0
	dst := append([]string(nil), in.Destinations...)
	sort.SliceStable(dst, func(i, j int) bool {
		return p.dist[[2]string{in.Source, dst[i]}] < p.dist[[2]string{in.Source, dst[j]}]
	})
	p.mu.Lock()
	for _, r := range dst {
		if c, ok := p.cooldowns[r+"/"+in.Model]; ok && now.Before(c.until) {
			cooling++
			if soonest.IsZero() || c.until.Before(soonest) {
				soonest = c.until
			}
			continue
		}
		if in.PeerHealthy != nil && !in.PeerHealthy(r) {
			continue
		}
		reason := "nearest"
		if r == in.Source {
			reason = "local"
		}
		out = append(out, Candidate{Region: r, Reason: reason})
	}
	p.mu.Unlock()
	if len(out) > 0 {
		return out, nil
	}
	if cooling > 0 {
		return nil, &inference.Error{Kind: inference.KindThrottled, RetryAfter: max(soonest.Sub(now), time.Second),
			Message: "every region of " + in.ProfileID + " is at capacity; retry later"}
	}
	return nil, &inference.Error{Kind: inference.KindUnavailable, Message: "no region of " + in.ProfileID + " is healthy now"}
}

// Observe implements Planner: a throttle cools the deployment for its
// Retry-After; other retryable failures back off exponentially with jitter.
func (p *NearestPlanner) Observe(region, model string, obs Observation) {
	key := region + "/" + model
	p.mu.Lock()
	defer p.mu.Unlock()
	if obs.Err == nil {
		delete(p.cooldowns, key)
		return
	}
	if !obs.Err.Kind.Retryable() {
		return
	}
	c := p.cooldowns[key]
	c.failures++
	wait := obs.Err.RetryAfter
	if wait == 0 {
		base := 250 * time.Millisecond << min(c.failures-1, 7)
		wait = min(base, 30*time.Second)
		wait += time.Duration(rand.Int64N(int64(wait)/4 + 1))
	}
	c.until = p.now().Add(wait)
	p.cooldowns[key] = c
}

// CoolingUntil returns when region's deployment of model leaves cooldown
// (zero when it is not cooling).
func (p *NearestPlanner) CoolingUntil(region, model string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cooldowns[region+"/"+model]
	if p.now().Before(c.until) {
		return c.until
	}
	return time.Time{}
}

// GreatCircleKm returns the distance between two locations in kilometres.
func GreatCircleKm(a, b topology.Location) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}
