package profile

import (
	"fmt"
	"strings"
)

// Resolution is what a caller's model name means in a source region.
type Resolution struct {
	// Profile is the invoked profile; nil for a bare model id.
	Profile *Profile
	// Model is the logical model to run.
	Model string
	// Destinations are the regions the request may run in, sorted. For a
	// bare model id or a single-region profile it is the source region only.
	Destinations []string
	// ProfileARN is the profile's ARN in the source region, or the
	// foundation-model ARN for a bare model id.
	ProfileARN string
	// ProfileID is the profile id, or the model id for a bare model id.
	ProfileID string

	// partition and modelARNs are the foundation-model ARNs of Model in
	// Destinations, formatted when the catalog was built (see ModelARN).
	partition string
	modelARNs []string
	// viewDst is the catalog's list the ARNs were formatted for.
	viewDst []string
}

// ModelARN returns the foundation-model ARN of r.Model in r.Destinations[i]
// in partition. For a resolution from [Catalog.Resolve] in the catalog's
// partition it was formatted once, with the catalog: no allocation.
func (r *Resolution) ModelARN(partition string, i int) string {
	// The ARNs were formatted for the catalog's list of destinations: only
	// while Destinations is that very list (not replaced) do they match.
	if partition == r.partition && len(r.modelARNs) == len(r.Destinations) && len(r.viewDst) == len(r.Destinations) &&
		len(r.Destinations) > 0 && &r.Destinations[0] == &r.viewDst[0] {
		return r.modelARNs[i]
	}
	return FoundationModelARN(partition, r.Destinations[i], r.Model)
}

// Resolve interprets name (a profile id, a profile ARN, a model id or a
// foundation-model ARN) as invoked from source. Errors wrap ErrNotFound,
// ErrNotCallable or ErrInvalidARN and say what the caller can use instead.
func (c *Catalog) Resolve(source, name string) (*Resolution, error) {
	id := name
	wantType := ""
	if strings.HasPrefix(name, "arn:") {
		a, err := ParseARN(name)
		if err != nil {
			return nil, err
		}
		if a.Partition != c.partition || a.Service != "bedrock" {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		switch a.Type {
		case ResourceInferenceProfile, ResourceApplicationInferenceProfile:
			if a.Account != c.account {
				return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
			}
		case ResourceFoundationModel:
			if a.Account != "" {
				return nil, fmt.Errorf("%w: foundation-model ARNs have an empty account field", ErrInvalidARN)
			}
		default:
			return nil, fmt.Errorf("%w: %s (Meridian serves inference-profile, application-inference-profile and foundation-model ARNs)", ErrNotFound, name)
		}
		if a.Region != source {
			return nil, fmt.Errorf("%w: the ARN names region %s but this is %s; call the %s endpoint or use the ARN with region %s", ErrNotCallable, a.Region, source, a.Region, source)
		}
		id, wantType = a.ID, a.Type
	}
	if p, ok := c.profiles[id]; ok && wantType != ResourceFoundationModel {
		if wantType == ResourceInferenceProfile && p.Type != SystemDefined || wantType == ResourceApplicationInferenceProfile && p.Type != Application {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		if wantType == ResourceApplicationInferenceProfile && p.HomeRegion != "" && p.HomeRegion != source {
			// An API-created profile's ARN names its home region: an ARN
			// naming another region is not its name.
			return nil, fmt.Errorf("%w: %s (the profile's ARN names its home region %s; from %s call it by its id)", ErrNotFound, name, p.HomeRegion, source)
		}
		return c.resolveProfile(source, p)
	}
	if regions, ok := c.hosts[id]; ok && wantType != ResourceInferenceProfile && wantType != ResourceApplicationInferenceProfile {
		return c.resolveModel(source, id, regions)
	}
	return nil, fmt.Errorf("%w: %q is not an inference profile or model here; GET /v1/models lists what you may call from %s", ErrNotFound, name, source)
}

func (c *Catalog) resolveProfile(source string, p *Profile) (*Resolution, error) {
	if !p.CallableFrom(source) {
		return nil, c.notCallable(source, p)
	}
	if v := c.profileViews[viewKey{p.ID, source}]; v != nil {
		return c.resolution(v, p, p.Model, p.ID), nil
	}
	r := &Resolution{Profile: p, Model: p.Model, Destinations: p.DestinationsFrom(source), ProfileARN: p.ARN(c.partition, source, c.account), ProfileID: p.ID}
	return r, nil
}

// notCallable explains why source may not invoke p, naming the sources
// that may.
func (c *Catalog) notCallable(source string, p *Profile) error {
	from := strings.Join(p.Sources, ", ")
	switch {
	case p.Geographic() && c.geoOf[source] != p.Scope:
		return fmt.Errorf("%w: %s is a %s profile and can only be invoked from a source region in geography %s (%s); %s is in geography %s",
			ErrNotCallable, p.ID, p.Scope, p.Scope, from, source, c.geoOf[source])
	case p.Geographic():
		return fmt.Errorf("%w: %s is not offered in source region %s; it can be invoked from %s", ErrNotCallable, p.ID, source, from)
	case p.Scope == Global && !c.globalOK[c.geoOf[source]]:
		return fmt.Errorf("%w: %s is a global profile, and geography %s of %s does not take part in global routing", ErrNotCallable, p.ID, c.geoOf[source], source)
	case p.Scope == Global:
		return fmt.Errorf("%w: %s is not offered in source region %s; it can be invoked from %s", ErrNotCallable, p.ID, source, from)
	}
	return fmt.Errorf("%w: %s is served only in %s; call it from there", ErrNotCallable, p.ID, from)
}

func (c *Catalog) resolveModel(source, model string, regions []string) (*Resolution, error) {
	for _, r := range regions {
		if r == source {
			if v := c.modelViews[viewKey{model, source}]; v != nil {
				return c.resolution(v, nil, model, model), nil
			}
			return &Resolution{Model: model, Destinations: []string{source}, ProfileARN: FoundationModelARN(c.partition, source, model), ProfileID: model}, nil
		}
	}
	var alt []string
	for _, id := range c.ids {
		if p := c.profiles[id]; p.Type == SystemDefined && p.Model == model && p.CallableFrom(source) {
			alt = append(alt, id)
		}
	}
	hint := "no profile of it is callable from " + source
	if len(alt) > 0 {
		hint = "use an inference profile: " + strings.Join(alt, ", ")
	}
	return nil, fmt.Errorf("%w: model %s is not deployed in %s; a model id is served only in the region it is called in, so %s", ErrNotCallable, model, source, hint)
}

// CheckDestination is the residency re-check that every node, including the
// destination, applies before serving (invariant 1): source must be a
// source of the profile, resolved from this catalog, and destination one
// of the regions that source may reach (the per-source set, not the
// union), and a geographic profile's source and destination must lie in its
// geography. profileID may be a model id, which is served only where it was
// invoked.
func (c *Catalog) CheckDestination(profileID, source, destination string) error {
	if p, ok := c.profiles[profileID]; ok {
		if !p.CallableFrom(source) {
			return fmt.Errorf("%w: %s may not be invoked from %s", ErrResidency, profileID, source)
		}
		if !p.SingleRegion() && !p.Reaches(source, destination) {
			return fmt.Errorf("%w: %s called from %s may not be served in %s (it may be served in %s)", ErrResidency, profileID, source, destination, strings.Join(p.DestinationsFrom(source), ", "))
		}
		if p.Geographic() && (c.geoOf[source] != p.Scope || c.geoOf[destination] != p.Scope) {
			return fmt.Errorf("%w: %s is bound to geography %s", ErrResidency, profileID, p.Scope)
		}
		if p.SingleRegion() && source != destination {
			return fmt.Errorf("%w: %s is single-region", ErrResidency, profileID)
		}
		return nil
	}
	if _, ok := c.hosts[profileID]; ok {
		if source != destination {
			return fmt.Errorf("%w: model id %s is served only in its source region %s", ErrResidency, profileID, source)
		}
		for _, r := range c.hosts[profileID] {
			if r == destination {
				return nil
			}
		}
		return fmt.Errorf("%w: %s is not deployed in %s", ErrResidency, profileID, destination)
	}
	return fmt.Errorf("%w: %s", ErrNotFound, profileID)
}
