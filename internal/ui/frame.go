package ui

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/meridian-gateway/meridian/internal/gateway"
)

// Frame is one second of the console: everything the page draws, built
// once on the server for every viewer.
type Frame struct {
	Time      time.Time `json:"time"`
	Region    string    `json:"region"`
	Geography string    `json:"geography"`
	// State is the node's view of every region (the body of GET
	// /meridian/v1/regions): health, location and per-deployment live
	// state. It is passed through unchanged, so fields the router adds to
	// a deployment's state reach the console without changes here.
	State any `json:"state"`
	// Flows are the last five minutes' flows that entered this node or a
	// peer that published them; Reporting lists those regions.
	Flows     []FlowStat   `json:"flows"`
	Reporting []string     `json:"reporting"`
	Profiles  []ProfileMix `json:"profiles"`
	Residency Residency    `json:"residency"`
	// Recent are the latest records this node saw, newest first.
	Recent []Summary `json:"recent"`
	Totals Totals    `json:"totals"`
	// Demo is set only on a demo node: each region's operator action.
	Demo map[string]Action `json:"demo,omitempty"`
}

// ProfileMix is where one profile's requests ran in the last five minutes.
type ProfileMix struct {
	Profile      string         `json:"profile"`
	Geographic   bool           `json:"geographic"`
	Total        int            `json:"total"`
	Destinations map[string]int `json:"destinations"`
}

// Residency counts requests per (source geography, destination geography)
// over the last five minutes of flows.
type Residency struct {
	Cells []ResidencyCell `json:"cells"`
	// Violations counts, since this node started, the requests it saw of
	// a geographic profile served outside the source's geography. Invariant
	// 1 keeps it at zero.
	Violations    int64  `json:"violations"`
	LastViolation string `json:"last_violation,omitempty"`
}

// ResidencyCell is one cell of the residency matrix.
type ResidencyCell struct {
	SourceGeography      string `json:"source_geography"`
	DestinationGeography string `json:"destination_geography"`
	// Geographic counts requests of geographic profiles; Other those of
	// global and single-region ones.
	Geographic int `json:"geographic"`
	Other      int `json:"other"`
	// Violation is true when a geographic profile left its geography, or
	// any request ran outside the set its source may reach.
	Violation bool `json:"violation"`
}

// Summary is one line of the request feed.
type Summary struct {
	RequestID   string    `json:"request_id"`
	Time        time.Time `json:"time"`
	Side        string    `json:"side"`
	Principal   string    `json:"principal"`
	Profile     string    `json:"profile"`
	Source      string    `json:"source"`
	Destination string    `json:"destination"`
	Route       string    `json:"route"`
	Status      int       `json:"status"`
	ErrorCode   string    `json:"error_code,omitempty"`
	LatencyMs   int64     `json:"latency_ms"`
	Attempts    int       `json:"attempts"`
}

// Totals are counters since the node started.
type Totals struct {
	Requests int64 `json:"requests"`
	Failed   int64 `json:"failed"`
	// Rate is requests per second across every reported flow.
	Rate float64 `json:"rate"`
}

// maxRecent is how many records a frame carries.
const maxRecent = 40

// Frame builds the console's frame; state is the node's regions view.
func (l *Live) Frame(state any) *Frame {
	l.settle.Wait()
	now := l.clock.Now()
	f := &Frame{Time: now.UTC(), Region: l.region, Geography: l.geoOf[l.region], State: state}

	l.mu.Lock()
	flows := l.ownFlowsLocked(now.Unix())
	f.Reporting = append(f.Reporting, l.region)
	for region, p := range l.peers {
		if now.Sub(p.at) > peerTTL {
			continue
		}
		flows = append(flows, p.flows...)
		f.Reporting = append(f.Reporting, region)
	}
	f.Totals = Totals{Requests: l.total, Failed: l.failed}
	f.Residency.Violations, f.Residency.LastViolation = l.violations, l.lastViolation
	for i := 1; i <= l.held && len(f.Recent) < maxRecent; i++ {
		f.Recent = append(f.Recent, summaryOf(&l.ring[(l.next-i+len(l.ring))%len(l.ring)].rec))
	}
	l.mu.Unlock()

	sortFlows(flows)
	slices.Sort(f.Reporting)
	f.Flows = flows
	mixes := map[string]*ProfileMix{}
	cells := map[[2]string]*ResidencyCell{}
	for _, fl := range flows {
		f.Totals.Rate += fl.Rate
		m := mixes[fl.Profile]
		if m == nil {
			m = &ProfileMix{Profile: fl.Profile, Geographic: fl.Geographic, Destinations: map[string]int{}}
			mixes[fl.Profile] = m
		}
		m.Total += fl.Count
		m.Destinations[fl.Destination] += fl.Count
		sg, dg := l.geoOf[fl.Source], l.geoOf[fl.Destination]
		c := cells[[2]string{sg, dg}]
		if c == nil {
			c = &ResidencyCell{SourceGeography: sg, DestinationGeography: dg}
			cells[[2]string{sg, dg}] = c
		}
		if fl.Geographic {
			c.Geographic += fl.Count
			c.Violation = c.Violation || sg != dg
		} else {
			c.Other += fl.Count
		}
		c.Violation = c.Violation || fl.Outside
	}
	for _, k := range slices.Sorted(maps.Keys(mixes)) {
		f.Profiles = append(f.Profiles, *mixes[k])
	}
	f.Residency.Cells = []ResidencyCell{}
	for _, c := range cells {
		f.Residency.Cells = append(f.Residency.Cells, *c)
	}
	slices.SortFunc(f.Residency.Cells, func(a, b ResidencyCell) int {
		return cmp.Or(cmp.Compare(a.SourceGeography, b.SourceGeography), cmp.Compare(a.DestinationGeography, b.DestinationGeography))
	})
	if f.Flows == nil {
		f.Flows = []FlowStat{}
	}
	if f.Profiles == nil {
		f.Profiles = []ProfileMix{}
	}
	if f.Recent == nil {
		f.Recent = []Summary{}
	}
	return f
}

func summaryOf(r *gateway.Record) Summary {
	return Summary{RequestID: r.RequestID, Time: r.Started.UTC(), Side: r.Side, Principal: r.PrincipalID, Profile: r.ProfileID,
		Source: r.SourceRegion, Destination: r.InferenceRegion, Route: r.Route, Status: r.Status, ErrorCode: r.ErrorCode,
		LatencyMs: r.Latency.Milliseconds(), Attempts: len(r.Attempts)}
}
