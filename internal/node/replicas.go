package node

import (
	"context"
	"time"

	"github.com/meridian-gateway/meridian/internal/profilestore"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// replicaPeers asks for a sync with the other replicas after a local
// create or delete (bedrock.Peers); it never blocks.
type replicaPeers struct{ kick chan<- struct{} }

// Publish implements bedrock.Peers.
func (p replicaPeers) Publish(context.Context, []profilestore.Record) {
	select {
	case p.kick <- struct{}{}:
	default: // a sync is already due
	}
}

// syncProfilesLoop keeps this replica's application profiles and the
// shared store's record set in step (profilestore.Shared): after every
// local change and every load interval.
func (n *Node) syncProfilesLoop(ctx context.Context) {
	t := n.clock.NewTicker(n.cfg.Link.LoadInterval.Or(time.Second))
	defer t.Stop()
	for {
		n.syncProfiles(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-n.profileSync:
		}
	}
}

// syncProfiles runs one round of the replicas' profile sync: it writes
// what the shared store lacks and merges what it has. One Shared serves
// every round, so a bad shared record is logged once. Rounds do not
// overlap: the loop's and a direct call's (a test's) take turns in
// Shared.Sync, which serializes them.
func (n *Node) syncProfiles(ctx context.Context) {
	n.sharedOnce.Do(func() {
		// Only this region's records are taken from the shared set, and
		// none dated beyond the skew: regions may share one Redis server.
		n.shared = &profilestore.Shared{Set: n.limiter, Logger: n.log, Now: n.clock.Now, Region: n.region.ID}
	})
	if err := n.shared.Sync(ctx, n.profiles, n.gateway().Catalog()); err != nil {
		n.log.Error("could not apply application profiles from the shared store", telemetry.AttrError, err)
	}
}
