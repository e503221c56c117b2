package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/meridian-gateway/meridian/internal/clock"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

const (
	// windowSeconds is how far back flows, destination mixes and the
	// residency matrix look.
	windowSeconds = 300
	// rateSeconds is the window over which a flow's rate is measured.
	rateSeconds = 10
	// peerTTL is how long a peer's published flows count after they
	// arrived; a peer that stops answering drops off the map.
	peerTTL = 10 * time.Second
	// defaultRecent is how many records the ring buffer keeps.
	defaultRecent = 512
)

// LiveOptions configure a [Live].
type LiveOptions struct {
	// Region is the node's region.
	Region string
	Config *topology.Config
	// Catalog returns the current profile catalog (to tell geographic
	// profiles apart). If nil, the catalog is derived from Config once.
	Catalog func() *profile.Catalog
	// Recent is how many records are kept for the request feed and the
	// record view. If zero, 512.
	Recent int
	// Clock is the time source. If nil, the wall clock.
	Clock Clock
	// Observing, if set, orders the records the gateway hands over once
	// their answers are out: the frame and the record view wait for those
	// already due, so that a client that has its answer finds its request
	// here (see gateway.Observing).
	Observing *gateway.Observing
}

// Live is a node's live view: a [gateway.Recorder] that counts flows per
// (source region, destination region, profile) in one-second buckets over
// the last five minutes, keeps the latest records in a ring buffer, and
// merges the flows peers publish. It is safe for concurrent use.
type Live struct {
	region  string
	geoOf   map[string]string
	catalog func() *profile.Catalog
	clock   Clock
	settle  *gateway.Observing

	mu      sync.Mutex
	buckets [windowSeconds]bucket
	// ring holds the latest records in slots of its own, reused in turn:
	// a record costs no allocation here (docs/performance.md, "Forwarded
	// CPU at 32 in flight, 2026-12-08"). held is how many slots are in use.
	ring  []keptRecord
	next  int
	held  int
	byID  map[string]*gateway.Record
	peers map[string]peerFlows
	// cumulative counts since start, over every record this node saw.
	total, failed, violations int64
	lastViolation             string
}

var _ gateway.Recorder = (*Live)(nil)

type flowKey struct{ Source, Destination, Profile string }

type flowCount struct {
	n, errors  int
	geographic bool
	outside    bool // served outside the set its source may reach
}

type bucket struct {
	sec   int64
	flows map[flowKey]*flowCount
}

type peerFlows struct {
	at    time.Time
	flows []FlowStat
}

// NewLive returns an empty live view.
func NewLive(opts LiveOptions) (*Live, error) {
	if opts.Recent <= 0 {
		opts.Recent = defaultRecent
	}
	if opts.Clock == nil {
		opts.Clock = clock.Wall
	}
	if opts.Catalog == nil {
		cat, err := profile.New(opts.Config)
		if err != nil {
			return nil, err
		}
		opts.Catalog = func() *profile.Catalog { return cat }
	}
	l := &Live{region: opts.Region, geoOf: map[string]string{}, catalog: opts.Catalog, clock: opts.Clock, settle: opts.Observing,
		ring: make([]keptRecord, opts.Recent), byID: map[string]*gateway.Record{}, peers: map[string]peerFlows{}}
	for _, r := range opts.Config.Regions {
		l.geoOf[r.ID] = r.Geography
	}
	return l, nil
}

// keptRecord is a record the ring keeps, with its overhead: the gateway's
// record points at an overhead inside the request's execution, which holds
// the request's body, plan and response, and a ring entry sharing that
// pointer kept all of them reachable for as long as the entry stayed
// (docs/performance.md, "Live heap per request").
type keptRecord struct {
	rec      gateway.Record
	overhead gateway.Overhead
	// attempts is the slot's array for its records' attempts, kept when
	// a record has none (a destination's, a denied one), so that the
	// next record with attempts reuses it.
	attempts []gateway.Attempt
}

// keep copies rec into k, but its prompt and completion; the attempts go
// into the slot's array, when it has room.
func (k *keptRecord) keep(rec *gateway.Record) {
	k.rec = *rec
	k.rec.Prompt, k.rec.Completion = nil, ""
	k.rec.Attempts = nil
	if rec.Attempts != nil {
		k.attempts = append(k.attempts[:0], rec.Attempts...)
		k.rec.Attempts = k.attempts
		if k.rec.Attempts == nil {
			k.rec.Attempts = []gateway.Attempt{}
		}
	}
	k.rec.Overhead = nil
	if rec.Overhead != nil {
		k.overhead = *rec.Overhead
		k.rec.Overhead = &k.overhead
	}
}

// detached returns a copy of r that shares nothing with its slot, which
// a later record overwrites.
func detached(r *gateway.Record) gateway.Record {
	c := *r
	c.Attempts = slices.Clone(r.Attempts)
	if r.Overhead != nil {
		o := *r.Overhead
		c.Overhead = &o
	}
	return c
}

// Record implements [gateway.Recorder]. It keeps a copy of rec without its
// prompt and completion, and never fails. The copy shares nothing with rec
// that the request's own structures hold (its attempts and overhead are
// copied too, into the slot's own), so that what the ring keeps is the
// record alone. A slot's attempts and overhead are overwritten when the
// slot is reused: whatever leaves the lock takes copies of them (Lookup).
func (l *Live) Record(_ context.Context, rec *gateway.Record) error {
	geographic, outside := false, false
	cat := l.catalog()
	if p, ok := cat.Get(rec.ProfileID); ok {
		geographic = p.Geographic()
	}
	if rec.InferenceRegion != "" && rec.ProfileID != "" {
		// Judged on the set the source may reach, not on the prefix: a
		// per-source set can be narrower than the geography.
		err := cat.CheckDestination(rec.ProfileID, rec.SourceRegion, rec.InferenceRegion)
		outside = err != nil && !errors.Is(err, profile.ErrNotFound)
	}
	failed := rec.Status >= 400 || rec.ErrorCode != ""
	sec := l.clock.Now().Unix()

	l.mu.Lock()
	defer l.mu.Unlock()
	slot := &l.ring[l.next]
	if l.held == len(l.ring) && l.byID[slot.rec.RequestID] == &slot.rec {
		delete(l.byID, slot.rec.RequestID)
	}
	slot.keep(rec)
	l.next = (l.next + 1) % len(l.ring)
	l.held = min(l.held+1, len(l.ring))
	l.byID[slot.rec.RequestID] = &slot.rec
	l.total++
	if failed {
		l.failed++
	}
	if rec.InferenceRegion == "" {
		return nil
	}
	if outside || geographic && l.geoOf[rec.SourceRegion] != l.geoOf[rec.InferenceRegion] {
		// Invariant 1 says this cannot happen; the console shows it if it does.
		l.violations++
		l.lastViolation = rec.RequestID
	}
	if rec.Side != "source" {
		// The source node publishes this flow; counting it here too would
		// count it twice once peers' flows are merged.
		return nil
	}
	b := &l.buckets[sec%windowSeconds]
	if b.sec != sec {
		b.sec, b.flows = sec, map[flowKey]*flowCount{}
	}
	k := flowKey{rec.SourceRegion, rec.InferenceRegion, rec.ProfileID}
	fc := b.flows[k]
	if fc == nil {
		fc = &flowCount{geographic: geographic, outside: outside}
		b.flows[k] = fc
	}
	fc.n++
	if failed {
		fc.errors++
	}
	return nil
}

// FlowStat is the traffic from one source region to one destination region
// for one profile: a row of the flows a node publishes to its peers and of
// the console's frame.
type FlowStat struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Profile     string `json:"profile"`
	// Geographic is true for a profile bound to one geography.
	Geographic bool `json:"geographic,omitempty"`
	// Outside is true when the destination is not in the set the
	// profile's source may reach (a residency violation).
	Outside bool `json:"outside,omitempty"`
	// Rate is requests per second over the last ten seconds.
	Rate float64 `json:"rate"`
	// Count is the number of requests in the last five minutes; Errors
	// how many of them failed.
	Count  int `json:"count"`
	Errors int `json:"errors,omitempty"`
}

// Published returns the flows of the requests that entered this node in
// the last five minutes, for its published state; peers merge them with
// [Live.ApplyPeer].
func (l *Live) Published() []FlowStat {
	now := l.clock.Now().Unix()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ownFlowsLocked(now)
}

func (l *Live) ownFlowsLocked(now int64) []FlowStat {
	agg := map[flowKey]*FlowStat{}
	for i := range l.buckets {
		b := &l.buckets[i]
		age := now - b.sec
		if b.flows == nil || age < 0 || age >= windowSeconds {
			continue
		}
		for k, fc := range b.flows {
			fs := agg[k]
			if fs == nil {
				fs = &FlowStat{Source: k.Source, Destination: k.Destination, Profile: k.Profile, Geographic: fc.geographic, Outside: fc.outside}
				agg[k] = fs
			}
			fs.Count += fc.n
			fs.Errors += fc.errors
			if age < rateSeconds {
				fs.Rate += float64(fc.n) / rateSeconds
			}
		}
	}
	out := make([]FlowStat, 0, len(agg))
	for _, fs := range agg {
		out = append(out, *fs)
	}
	sortFlows(out)
	return out
}

// ApplyPeer merges the flows in a peer's published state (the JSON body of
// its link state; other fields are ignored). A peer speaks only for
// requests that entered it: rows with another source are dropped.
func (l *Live) ApplyPeer(region string, state json.RawMessage) error {
	var body struct {
		Flows []FlowStat `json:"flows"`
	}
	if err := json.Unmarshal(state, &body); err != nil {
		return fmt.Errorf("read flows of %s: %w", region, err)
	}
	l.ApplyPeerFlows(region, body.Flows)
	return nil
}

// ApplyPeerFlows merges the flows a peer published, already decoded (the
// node decodes each peer state once). A peer speaks only for requests that
// entered it: rows with another source are dropped. flows is not retained.
func (l *Live) ApplyPeerFlows(region string, flows []FlowStat) {
	kept := make([]FlowStat, 0, len(flows))
	for _, f := range flows {
		if f.Source == region {
			kept = append(kept, f)
		}
	}
	now := l.clock.Now()
	l.mu.Lock()
	l.peers[region] = peerFlows{at: now, flows: kept}
	l.mu.Unlock()
}

// Lookup returns a copy of a recent record by request id; ok is false when
// it is unknown or has left the ring buffer.
func (l *Live) Lookup(requestID string) (rec gateway.Record, ok bool) {
	l.settle.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.byID[requestID]
	if !ok {
		return gateway.Record{}, false
	}
	return detached(r), true
}

func sortFlows(fs []FlowStat) {
	slices.SortFunc(fs, func(a, b FlowStat) int {
		return strings.Compare(a.Source+"\x00"+a.Destination+"\x00"+a.Profile, b.Source+"\x00"+b.Destination+"\x00"+b.Profile)
	})
}
