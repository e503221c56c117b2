package profile

import (
	"slices"
	"time"
)

// Type says how a profile came to be.
type Type uint8

// Profile types.
const (
	// SystemDefined profiles are derived from the topology.
	SystemDefined Type = iota + 1
	// Application profiles are created by users (config or API).
	Application
)

// String returns the Bedrock name of the type.
func (t Type) String() string {
	switch t {
	case SystemDefined:
		return "SYSTEM_DEFINED"
	case Application:
		return "APPLICATION"
	}
	return "UNKNOWN"
}

// Global is the scope of global.* profiles.
const Global = "global"

// Profile is an inference profile: a model plus the regions it may run in.
type Profile struct {
	// ID is "eu.demo.chat-small", "global.demo.chat-small" or an
	// application profile's id.
	ID   string
	Type Type
	// Model is the logical model id the profile serves.
	Model string
	// Scope is the geography id of a geographic profile, Global for a
	// global one, and for an application profile its source's scope ("" when
	// it copies a model id: single-region).
	Scope string
	// Destinations are the regions the profile may run in from some
	// source, sorted: the union of the per-source sets. Routing uses
	// [Profile.DestinationsFrom], never this union.
	Destinations []string
	// Sources are the regions that may invoke the profile, sorted.
	Sources []string
	// PerSource maps each source to the destinations it may reach, sorted,
	// when the topology sets them (profiles.system.<id>.sources). When nil,
	// every source reaches every region of Destinations.
	PerSource map[string][]string
	// CopyFrom is what an application profile copies, as given.
	CopyFrom string
	// CopyOf is the id of the system profile an application profile
	// copies ("" when it copies a model id). A call through the
	// application profile is also authorized as a call of this profile
	// (docs/policies.md, "Application profiles").
	CopyOf      string
	Description string
	Tags        map[string]string
	// CreatedAt is when an application profile was created (zero for
	// system profiles and config-defined ones).
	CreatedAt time.Time
	// HomeRegion is where an API-created application profile was created;
	// its ARN names that region. Empty for others.
	HomeRegion string
}

// SingleRegion reports whether the profile is served only in the region it
// is invoked from (an application profile copying a model id).
func (p *Profile) SingleRegion() bool { return p.Scope == "" }

// Geographic reports whether the profile is bound to one geography.
func (p *Profile) Geographic() bool { return p.Scope != "" && p.Scope != Global }

// Includes reports whether region is one of the profile's destinations.
func (p *Profile) Includes(region string) bool {
	_, ok := slices.BinarySearch(p.Destinations, region)
	return ok
}

// DestinationsFrom returns the regions the profile may run in when invoked
// from source, sorted; nil when source may not invoke it. A single-region
// profile runs only in source. The slice is shared: do not modify it.
func (p *Profile) DestinationsFrom(source string) []string {
	if !p.CallableFrom(source) {
		return nil
	}
	if p.SingleRegion() {
		return []string{source}
	}
	if p.PerSource != nil {
		return p.PerSource[source]
	}
	return p.Destinations
}

// Reaches reports whether a call from source may be served in destination.
func (p *Profile) Reaches(source, destination string) bool {
	if p.SingleRegion() {
		return p.CallableFrom(source) && source == destination
	}
	_, ok := slices.BinarySearch(p.DestinationsFrom(source), destination)
	return ok
}

// CallableFrom reports whether region may invoke the profile.
func (p *Profile) CallableFrom(region string) bool {
	_, ok := slices.BinarySearch(p.Sources, region)
	return ok
}

// ARN returns the profile's ARN as seen from region.
func (p *Profile) ARN(partition, region, account string) string {
	if p.Type == Application {
		if p.HomeRegion != "" {
			region = p.HomeRegion
		}
		return ApplicationProfileARN(partition, region, account, p.ID)
	}
	return ProfileARN(partition, region, account, p.ID)
}
