package routing

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Location is a point on Earth in degrees.
type Location struct {
	Lat float64 `json:"lat" yaml:"lat"`
	Lon float64 `json:"lon" yaml:"lon"`
}

// Constants of the RTT estimate.
const (
	earthRadiusKm = 6371.0
	// fiberKmPerMs is the speed of light in fibre (about 2/3 c).
	fiberKmPerMs = 200.0
	// routeInflation accounts for cables not following great circles.
	routeInflation = 1.5
	// rttFloor covers switching and the last mile; same-region RTT.
	rttFloor = time.Millisecond
	// UnknownRTT is assumed between regions with no measurement and no
	// location.
	UnknownRTT = 150 * time.Millisecond
)

// GreatCircleKm returns the great-circle distance between a and b in km.
func GreatCircleKm(a, b Location) float64 {
	rad := math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(h)))
}

// EstimateRTT estimates the round-trip time between two locations from their
// great-circle distance: there and back through fibre at 200 km/ms along a
// path 1.5× the great circle, plus 1ms. Dublin–Frankfurt (1,090 km) gives
// about 17ms; Virginia–Dublin (5,500 km) about 83ms.
func EstimateRTT(a, b Location) time.Duration {
	ms := 2 * GreatCircleKm(a, b) * routeInflation / fiberKmPerMs
	return rttFloor + time.Duration(ms*float64(time.Millisecond))
}

// RTTSource gives the round-trip time between two regions. Implementations
// must be safe for concurrent use and cheap: [Route] calls RTT once per
// destination.
type RTTSource interface {
	RTT(from, to string) time.Duration
}

// RTTMatrix holds RTTs between regions: measured where the link has measured
// them, estimated from locations otherwise. It is safe for concurrent use.
type RTTMatrix struct {
	mu       sync.RWMutex
	index    map[string]int
	n        int
	estimate []time.Duration // n*n
	measured []time.Duration // n*n; 0 means not measured
}

var _ RTTSource = (*RTTMatrix)(nil)

// NewRTTMatrix returns a matrix of the regions in locations, each pair
// estimated with [EstimateRTT] until [RTTMatrix.Observe] measures it.
func NewRTTMatrix(locations map[string]Location) *RTTMatrix {
	m := &RTTMatrix{index: make(map[string]int, len(locations)), n: len(locations)}
	ids := make([]string, 0, len(locations))
	for id := range locations {
		ids = append(ids, id)
	}
	slices.Sort(ids) // a stable index; the values do not depend on it

	for i, id := range ids {
		m.index[id] = i
	}
	m.estimate = make([]time.Duration, m.n*m.n)
	m.measured = make([]time.Duration, m.n*m.n)
	for i, a := range ids {
		for j, b := range ids {
			if i != j {
				m.estimate[i*m.n+j] = EstimateRTT(locations[a], locations[b])
			}
		}
	}
	return m
}

// RTT returns the measured RTT from one region to another if any, else the
// estimate. It is 0 within a region and [UnknownRTT] for an unknown region.
func (m *RTTMatrix) RTT(from, to string) time.Duration {
	if from == to {
		return 0
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok1 := m.index[from]
	j, ok2 := m.index[to]
	if !ok1 || !ok2 {
		return UnknownRTT
	}
	if d := m.measured[i*m.n+j]; d > 0 {
		return d
	}
	return m.estimate[i*m.n+j]
}

// Set fixes the RTT between two regions in both directions, as a scenario or
// a test does. Unknown regions are ignored.
func (m *RTTMatrix) Set(a, b string, rtt time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok1 := m.index[a]
	j, ok2 := m.index[b]
	if !ok1 || !ok2 || i == j {
		return
	}
	m.measured[i*m.n+j], m.measured[j*m.n+i] = rtt, rtt
}

// Observe folds one measured round trip into the pair's EWMA (weight 0.2);
// the first measurement replaces the estimate. Unknown regions are ignored.
func (m *RTTMatrix) Observe(from, to string, rtt time.Duration) {
	if rtt <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok1 := m.index[from]
	j, ok2 := m.index[to]
	if !ok1 || !ok2 || i == j {
		return
	}
	for _, k := range [2]int{i*m.n + j, j*m.n + i} {
		if old := m.measured[k]; old > 0 {
			m.measured[k] = time.Duration(0.8*float64(old) + 0.2*float64(rtt))
		} else {
			m.measured[k] = rtt
		}
	}
}
