package node

import (
	"context"
	"encoding/json"
	"time"

	"github.com/meridian-gateway/meridian/internal/profilestore"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// profileRecordSet is the shared store's record set of application
// profiles, one field per profile id holding its JSON record (tombstones
// included). Every node sharing the store reads and writes the same set;
// profilestore.Merge makes the outcome independent of the order.
const profileRecordSet = "profiles"

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
// shared store's in step: after every local change and every load
// interval.
func (n *Node) syncProfilesLoop(ctx context.Context) {
	n.badShared = map[string]bool{}
	t := time.NewTicker(n.cfg.Link.LoadInterval.Or(time.Second))
	defer t.Stop()
	for {
		n.syncProfiles(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.profileSync:
		}
	}
}

// syncProfiles merges the shared record set into this node's profiles
// (the newest record of each id wins, tombstones included) and writes back
// every record the store lacks or holds an older version of. Two replicas
// writing at once may overwrite each other's newer record; the next sync of
// the replica holding it writes it again, so the set converges. Store
// outages are the limiter's to log and count.
func (n *Node) syncProfiles(ctx context.Context) {
	raw, err := n.limiter.Records(ctx, profileRecordSet)
	if err != nil {
		return
	}
	remote := make([]profilestore.Record, 0, len(raw))
	for id, v := range raw {
		var r profilestore.Record
		if err := json.Unmarshal([]byte(v), &r); err != nil || r.ID != id {
			if !n.badShared[id] { // once per id, not every second
				n.badShared[id] = true
				n.log.Warn("shared store holds a malformed application profile; ignored", telemetry.AttrProfile, id)
			}
			continue
		}
		remote = append(remote, r)
	}
	if len(remote) > 0 {
		if _, err := n.current().bedrock.Merge(remote); err != nil {
			n.log.Error("could not apply application profiles from the shared store", telemetry.AttrError, err)
			return
		}
	}
	put := map[string]string{}
	for _, r := range n.current().bedrock.Records() {
		b, err := json.Marshal(r)
		if err != nil {
			continue
		}
		if raw[r.ID] != string(b) {
			put[r.ID] = string(b)
		}
	}
	if len(put) > 0 {
		_ = n.limiter.PutRecords(ctx, profileRecordSet, put)
	}
}
