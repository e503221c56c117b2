package profilestore

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// SharedSet is the name of the shared record set of application profiles
// before it was keyed by region: one field per profile id holding its
// JSON record (tombstones included). A replica reads it once, read-only,
// while its region's set is empty ([SharedSetOf]), and never writes it.
const SharedSet = "profiles"

// SharedSetOf is the name of the record set the replicas of region share
// ("profiles:<region>", in Redis the hash <prefix>rec:profiles:<region>):
// regions that share one Redis server and prefix keep their records apart,
// and Redis ACLs can give each region's nodes only their own key. An
// empty region names SharedSet (tests only).
func SharedSetOf(region string) string {
	if region == "" {
		return SharedSet
	}
	return SharedSet + ":" + region
}

// RecordSet is a named set of records that the replicas of a region share
// (the quota store's, over Redis). Its methods report outages; they do not
// retry.
type RecordSet interface {
	// Records returns every field of the set name.
	Records(ctx context.Context, name string) (map[string]string, error)
	// PutRecords sets fields of the set name.
	PutRecords(ctx context.Context, name string, fields map[string]string) error
}

// Shared keeps a [Registry] and the record set the replicas of its region
// share in step. Every replica reads and writes the same set; the
// newest-wins merge makes the outcome independent of the order. Syncs are
// serialized: the node's sync loop runs them, and a test or an operator's
// trigger may run one beside it.
type Shared struct {
	mu sync.Mutex // serializes Sync
	// Set is the shared record set.
	Set RecordSet
	// Logger receives every record accepted from the set and the records
	// left out, each once. If nil, nothing is logged.
	Logger *slog.Logger
	// Now, when set, is the clock that refuses records dated too far
	// ahead ([profile.MaxRecordSkew]) and prunes old tombstones.
	Now func() time.Time
	// Region is the replicas' region. Only records homed there are taken
	// from the set, and only those are written to it: regions may share
	// one Redis server, so the set is not trusted to carry another
	// region's profiles (those come from their home region over the
	// link). Empty takes records of every home (tests only).
	Region string
	// bad remembers the ids already logged as left out.
	bad  map[string]bool
	full bool
	// legacyRead: SharedSet was read (or need not be).
	legacyRead bool
}

// Sync merges the shared set into reg (the newest record of each id wins,
// tombstones included; cat checks the records, [profile.CheckRecord]) and
// writes back every record the set lacks or holds an older version of.
// Two replicas writing at once may overwrite each other's newer record;
// the next sync of the replica holding it writes it again, so the set
// converges. An outage of the set is not reported here (the set logs and
// counts its own outages) and the next sync tries again. The error is the
// registry's: the merge could not be saved, and nothing was written back.
func (s *Shared) Sync(ctx context.Context, reg *Registry, cat *profile.Catalog) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := SharedSetOf(s.Region)
	raw, err := s.Set.Records(ctx, name)
	if err != nil {
		return nil
	}
	in := raw
	if !s.legacyRead && name != SharedSet {
		// Migration: the first sync of a replica whose region's set is
		// still empty takes the records of its region from the set all
		// regions shared, read-only; its records are then written to
		// the region's set, and the old one is not read again.
		if len(raw) == 0 {
			legacy, err := s.Set.Records(ctx, SharedSet)
			if err != nil {
				return nil
			}
			in = legacy
		}
		s.legacyRead = true
	}
	remote := make([]Record, 0, len(in))
	for id, v := range in {
		var r Record
		if err := json.Unmarshal([]byte(v), &r); err != nil || r.ID != id {
			s.leftOut(id, "shared store holds a malformed application profile; ignored", nil)
			continue
		}
		remote = append(remote, r)
	}
	if len(remote) > 0 {
		from := profile.Origin{Peer: s.Region, Own: s.Region != ""}
		if s.Now != nil {
			from.Now = s.Now()
		}
		changes, rejected, err := reg.MergeFrom(cat, remote, from)
		if s.Logger != nil {
			for _, c := range changes {
				s.Logger.Info("application profile changed from the shared store", ChangeAttrs(c)...)
			}
		}
		for _, e := range rejected {
			s.leftOut(e.ID, "shared store holds an application profile this node does not accept; ignored", e.Err)
		}
		if err != nil {
			return err
		}
	}
	put := map[string]string{}
	for _, r := range reg.Records() {
		if s.Region != "" && r.HomeRegion != s.Region {
			continue
		}
		b, err := json.Marshal(r)
		if err != nil {
			continue
		}
		if raw[r.ID] != string(b) {
			put[r.ID] = string(b)
		}
	}
	if len(put) > 0 {
		_ = s.Set.PutRecords(ctx, name, put)
	}
	return nil
}

// maxLeftOut bounds the ids remembered as logged by leftOut; beyond it
// further records left out are counted, not logged one by one.
const maxLeftOut = 256

// leftOut logs a record left out, once per id rather than every sync, at
// most maxLeftOut ids; the id is clipped (it comes from the set).
func (s *Shared) leftOut(id, msg string, err error) {
	if len(id) > 64 {
		id = id[:64] + "…"
	}
	if s.bad == nil {
		s.bad = map[string]bool{}
	}
	if s.bad[id] || s.Logger == nil {
		return
	}
	if len(s.bad) >= maxLeftOut {
		if !s.full {
			s.full = true
			s.Logger.Warn("shared store holds more application profiles this node does not accept than it logs; further ones are not logged", "logged", maxLeftOut)
		}
		return
	}
	s.bad[id] = true
	attrs := []any{telemetry.AttrProfile, id}
	if err != nil {
		attrs = append(attrs, telemetry.AttrError, err)
	}
	s.Logger.Warn(msg, attrs...)
}

// ChangeAttrs are the log attributes of an accepted change: the profile,
// what changed, its home region and copy source.
func ChangeAttrs(c profile.Change) []any {
	attrs := []any{telemetry.AttrProfile, c.ID, "change", string(c.Kind), "home_region", c.Record.HomeRegion,
		"copy_from", c.Record.CopyFrom, "updated_at", c.Record.UpdatedAt}
	if len(c.Fields) > 0 {
		attrs = append(attrs, "fields", c.Fields)
	}
	return attrs
}
