package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// sample draws a token count from d.
func (d Dist) sample(r *rand.Rand) int {
	switch {
	case d.Fixed > 0:
		return d.Fixed
	case d.Max > 0:
		lo := max(d.Min, 1)
		if d.Max <= lo {
			return lo
		}
		return lo + r.IntN(d.Max-lo+1)
	}
	// Log-normal with the given mean: mu = ln(mean) - sigma²/2.
	mu := math.Log(d.Mean) - d.Sigma*d.Sigma/2
	return max(1, int(math.Exp(mu+d.Sigma*r.NormFloat64())))
}

// arrivals generates the arrival times of one traffic stream as a
// non-homogeneous Poisson process, by thinning a process of the peak rate.
type arrivals struct {
	t         *Traffic
	rng       *rand.Rand
	startHour float64
	utcOffset float64
	peak      float64 // an upper bound of rate(t)
}

func newArrivals(t *Traffic, rng *rand.Rand, startHour, utcOffset float64) *arrivals {
	a := &arrivals{t: t, rng: rng, startHour: startHour, utcOffset: utcOffset}
	base := t.Rate
	if t.Diurnal != nil {
		base *= 1 + t.Diurnal.Amplitude
	}
	a.peak = base
	for _, b := range t.Bursts {
		a.peak += b.Rate + b.Factor*base
	}
	return a
}

// rate returns the arrival rate in requests per second at simulated time at.
func (a *arrivals) rate(at time.Duration) float64 {
	r := a.t.Rate
	if d := a.t.Diurnal; d != nil {
		period := firstPositive(d.Period.D(), 24*time.Hour)
		hour := a.startHour + a.utcOffset + 24*float64(at)/float64(period)
		r *= 1 + d.Amplitude*math.Cos(2*math.Pi*(hour-d.PeakHour)/24)
	}
	base := r
	for _, b := range a.t.Bursts {
		if at >= b.At.D() && at < b.At.D()+b.Duration.D() {
			r += b.Rate + b.Factor*base
		}
	}
	return r
}

// next returns the first arrival after at, or false if there is none before
// end.
func (a *arrivals) next(at, end time.Duration) (time.Duration, bool) {
	if a.peak <= 0 {
		return 0, false
	}
	for {
		at += time.Duration(a.rng.ExpFloat64() / a.peak * float64(time.Second))
		if at >= end {
			return 0, false
		}
		if a.rng.Float64()*a.peak < a.rate(at) {
			return at, true
		}
	}
}
