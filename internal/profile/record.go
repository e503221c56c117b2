package profile

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Record is one application profile created through the control-plane API,
// or the tombstone of one that was deleted. Records are what nodes persist
// and exchange; a [Catalog] is derived from them ([Registry.Catalog]). The
// JSON form is the wire and file format: its field names must not change.
type Record struct {
	// ID is the profile id (the last element of its ARN).
	ID string `json:"id"`
	// Name is the inferenceProfileName the caller chose.
	Name string `json:"name"`
	// CopyFrom is the modelSource.copyFrom ARN or id, as given.
	CopyFrom    string            `json:"copyFrom"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	// HomeRegion is the region where the profile was created.
	HomeRegion string    `json:"homeRegion"`
	CreatedAt  time.Time `json:"createdAt"`
	// UpdatedAt orders changes to one id across regions (MergeRecords).
	UpdatedAt time.Time `json:"updatedAt"`
	// ClientRequestToken makes CreateInferenceProfile idempotent.
	ClientRequestToken string `json:"clientRequestToken,omitempty"`
	// Deleted marks a tombstone.
	Deleted bool `json:"deleted,omitempty"`
}

// Newer reports whether r supersedes o (same id): a later UpdatedAt wins,
// and on a tie a tombstone wins, then the larger home region, so that every
// node picks the same record whatever the order changes arrive in.
func (r Record) Newer(o Record) bool {
	if !r.UpdatedAt.Equal(o.UpdatedAt) {
		return r.UpdatedAt.After(o.UpdatedAt)
	}
	if r.Deleted != o.Deleted {
		return r.Deleted
	}
	return r.HomeRegion > o.HomeRegion
}

// MergeRecords returns the union of local and remote with, for each id,
// the record that supersedes the others ([Record.Newer]), sorted by id,
// and whether the result differs from local. Remote records without an id
// are dropped. It is commutative and idempotent.
func MergeRecords(local, remote []Record) ([]Record, bool) {
	byID := make(map[string]Record, len(local)+len(remote))
	for _, r := range local {
		if cur, ok := byID[r.ID]; !ok || r.Newer(cur) {
			byID[r.ID] = r
		}
	}
	changed := false
	for _, r := range remote {
		if r.ID == "" {
			continue
		}
		if cur, ok := byID[r.ID]; !ok || r.Newer(cur) {
			byID[r.ID] = r
			changed = true
		}
	}
	out := make([]Record, 0, len(byID))
	for _, r := range byID {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(a.ID, b.ID) })
	return out, changed
}

// applicationIDRE is Bedrock's pattern for inference profile ids.
var applicationIDRE = regexp.MustCompile(`^[a-zA-Z0-9-:.]+$`)

// maxApplicationID bounds an application profile id, as Bedrock does.
const maxApplicationID = 64

// CheckRecord refuses a record that this API could not have created: an id
// that is not a Bedrock profile id, no copy source, or an id that reads as
// a system profile's (see [Catalog.CheckApplicationID]; invariant 1). cat
// supplies the geographies. Records from peers and the shared store pass
// it before they are merged. The error wraps [ErrInvalidRecord] or
// [ErrReservedID].
func CheckRecord(cat *Catalog, r Record) error {
	switch {
	case len(r.ID) > maxApplicationID || !applicationIDRE.MatchString(r.ID):
		return fmt.Errorf("%w: id is not 1 to %d letters, digits, '-', ':' or '.'", ErrInvalidRecord, maxApplicationID)
	case r.CopyFrom == "":
		return fmt.Errorf("%w: no copy source", ErrInvalidRecord)
	}
	return cat.CheckApplicationID(r.ID)
}
