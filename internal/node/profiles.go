package node

import (
	"cmp"
	"errors"
	"sync"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/profilestore"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// The node owns the application-profile registry: the Bedrock front end
// translates the control-plane API to registry calls, peers' records and
// the replicas' shared set are merged into it, and every change flows
// registry → catalog → gateway here (feedCatalog), for every generation's
// gateway, whatever the topology in force.

// openProfiles opens the node's application-profile registry on its data
// directory (dataDir/<region>/profiles.json; "./data" when dataDir is
// empty). A store that cannot be read is logged, and the registry refuses
// changes until it is repaired.
func (n *Node) openProfiles(dataDir string) {
	store := profilestore.Open(cmp.Or(dataDir, "./data"), n.region.ID)
	n.profiles = profilestore.NewRegistry(store)
	if err := n.profiles.Err(); err != nil {
		n.log.Error("application profile store unreadable; profile changes are refused until it is fixed", "path", store.Path(), telemetry.AttrError, err)
	}
}

// feedCatalog keeps gw's catalog equal to base plus the registry's live
// application profiles, now and after every change, until stop is called.
// A record base cannot serve (its copy source is not in this topology) is
// logged and left out; it stays in the registry.
func (n *Node) feedCatalog(gw *gateway.Gateway, base *profile.Catalog) (stop func()) {
	log := n.log.With(telemetry.AttrComponent, "profiles")
	return n.profiles.Subscribe(func(r *profile.Registry) {
		cat, skipped := r.Catalog(base)
		for _, e := range skipped {
			log.Warn("application profile not applied", telemetry.AttrProfile, e.ID, telemetry.AttrError, e.Err)
		}
		gw.SetCatalog(cat)
	})
}

// mergePeerProfiles merges the application-profile records a peer
// published into the registry. peer is the region the link authenticated
// (the certificate's): only records homed there are accepted, none dated
// too far ahead of this node's clock, none changing a profile's copy
// source or home (profile.Registry.MergeFrom). Every accepted change is
// logged, and every refused record once per peer.
func (n *Node) mergePeerProfiles(peer string, recs []profile.Record) {
	if len(recs) == 0 {
		return
	}
	changes, rejected, err := n.profiles.MergeFrom(n.gateway().Catalog(), recs, profile.Origin{Peer: peer, Now: n.clock.Now()})
	for _, c := range changes {
		n.log.Info("application profile changed by its home region", append([]any{telemetry.AttrPeer, peer}, profilestore.ChangeAttrs(c)...)...)
	}
	for _, e := range rejected {
		// Every publication carries the full set: log a refused record
		// once, not every load interval.
		if !n.refused.first(peer, e.ID+"\x00"+refusalKind(e.Err)) {
			continue
		}
		if errors.Is(e.Err, profile.ErrNotFromHome) && !errors.Is(e.Err, profile.ErrImmutable) {
			// Peers republish every record they hold; this one is taken
			// from its home region only.
			n.log.Info("peer relayed an application profile of another home region; ignored", telemetry.AttrPeer, peer,
				telemetry.AttrProfile, e.ID, telemetry.AttrError, e.Err)
			continue
		}
		n.log.Warn("peer sent an application profile this node does not accept; ignored", telemetry.AttrPeer, peer,
			telemetry.AttrProfile, e.ID, telemetry.AttrError, e.Err)
	}
	if err != nil {
		n.log.Warn("peer's application profiles not merged", telemetry.AttrPeer, peer, telemetry.AttrError, err)
	}
}

// refusalKind names the reason of a refused record, so that a record
// refused for a new reason (a relay, then a forgery) is logged again.
func refusalKind(err error) string {
	for _, k := range []error{profile.ErrNotFromHome, profile.ErrFutureRecord, profile.ErrImmutable, profile.ErrReservedID, profile.ErrInvalidRecord} {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	return "other"
}

// maxRefused bounds the refused records remembered; beyond it the memory
// starts over (and each is logged once more).
const maxRefused = 1024

// refusedRecords remembers which peers' records were logged as refused.
// The zero value is ready; it is safe for concurrent use.
type refusedRecords struct {
	mu   sync.Mutex
	seen map[[2]string]bool
}

// first reports whether peer's record id is refused for the first time.
func (r *refusedRecords) first(peer, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := [2]string{peer, id}
	if r.seen[k] {
		return false
	}
	if r.seen == nil || len(r.seen) >= maxRefused {
		r.seen = map[[2]string]bool{}
	}
	r.seen[k] = true
	return true
}
