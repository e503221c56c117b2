package node

import (
	"cmp"
	"errors"
	"sync"
	"time"

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
		return
	}
	n.logFutureProfiles()
}

// logFutureProfiles logs at error every live record homed in this region
// that is dated beyond the clock skew (profile.FutureDated): a forgery an
// earlier version took from a peer, a record written while a sibling's
// clock was far ahead, or this node's own clock running slow. No node
// serves it while it stays ahead of its clock (Registry.CatalogAt), so
// nothing is deleted automatically: a slow clock here would otherwise
// delete a legitimate profile, with a tombstone older than the record that
// peers keep serving. An operator who finds it is a forgery deletes it
// explicitly (DeleteInferenceProfile); records homed elsewhere
// wait for their home.
func (n *Node) logFutureProfiles() {
	now := n.clock.Now()
	for _, rec := range n.profiles.Records() {
		if rec.Deleted || rec.HomeRegion != n.region.ID || !profile.FutureDated(rec, now) {
			continue
		}
		n.log.Error("application profile homed here is dated in the future and is not served: check this node's clock; if the clock is right the record is a forgery taken by an earlier version or was written by a node whose clock was ahead: delete it (DeleteInferenceProfile) and recreate it",
			telemetry.AttrProfile, rec.ID, "dated", rec.UpdatedAt, "now", now)
	}
}

// feedCatalog keeps gw's catalog equal to base plus the registry's live
// application profiles, now and after every change, until stop is called.
// A record base cannot serve (its copy source is not in this topology, or
// it is dated beyond the skew: quarantined) is logged and left out; it
// stays in the registry. A record left out is logged when it is first left
// out, not again on every later change (the log holds at most
// maxSkippedLogged of them per feed).
func (n *Node) feedCatalog(gw *gateway.Gateway, base *profile.Catalog) (stop func()) {
	log := n.log.With(telemetry.AttrComponent, "profiles")
	var logged map[string]bool // id and reason already logged
	return n.profiles.Subscribe(func(r *profile.Registry) {
		cat, skipped := r.CatalogAt(base, n.clock.Now(), n.region.ID)
		now := make(map[string]bool, len(skipped))
		for _, e := range skipped {
			k := e.ID + "\x00" + refusalKind(e.Err)
			now[k] = true
			if logged[k] || len(now) > maxSkippedLogged {
				continue
			}
			log.Warn("application profile not applied", telemetry.AttrProfile, e.ID, telemetry.AttrError, e.Err)
		}
		if len(skipped) > maxSkippedLogged && len(logged) <= maxSkippedLogged {
			log.Warn("application profiles not applied beyond those logged", "not_applied", len(skipped), "logged", maxSkippedLogged)
		}
		logged = now
		gw.SetCatalog(cat)
	})
}

// maxSkippedLogged bounds the records feedCatalog logs as not applied.
const maxSkippedLogged = 64

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
		first, summary := n.refused.first(peer, e.ID+"\x00"+refusalKind(e.Err), n.clock.Now())
		if summary > 0 {
			n.log.Warn("peer sent more refused application profiles than are logged one by one", telemetry.AttrPeer, peer,
				"not_logged", summary)
		}
		if !first {
			continue
		}
		if errors.Is(e.Err, profile.ErrHomeConflict) {
			n.log.Error("two home regions claim one application profile id; the record held is kept and served only from its home",
				telemetry.AttrPeer, peer, telemetry.AttrProfile, e.ID, telemetry.AttrError, e.Err)
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
	for _, k := range []error{profile.ErrHomeConflict, profile.ErrNotFromHome, profile.ErrFutureRecord, profile.ErrImmutable,
		profile.ErrReservedID, profile.ErrTooLarge, profile.ErrInvalidRecord, profile.ErrHomeGone, profile.ErrHomeScope} {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	return "other"
}

// maxRefusedPerPeer bounds the refused records remembered per peer (peers
// are the topology's regions, named by their certificates). Beyond it a
// peer's further refusals are not logged one by one: they are counted,
// and the count is logged at most once per refusedSummaryEvery.
const maxRefusedPerPeer = 256

// refusedSummaryEvery is how often, at most, the count of a peer's
// refusals not logged one by one is logged.
const refusedSummaryEvery = 10 * time.Minute

// refusedRecords remembers which peers' records were logged as refused.
// The zero value is ready; it is safe for concurrent use.
type refusedRecords struct {
	mu    sync.Mutex
	peers map[string]*refusedPeer
}

type refusedPeer struct {
	seen       map[string]bool
	suppressed int       // refusals not logged since the last summary
	lastSum    time.Time // when the last summary was logged
}

// first reports whether peer's record key is refused for the first time
// and should be logged. summary, when not zero, is the count of the
// peer's new refusals that were not logged one by one since the last
// summary (its memory is full), to log now.
func (r *refusedRecords) first(peer, key string, now time.Time) (first bool, summary int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.peers == nil {
		r.peers = map[string]*refusedPeer{}
	}
	p := r.peers[peer]
	if p == nil {
		p = &refusedPeer{seen: map[string]bool{}}
		r.peers[peer] = p
	}
	if p.seen[key] {
		return false, 0
	}
	if len(p.seen) < maxRefusedPerPeer {
		p.seen[key] = true
		return true, 0
	}
	p.suppressed++
	if p.lastSum.IsZero() || now.Sub(p.lastSum) >= refusedSummaryEvery {
		summary, p.suppressed, p.lastSum = p.suppressed, 0, now
	}
	return false, summary
}
