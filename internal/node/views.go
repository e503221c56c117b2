package node

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// DeploymentView is a deployment's live state as this node sees it.
type DeploymentView struct {
	routing.State
	// Fresh is false when the state is unknown or older than the
	// staleness bound.
	Fresh bool `json:"fresh"`
	// Headroom is the scarcest free fraction of concurrency, RPM and TPM.
	Headroom float64 `json:"headroom"`
	// Capabilities are what the deployment's model can do (declared, or
	// its backend type's defaults); routing excludes it for requests that
	// use another.
	Capabilities []string `json:"capabilities"`
	// CooldownRemainingMs is how long the deployment stays in cooldown.
	CooldownRemainingMs int64 `json:"cooldown_remaining_ms,omitempty"`
	// RPMLeft and TPMLeft shadow the state's rpm_remaining and
	// tpm_remaining (encoding/json takes the shallower field): absent when
	// the deployment has no such limit (unlimited), as rpm_limit and
	// tpm_limit are, instead of a 0 that reads as "used up".
	RPMLeft *int `json:"rpm_remaining,omitempty"`
	TPMLeft *int `json:"tpm_remaining,omitempty"`
}

// newDeploymentView is st as the regions view shows it at now. The
// tracker moves an open circuit to half-open only when the next request
// takes its probe; once the cooldown has passed, the circuit already lets
// that probe through (routing's circuitFilter), so the view says
// half-open instead of a stale open.
func newDeploymentView(st routing.State, now time.Time, staleness time.Duration, capabilities []string) DeploymentView {
	if st.Circuit == routing.CircuitOpen && !now.Before(st.CooldownUntil) {
		st.Circuit = routing.CircuitHalfOpen
	}
	dv := DeploymentView{State: st, Fresh: st.Fresh(now, staleness), Headroom: st.Headroom(), Capabilities: capabilities}
	if st.CooldownUntil.After(now) {
		dv.CooldownRemainingMs = st.CooldownUntil.Sub(now).Milliseconds()
	}
	if st.RPMLimit > 0 {
		left := st.RPMRemaining
		dv.RPMLeft = &left
	}
	if st.TPMLimit > 0 {
		left := st.TPMRemaining
		dv.TPMLeft = &left
	}
	return dv
}

// RegionView is one region as GET /meridian/v1/regions shows it.
type RegionView struct {
	ID        string  `json:"id"`
	Geography string  `json:"geography"`
	Lat       float64 `json:"lat"`
	Lon       float64 `json:"lon"`
	// Endpoint is the region's client API base URL.
	Endpoint string `json:"endpoint"`
	Self     bool   `json:"self"`
	// Healthy is this node's view: itself, or whether the peer answers.
	Healthy bool `json:"healthy"`
	// LastSeen is when this node last heard from the region (now, for
	// itself).
	LastSeen    time.Time        `json:"last_seen,omitzero"`
	Deployments []DeploymentView `json:"deployments"`
	// RTTMs is the round trip from this node to the region (measured on
	// the link, else estimated from locations).
	RTTMs float64 `json:"rtt_ms"`
	// TopologyMismatch is true while the region's node runs a topology
	// whose residency rules differ from this node's.
	TopologyMismatch bool `json:"topology_mismatch"`
	// LastSeenOld and TopologyMismatchOld repeat LastSeen and
	// TopologyMismatch under their earlier camelCase keys, which
	// docs/security.md and existing scripts read; docs/operations.md
	// ("The regions view") marks them deprecated.
	LastSeenOld         time.Time `json:"lastSeen,omitzero"`
	TopologyMismatchOld bool      `json:"topologyMismatch"`
}

// RegionsView is the body of GET /meridian/v1/regions.
type RegionsView struct {
	Region      string            `json:"region"`
	Geography   string            `json:"geography"`
	Geographies map[string]string `json:"geographies"`
	Regions     []RegionView      `json:"regions"`
	// Queues are this node's admission queues, by profile: depth and the
	// last predicted wait.
	Queues []gateway.QueueStat `json:"queues"`
}

func (n *Node) regions(w http.ResponseWriter, r *http.Request) {
	v := n.regionsView()
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// regionsView returns every region as this node sees it now.
func (n *Node) regionsView() RegionsView {
	v := RegionsView{Region: n.region.ID, Geography: n.region.Geography, Geographies: map[string]string{}}
	for id, g := range n.cfg.Geographies {
		v.Geographies[id] = g.Name
	}
	g := n.current()
	rt := g.gw.Routing()
	staleness := g.cfg.Routing.Staleness.Or(3 * time.Second)
	now := n.clock.Now()
	v.Queues = append([]gateway.QueueStat{}, rt.QueueStats()...)
	for _, reg := range n.cfg.Regions {
		rv := RegionView{ID: reg.ID, Geography: reg.Geography, Lat: reg.Location.Lat, Lon: reg.Location.Lon,
			Endpoint: scheme(reg) + reg.Listen, Self: reg.ID == n.region.ID, Deployments: []DeploymentView{},
			RTTMs: float64(rt.RTT.RTT(n.region.ID, reg.ID).Microseconds()) / 1000}
		if rv.Self {
			rv.Endpoint = scheme(reg) + n.ClientAddr()
			rv.Healthy, rv.LastSeen = n.Ready(), now.UTC()
		} else {
			rv.Healthy, rv.LastSeen, _ = n.link.PeerStatus(reg.ID)
			rv.TopologyMismatch = n.topologyMismatch(reg.ID)
		}
		rv.LastSeenOld, rv.TopologyMismatchOld = rv.LastSeen, rv.TopologyMismatch
		for _, d := range g.cfg.DeploymentsIn(reg.ID) {
			st, ok := rt.Tracker.State(routing.Key{Region: reg.ID, Model: d.Model})
			if !ok {
				continue
			}
			rv.Deployments = append(rv.Deployments, newDeploymentView(st, now, staleness, d.EffectiveCapabilities()))
		}
		v.Regions = append(v.Regions, rv)
	}
	return v
}

// scheme is the URL scheme of a region's client API.
func scheme(r topology.Region) string {
	if r.TLS != nil {
		return "https://"
	}
	return "http://"
}
