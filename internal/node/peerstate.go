package node

import (
	"encoding/json"
	"fmt"

	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/ui"
)

// peerState is the document a node publishes to its peers over the link
// (GET /link/v1/state, fetched every load interval, and the push after a
// sharp change). A peer's document is decoded once, by [decodePeerState],
// and its parts go as typed values to their consumers: the load snapshot
// to routing, the flows to the console, the application-profile records
// to the registry, the topology digest to the residency check. Its JSON
// form is the wire format between nodes of different versions: names do
// not change, and a member a node does not know is ignored.
type peerState struct {
	// Snapshot is the node's load snapshot (the load exchange); its
	// Region is the publishing node's region.
	routing.Snapshot
	// Profiles are the node's API-created application profiles homed in
	// its region, tombstones included: every publication carries the full
	// set, so a peer that was down catches up on its next fetch. Records
	// of other homes are not relayed (peers take a profile's records only
	// from its home region), so a region that publishes many large
	// records grows only its own state.
	Profiles []profile.Record `json:"profiles,omitempty"`
	// Flows are the flows of the requests that entered the node, for its
	// peers' consoles.
	Flows []ui.FlowStat `json:"flows,omitempty"`
	// Topology is the digest of the node's residency-relevant topology;
	// peers compare it with their own.
	Topology string `json:"topology"`
}

// decodePeerState decodes a peer's state document. It is the only decoder
// of that document: whatever reads a part of a peer's state receives it
// from here.
func decodePeerState(body []byte) (peerState, error) {
	var st peerState
	if err := json.Unmarshal(body, &st); err != nil {
		return peerState{}, fmt.Errorf("decode peer state: %w", err)
	}
	return st, nil
}

// state returns this node's state for its peers.
func (n *Node) state() any {
	g := n.current()
	var own []profile.Record
	for _, r := range n.profiles.Records() {
		if r.HomeRegion == n.region.ID {
			own = append(own, r)
		}
	}
	return peerState{Snapshot: g.gw.Routing().Tracker.Snapshot(), Profiles: own, Flows: n.live.Published(),
		Topology: g.gw.Catalog().ResidencyDigest()}
}
