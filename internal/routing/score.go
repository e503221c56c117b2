package routing

import "time"

// Scoring constants.
const (
	// assumedTTFT stands in for a deployment whose TTFT EWMA is unknown.
	assumedTTFT = 500 * time.Millisecond
	// latencyRef is the expected TTFT that scores 0.5.
	latencyRef = 500 * time.Millisecond
	// Weights of the locality-first score; they sum to 1.
	weightHeadroom = 0.5
	weightLatency  = 0.3
	weightErrors   = 0.2
)

// measure fills the candidate's headroom, RTT and expected TTFT.
func measure(in *Input, s *State, c *Candidate) {
	switch {
	case c.Region == in.SourceRegion:
		c.RTT = 0
	case in.RTT != nil:
		c.RTT = in.RTT.RTT(in.SourceRegion, c.Region)
	default:
		c.RTT = UnknownRTT
	}
	ttft := assumedTTFT
	if s != nil {
		c.Headroom = s.Headroom()
		c.ramp = s.Ramp
		if s.TTFT > 0 {
			ttft = s.TTFT
		}
	}
	c.ExpectedTTFT = ttft + c.RTT
}

// score maps a candidate to [0,1] for the strategy, higher is better.
// weightTotal is the sum of the positive weights, computed once per plan.
func score(in *Input, strategy Strategy, s *State, c *Candidate, weightTotal float64) float64 {
	switch strategy {
	case LeastLoaded:
		return c.Headroom
	case Latency:
		l := latencyScore(c.ExpectedTTFT)
		if c.Headroom <= 0 {
			// Saturated deployments go after every one with headroom.
			l *= 0.01
		}
		return l
	case Weighted:
		if len(in.Options.Weights) == 0 {
			return 1
		}
		if weightTotal <= 0 {
			return 0
		}
		return clamp01(in.Options.Weights[c.Region] / weightTotal)
	}
	errRate := 0.0
	if s != nil {
		errRate = clamp01(s.ErrorRate)
	}
	return weightHeadroom*c.Headroom + weightLatency*latencyScore(c.ExpectedTTFT) + weightErrors*(1-errRate)
}

// latencyScore is 1 for zero TTFT, 0.5 at latencyRef, falling towards 0.
func latencyScore(ttft time.Duration) float64 {
	return float64(latencyRef) / float64(latencyRef+max(ttft, 0))
}

// weightTotal sums the positive weights.
func weightTotal(weights map[string]float64) float64 {
	total := 0.0
	for _, w := range weights {
		if w > 0 {
			total += w
		}
	}
	return total
}
