package routing

import (
	"errors"
	"fmt"
	"time"
)

// Snapshot is the load report a node sends each peer over the link, at least
// once a second: the state of the deployments in its own region. It is JSON
// on the wire.
type Snapshot struct {
	// Region is the sending node's region; every State must be in it.
	Region string `json:"region"`
	// SentAt is the sender's clock when the snapshot was built. Receivers
	// use SentAt - State.ObservedAt as the state's age, so clock skew
	// between nodes does not matter.
	SentAt      time.Time `json:"sent_at"`
	Deployments []State   `json:"deployments"`
}

// Snapshot returns the state of this node's local deployments, for
// publishing to peers.
func (t *Tracker) Snapshot() Snapshot {
	now := t.clock.Now()
	s := Snapshot{Region: t.cfg.Region, SentAt: now, Deployments: make([]State, 0, len(t.local))}
	for _, d := range t.local {
		d.mu.Lock()
		st := t.stateLocked(d, now)
		d.mu.Unlock()
		st.ProbeInFlight = false // a local detail: peers run their own probes
		s.Deployments = append(s.Deployments, st)
	}
	return s
}

// Apply merges a peer's snapshot. Each state replaces the previous report of
// its deployment unless it is older, with ObservedAt rebased onto this node's
// clock (now minus the age the sender reported; CooldownUntil likewise).
// Apply ignores and reports
// states that claim a region other than the snapshot's, the receiver's own
// region (peers do not speak for local deployments), or an untracked
// deployment; the other states are still applied. Apply is safe to call
// concurrently with everything else.
func (t *Tracker) Apply(s Snapshot) error {
	now := t.clock.Now()
	var errs []error
	if s.Region == t.cfg.Region {
		return fmt.Errorf("apply snapshot: region %q is this node's own region", s.Region)
	}
	for i, st := range s.Deployments {
		if st.Region != s.Region {
			errs = append(errs, fmt.Errorf("apply snapshot from %s: deployments[%d]: region %q is not the sender's", s.Region, i, st.Region))
			continue
		}
		k := Key{Region: st.Region, Model: st.Model}
		d, ok := t.byKey[k]
		if !ok {
			errs = append(errs, fmt.Errorf("apply snapshot from %s: deployments[%d]: %s: %w", s.Region, i, k, ErrUnknownDeployment))
			continue
		}
		age := time.Duration(0)
		if !st.ObservedAt.IsZero() && !s.SentAt.IsZero() {
			age = max(s.SentAt.Sub(st.ObservedAt), 0)
		}
		st.ObservedAt = now.Add(-age)
		if !st.CooldownUntil.IsZero() && !s.SentAt.IsZero() {
			st.CooldownUntil = now.Add(st.CooldownUntil.Sub(s.SentAt)) // rebase too
		}
		st.ProbeInFlight = false
		st.Ramp = 0
		d.mu.Lock()
		if !d.hasRemote || !st.ObservedAt.Before(d.remote.ObservedAt) {
			d.remote, d.hasRemote = st, true
			d.sentSince, d.tokensSince = 0, 0
			d.epoch++
			d.liveSince, d.endedSince = 0, 0
		}
		d.mu.Unlock()
	}
	return errors.Join(errs...)
}
