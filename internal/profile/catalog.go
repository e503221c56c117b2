package profile

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/meridian-gateway/meridian/internal/topology"
)

// Catalog holds every profile of a topology. It is immutable.
type Catalog struct {
	partition, account string
	geoOf              map[string]string   // region -> geography
	regionsOf          map[string][]string // geography -> regions, sorted
	hosts              map[string][]string // model -> regions with a deployment, sorted
	globalOK           map[string]bool     // geography -> allows global routing
	profiles           map[string]*Profile
	ids                []string // sorted
	digest             string   // ResidencyDigest, computed once per catalog
	// profileViews and modelViews are what resolving a profile or model
	// id from a source region yields, computed once per catalog.
	profileViews, modelViews map[viewKey]*sourceView
}

// New derives the system profiles of cfg and adds its application profiles.
// cfg must have passed validation.
func New(cfg *topology.Config) (*Catalog, error) {
	c := &Catalog{
		partition: cfg.PartitionOrDefault(),
		account:   cfg.Account,
		geoOf:     map[string]string{},
		regionsOf: map[string][]string{},
		hosts:     map[string][]string{},
		globalOK:  map[string]bool{},
		profiles:  map[string]*Profile{},
	}
	for id, g := range cfg.Geographies {
		c.globalOK[id] = g.AllowsGlobal()
	}
	for _, r := range cfg.Regions {
		c.geoOf[r.ID] = r.Geography
		c.regionsOf[r.Geography] = append(c.regionsOf[r.Geography], r.ID)
	}
	for _, d := range cfg.Deployments {
		c.hosts[d.Model] = append(c.hosts[d.Model], d.Region)
	}
	for _, rs := range c.regionsOf {
		sort.Strings(rs)
	}
	for _, rs := range c.hosts {
		sort.Strings(rs)
	}
	for model, regions := range c.hosts {
		byGeo := map[string][]string{}
		var global []string
		for _, r := range regions {
			g := c.geoOf[r]
			byGeo[g] = append(byGeo[g], r)
			if c.globalOK[g] {
				global = append(global, r)
			}
		}
		for g, dst := range byGeo {
			c.add(&Profile{ID: g + "." + model, Type: SystemDefined, Model: model, Scope: g,
				Destinations: dst, Sources: c.regionsOf[g]})
		}
		if len(global) > 0 {
			c.add(&Profile{ID: Global + "." + model, Type: SystemDefined, Model: model, Scope: Global,
				Destinations: global, Sources: c.globalSources()})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(cfg.Profiles.System)) {
		p, ok := c.profiles[id]
		if !ok || p.Type != SystemDefined {
			return nil, fmt.Errorf("profiles.system %q: %w: not a system profile of this topology", id, ErrNotFound)
		}
		if err := c.setPerSource(p, cfg.Profiles.System[id].Sources); err != nil {
			return nil, fmt.Errorf("profiles.system %q: %w", id, err)
		}
	}
	for _, a := range cfg.Profiles.Application {
		if err := c.CheckApplicationID(a.ID); err != nil {
			return nil, fmt.Errorf("profiles.application %q: %w", a.ID, err)
		}
		p, err := c.application(a.ID, a.CopyFrom, a.Description, a.Tags)
		if err != nil {
			return nil, fmt.Errorf("profiles.application %q: %w", a.ID, err)
		}
		c.add(p)
	}
	c.seal()
	return c, nil
}

func (c *Catalog) add(p *Profile) { c.profiles[p.ID] = p }

// setPerSource replaces p's derived sets with the topology's per-source
// sets. It re-checks what validation checks, so a config built in code
// cannot move a profile out of its scope: every region must lie in the
// profile's geography (or a global one) and every destination host the
// model. The error wraps [ErrResidency].
func (c *Catalog) setPerSource(p *Profile, sets map[string][]string) error {
	if len(sets) == 0 {
		return fmt.Errorf("%w: no sources listed", ErrResidency)
	}
	inScope := func(r string) bool {
		g, ok := c.geoOf[r]
		if !ok {
			return false
		}
		if p.Scope == Global {
			return c.globalOK[g]
		}
		return g == p.Scope
	}
	per := make(map[string][]string, len(sets))
	union := map[string]bool{}
	for src, dsts := range sets {
		if !inScope(src) {
			return fmt.Errorf("%w: source %s is outside %s", ErrResidency, src, p.Scope)
		}
		if len(dsts) == 0 {
			return fmt.Errorf("%w: source %s has no destinations", ErrResidency, src)
		}
		out := slices.Clone(dsts)
		sort.Strings(out)
		out = slices.Compact(out)
		for _, d := range out {
			if !inScope(d) {
				return fmt.Errorf("%w: destination %s (from %s) is outside %s", ErrResidency, d, src, p.Scope)
			}
			if !slices.Contains(c.hosts[p.Model], d) {
				return fmt.Errorf("%w: destination %s (from %s) does not host %s", ErrResidency, d, src, p.Model)
			}
			union[d] = true
		}
		per[src] = out
	}
	p.PerSource = per
	p.Sources = slices.Sorted(maps.Keys(per))
	p.Destinations = slices.Sorted(maps.Keys(union))
	return nil
}

// seal finishes a catalog after its profiles changed: the sorted ids and
// the residency digest, which nodes publish every load interval.
func (c *Catalog) seal() {
	c.ids = slices.Sorted(maps.Keys(c.profiles))
	c.digest = c.residencyDigest()
	c.profileViews, c.modelViews = c.views()
}

func (c *Catalog) globalSources() []string {
	var out []string
	for g, rs := range c.regionsOf {
		if c.globalOK[g] {
			out = append(out, rs...)
		}
	}
	sort.Strings(out)
	return out
}

// application builds an application profile copying a system profile or a
// deployed model id.
func (c *Catalog) application(id, copyFrom, description string, tags map[string]string) (*Profile, error) {
	p := &Profile{ID: id, Type: Application, CopyFrom: copyFrom, Description: description, Tags: maps.Clone(tags)}
	if src, ok := c.profiles[copyFrom]; ok && src.Type == SystemDefined {
		p.Model, p.Scope, p.CopyOf = src.Model, src.Scope, src.ID
		p.Destinations, p.Sources, p.PerSource = src.Destinations, src.Sources, src.PerSource
		return p, nil
	}
	if regions, ok := c.hosts[copyFrom]; ok {
		// A copied model is single-region: served where it is invoked.
		p.Model = copyFrom
		p.Destinations, p.Sources = regions, regions
		return p, nil
	}
	return nil, fmt.Errorf("%w: copy source %q is neither a system profile nor a deployed model", ErrNotFound, copyFrom)
}

// WithApplication returns a new catalog that also holds an application
// profile copying copyFrom (a system profile id or ARN, a model id, or a
// foundation-model ARN). home is the region where it was created (its ARN
// names it).
func (c *Catalog) WithApplication(p Profile) (*Catalog, *Profile, error) {
	np, err := c.newApplication(p)
	if err != nil {
		return nil, nil, err
	}
	out := c.clone()
	out.add(np)
	out.seal()
	return out, np, nil
}

// newApplication builds the application profile p describes, checked
// against c's profiles, without adding it.
func (c *Catalog) newApplication(p Profile) (*Profile, error) {
	if _, exists := c.profiles[p.ID]; exists {
		return nil, fmt.Errorf("%w: %q", ErrExists, p.ID)
	}
	if _, isModel := c.hosts[p.ID]; isModel {
		return nil, fmt.Errorf("%w: %q is a model id", ErrExists, p.ID)
	}
	if err := c.CheckApplicationID(p.ID); err != nil {
		return nil, err
	}
	src := p.CopyFrom
	if strings.HasPrefix(src, "arn:") {
		a, err := ParseARN(src)
		if err != nil {
			return nil, err
		}
		if a.Type != ResourceInferenceProfile && a.Type != ResourceFoundationModel {
			return nil, fmt.Errorf("%w: copy source must be an inference-profile or foundation-model ARN", ErrInvalidARN)
		}
		src = a.ID
	}
	np, err := c.application(p.ID, src, p.Description, p.Tags)
	if err != nil {
		return nil, err
	}
	np.CopyFrom, np.CreatedAt, np.HomeRegion = p.CopyFrom, p.CreatedAt, p.HomeRegion
	return np, nil
}

// CheckApplicationID refuses an application profile id that starts with a
// system profile's prefix ("global." or a geography's, see
// [topology.ReservedProfilePrefix]): "eu.claims" copying a global profile
// would read as an EU profile while serving anywhere. The error wraps
// [ErrReservedID].
func (c *Catalog) CheckApplicationID(id string) error {
	if prefix, ok := topology.ReservedProfilePrefix(id, func(g string) bool { _, ok := c.globalOK[g]; return ok }); ok {
		return fmt.Errorf("%w: %q starts with %q, the prefix of system profiles; choose an id without it", ErrReservedID, id, prefix)
	}
	return nil
}

// WithoutApplication returns a new catalog without the application profile
// id. It reports false when there is no such application profile.
func (c *Catalog) WithoutApplication(id string) (*Catalog, bool) {
	p, ok := c.profiles[id]
	if !ok || p.Type != Application {
		return c, false
	}
	out := c.clone()
	delete(out.profiles, id)
	out.seal()
	return out, true
}

func (c *Catalog) clone() *Catalog {
	out := *c
	out.profiles = maps.Clone(c.profiles)
	return &out
}

// Get returns the profile with the given id.
func (c *Catalog) Get(id string) (*Profile, bool) {
	p, ok := c.profiles[id]
	return p, ok
}

// All returns every profile, sorted by id.
func (c *Catalog) All() []*Profile {
	out := make([]*Profile, len(c.ids))
	for i, id := range c.ids {
		out[i] = c.profiles[id]
	}
	return out
}

// CallableFrom returns the profiles that region may invoke, sorted by id.
func (c *Catalog) CallableFrom(region string) []*Profile {
	var out []*Profile
	for _, id := range c.ids {
		if p := c.profiles[id]; p.CallableFrom(region) {
			out = append(out, p)
		}
	}
	return out
}

// Partition returns the ARN partition.
func (c *Catalog) Partition() string { return c.partition }

// Account returns the account id used in ARNs.
func (c *Catalog) Account() string { return c.account }

// Geography returns the geography of a region, or "" if unknown.
func (c *Catalog) Geography(region string) string { return c.geoOf[region] }

// Hosts reports the regions where model is deployed, sorted.
func (c *Catalog) Hosts(model string) []string { return c.hosts[model] }
