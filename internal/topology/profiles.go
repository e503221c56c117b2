package topology

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// validateSystemProfiles checks profiles.system: each entry names a system
// profile of this topology, and every source and destination it lists lies
// in that profile's geography (for a global profile: in a geography that
// takes part in global routing); every destination hosts the model.
// Residency is judged on these sets, so a set that leaves the geography is
// refused here rather than trusted at run time.
func (c *Config) validateSystemProfiles(p *problems) {
	geoOf := map[string]string{}
	for _, r := range c.Regions {
		geoOf[r.ID] = r.Geography
	}
	hosts := map[string]map[string]bool{}
	for _, d := range c.Deployments {
		if hosts[d.Model] == nil {
			hosts[d.Model] = map[string]bool{}
		}
		hosts[d.Model][d.Region] = true
	}
	derived := c.profileSources()
	for _, id := range slices.Sorted(maps.Keys(c.Profiles.System)) {
		sp := c.Profiles.System[id]
		f := "profiles.system." + id
		scope, model, ok := strings.Cut(id, ".")
		isGeo := ok && hasKey(c.Geographies, scope)
		if !ok || (!isGeo && scope != globalPrefix) || !derived[id] {
			p.add(f, "use the id of a derived system profile such as "+exampleSource(derived)+" (`meridian profiles list` shows them)", "%q is not a system profile of this topology", id)
			continue
		}
		inScope := func(region string) bool {
			g, ok := geoOf[region]
			if !ok {
				return false
			}
			if isGeo {
				return g == scope
			}
			geo, ok := c.Geographies[g]
			return ok && geo.AllowsGlobal()
		}
		scopeText := "geography " + scope
		if !isGeo {
			scopeText = "a geography that takes part in global routing"
		}
		if len(sp.Sources) == 0 {
			p.add(f+".sources", "list at least one source region and its destinations, or remove the entry to keep the derived sets", "is empty")
			continue
		}
		for _, src := range slices.Sorted(maps.Keys(sp.Sources)) {
			sf := f + ".sources." + src
			switch {
			case !hasKey(geoOf, src):
				p.add(sf, "use one of the region ids ("+strings.Join(slices.Sorted(maps.Keys(geoOf)), ", ")+")", "source %q is not a defined region", src)
				continue
			case !inScope(src):
				p.add(sf, "list only sources in "+scopeText+"; a caller elsewhere would send data out of it", "source %s is in geography %s, outside %s", src, geoOf[src], scopeText)
				continue
			}
			dsts := sp.Sources[src]
			if len(dsts) == 0 {
				p.add(sf, "list the regions "+src+" may be served in, or remove the source", "no destinations")
			}
			seen := map[string]bool{}
			for i, d := range dsts {
				df := fmt.Sprintf("%s[%d]", sf, i)
				switch {
				case seen[d]:
					p.add(df, "list each destination once", "%s is listed twice", d)
				case !hasKey(geoOf, d):
					p.add(df, "use one of the region ids ("+strings.Join(slices.Sorted(maps.Keys(geoOf)), ", ")+")", "destination %q is not a defined region", d)
				case !inScope(d):
					p.add(df, "list only destinations in "+scopeText+": this set would move "+id+" out of it", "destination %s is in geography %s, outside %s", d, geoOf[d], scopeText)
				case !hosts[model][d]:
					p.add(df, "add a deployment of "+model+" in "+d+", or remove it from the set", "destination %s does not host model %s", d, model)
				}
				seen[d] = true
			}
		}
	}
}

// ValidAuthorization reports whether s is an authorization mode (or empty).
func ValidAuthorization(s string) bool {
	return s == "" || s == AuthorizationFilter || s == AuthorizationAllDestinations
}
