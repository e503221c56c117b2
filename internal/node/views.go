package node

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/meridian-gateway/meridian/internal/gateway"
)

// DeploymentState is a deployment's live state as a node publishes it.
type DeploymentState struct {
	Model          string    `json:"model"`
	MaxConcurrency int       `json:"maxConcurrency,omitempty"`
	RPM            int       `json:"rpm,omitempty"`
	TPM            int       `json:"tpm,omitempty"`
	CoolingUntil   time.Time `json:"coolingUntil,omitzero"`
}

// NodeState is what a node publishes to its peers over the link.
type NodeState struct {
	Region      string            `json:"region"`
	Time        time.Time         `json:"time"`
	Ready       bool              `json:"ready"`
	Deployments []DeploymentState `json:"deployments"`
}

func (n *Node) state() any {
	s := NodeState{Region: n.region.ID, Time: time.Now().UTC(), Ready: n.Ready(), Deployments: []DeploymentState{}}
	np, _ := n.gw.Planner().(*gateway.NearestPlanner)
	for _, d := range n.cfg.DeploymentsIn(n.region.ID) {
		ds := DeploymentState{Model: d.Model, MaxConcurrency: d.Capacity.Concurrency(), RPM: d.Capacity.RequestsPerMinute(), TPM: d.Capacity.TokensPerMinute()}
		if np != nil {
			ds.CoolingUntil = np.CoolingUntil(n.region.ID, d.Model)
		}
		s.Deployments = append(s.Deployments, ds)
	}
	return s
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
	Healthy     bool              `json:"healthy"`
	LastSeen    time.Time         `json:"lastSeen,omitzero"`
	Deployments []DeploymentState `json:"deployments"`
}

// RegionsView is the body of GET /meridian/v1/regions.
type RegionsView struct {
	Region      string            `json:"region"`
	Geography   string            `json:"geography"`
	Geographies map[string]string `json:"geographies"`
	Regions     []RegionView      `json:"regions"`
}

func (n *Node) regions(w http.ResponseWriter, r *http.Request) {
	v := RegionsView{Region: n.region.ID, Geography: n.region.Geography, Geographies: map[string]string{}}
	for id, g := range n.cfg.Geographies {
		v.Geographies[id] = g.Name
	}
	for _, reg := range n.cfg.Regions {
		rv := RegionView{ID: reg.ID, Geography: reg.Geography, Lat: reg.Location.Lat, Lon: reg.Location.Lon,
			Endpoint: "http://" + reg.Listen, Self: reg.ID == n.region.ID, Deployments: []DeploymentState{}}
		if rv.Self {
			rv.Endpoint = "http://" + n.ClientAddr()
			rv.Healthy, rv.LastSeen = n.Ready(), time.Now().UTC()
			rv.Deployments = n.state().(NodeState).Deployments
		} else {
			rv.Healthy, rv.LastSeen, _ = n.link.PeerStatus(reg.ID)
			if raw, ok := n.peerState.Load(reg.ID); ok {
				var ps NodeState
				if json.Unmarshal(raw.(json.RawMessage), &ps) == nil {
					rv.Deployments = ps.Deployments
				}
			}
		}
		v.Regions = append(v.Regions, rv)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
