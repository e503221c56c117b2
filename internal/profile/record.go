package profile

import (
	"fmt"
	"maps"
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

// Bounds of a record's fields, Bedrock's for CreateInferenceProfile (the
// control-plane API enforces the same, internal/api/bedrock/profiles.go):
// a record that exceeds one could not have been created through the API.
const (
	MaxName        = 64
	MaxDescription = 200
	MaxTags        = 200
	MaxTagKey      = 128
	MaxTagValue    = 256
	// maxCopyFrom and maxToken bound the copy source (an ARN) and the
	// client request token.
	maxCopyFrom = 2048
	maxToken    = 256
)

// MaxPerHome bounds the live application profiles of one home region:
// Create refuses more, and so does a merge (docs/bedrock.md).
const MaxPerHome = 1000

// MaxRecordsPerHome bounds the records of one home region, tombstones
// included (they are kept [TombstoneRetention]): Create refuses more, and
// a merge refuses a new record past it, so that a peer cannot fill a node
// with tombstones of ids it makes up (docs/bedrock.md).
const MaxRecordsPerHome = 3 * MaxPerHome

// MaxHomeBytes bounds the JSON size of one home region's records,
// tombstones included, which its nodes publish in every state document:
// a peer reads at most 1 MiB of a state (internal/interregion/client.go)
// and drops a larger one whole, load snapshot included. Create refuses a
// profile that would exceed it, and a merge any new record, tombstones
// included (a few hundred small profiles fit, or about six with 200 tags
// of the largest size).
const MaxHomeBytes = 512 << 10

// CheckRecord refuses a record that this API could not have created: an id
// that is not a Bedrock profile id, no copy source, no home region, a
// field beyond Bedrock's bounds, or an id that reads as a system profile's
// (see [Catalog.CheckApplicationID]; invariant 1). cat supplies the
// geographies. Records from peers and the shared store pass it before
// they are merged. The error wraps [ErrInvalidRecord], [ErrTooLarge] or
// [ErrReservedID].
func CheckRecord(cat *Catalog, r Record) error {
	switch {
	case len(r.ID) > maxApplicationID || !applicationIDRE.MatchString(r.ID):
		return fmt.Errorf("%w: id is not 1 to %d letters, digits, '-', ':' or '.'", ErrInvalidRecord, maxApplicationID)
	case r.CopyFrom == "":
		return fmt.Errorf("%w: no copy source", ErrInvalidRecord)
	case r.HomeRegion == "":
		return fmt.Errorf("%w: no home region", ErrInvalidRecord)
	case len(r.HomeRegion) > maxApplicationID:
		return fmt.Errorf("%w: home region longer than %d bytes", ErrInvalidRecord, maxApplicationID)
	case len(r.Name) > MaxName:
		return fmt.Errorf("%w: name longer than %d bytes", ErrTooLarge, MaxName)
	case len(r.Description) > MaxDescription:
		return fmt.Errorf("%w: description longer than %d bytes", ErrTooLarge, MaxDescription)
	case len(r.CopyFrom) > maxCopyFrom:
		return fmt.Errorf("%w: copy source longer than %d bytes", ErrTooLarge, maxCopyFrom)
	case len(r.ClientRequestToken) > maxToken:
		return fmt.Errorf("%w: client request token longer than %d bytes", ErrTooLarge, maxToken)
	case len(r.Tags) > MaxTags:
		return fmt.Errorf("%w: %d tags, at most %d", ErrTooLarge, len(r.Tags), MaxTags)
	}
	for k, v := range r.Tags {
		if k == "" || len(k) > MaxTagKey || len(v) > MaxTagValue {
			return fmt.Errorf("%w: a tag key is not 1 to %d bytes or a value longer than %d", ErrTooLarge, MaxTagKey, MaxTagValue)
		}
	}
	return cat.CheckApplicationID(r.ID)
}

// TombstoneRetention is how long a tombstone is kept after the deletion
// it records. Every node prunes it then; a record of the profile its home
// region still publishes after that (a replica of the home region that
// was down longer, with the profile still live in its store) would create
// the profile again. Relays are refused, so only the home can.
const TombstoneRetention = 30 * 24 * time.Hour

// clip bounds a string received from elsewhere before it goes into an
// error or a log line.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// MaxRecordSkew is how far in the future, by the receiver's clock, a
// received record's CreatedAt or UpdatedAt may lie. Newest wins, so a
// record dated later would supersede every honest change for as long.
const MaxRecordSkew = 5 * time.Minute

// Origin says where records to merge come from ([Registry.MergeFrom]).
type Origin struct {
	// Peer is the region of the peer node that sent them, as the link
	// authenticated it (its certificate's region). Only records homed in
	// Peer are accepted. For the replicas' shared set it is the node's own
	// region: only records homed there are taken from it (regions may
	// share one Redis server). Empty for the node's own store and a
	// previous generation, which may hold records of every home region.
	Peer string
	// Own marks the node's own region's shared set (Peer is then the
	// node's region): a record homed there replaces a record held of the
	// same id homed elsewhere (a squat taken first), as its callers
	// created it.
	Own bool
	// Now, when set, refuses records dated later than Now+MaxRecordSkew
	// and prunes tombstones older than [TombstoneRetention].
	Now time.Time
}

// ChangeKind says what an accepted record changed.
type ChangeKind string

// Change kinds.
const (
	ChangeCreated ChangeKind = "created"
	ChangeDeleted ChangeKind = "deleted"
	ChangeUpdated ChangeKind = "updated"
	// ChangeReplaced: the record held was dated in the future (taken
	// before records were checked); its home region's record replaced it.
	ChangeReplaced ChangeKind = "replaced"
)

// Change is one record a merge accepted: what it changed, for the log.
type Change struct {
	ID   string
	Kind ChangeKind
	// Fields names the fields an update changed (tags, description).
	Fields []string
	// Record is the record now in force.
	Record Record
}

// checkFrom refuses a record from origin that its home region could not
// have sent (see [Origin]) or that is dated too far ahead.
func checkFrom(r Record, from Origin) error {
	if from.Peer != "" && r.HomeRegion != from.Peer {
		return fmt.Errorf("%w: homed in %q, sent by %q", ErrNotFromHome, clip(r.HomeRegion), from.Peer)
	}
	if futureDated(r, from.Now) {
		return fmt.Errorf("%w: updatedAt %s, createdAt %s, now %s", ErrFutureRecord,
			r.UpdatedAt.UTC().Format(time.RFC3339), r.CreatedAt.UTC().Format(time.RFC3339), from.Now.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkImmutable refuses next as a later version of cur (same id) when it
// changes what never changes once a profile exists, or revives a
// tombstone. Only the tags and the description may change, and a live
// record may become a tombstone.
func checkImmutable(cur, next Record) error {
	var bad []string
	if next.CopyFrom != cur.CopyFrom {
		bad = append(bad, "copyFrom")
	}
	if next.HomeRegion != cur.HomeRegion {
		bad = append(bad, "homeRegion")
	}
	if next.Name != cur.Name {
		bad = append(bad, "name")
	}
	if !next.CreatedAt.Equal(cur.CreatedAt) {
		bad = append(bad, "createdAt")
	}
	if next.ClientRequestToken != cur.ClientRequestToken {
		bad = append(bad, "clientRequestToken")
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s not as in the record held", ErrImmutable, strings.Join(bad, ", "))
	}
	if cur.Deleted && !next.Deleted {
		return errRevive
	}
	return nil
}

// errRevive is checkImmutable's error for a live record replacing a
// tombstone.
var errRevive = fmt.Errorf("%w: the profile was deleted and stays deleted", ErrImmutable)

// changeOf describes next replacing cur (ok false: there was no cur).
func changeOf(cur Record, ok bool, next Record) Change {
	c := Change{ID: next.ID, Record: next}
	switch {
	case !ok:
		c.Kind = ChangeCreated
		if next.Deleted {
			c.Kind = ChangeDeleted
		}
	case next.Deleted && !cur.Deleted:
		c.Kind = ChangeDeleted
	default:
		c.Kind = ChangeUpdated
		if cur.CopyFrom != next.CopyFrom {
			c.Fields = append(c.Fields, "copyFrom")
		}
		if cur.HomeRegion != next.HomeRegion {
			c.Fields = append(c.Fields, "homeRegion")
		}
		if !maps.Equal(cur.Tags, next.Tags) {
			c.Fields = append(c.Fields, "tags")
		}
		if cur.Description != next.Description {
			c.Fields = append(c.Fields, "description")
		}
		if !cur.UpdatedAt.Equal(next.UpdatedAt) {
			c.Fields = append(c.Fields, "updatedAt")
		}
	}
	return c
}
