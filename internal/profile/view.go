package profile

import "slices"

// sourceView is what resolving one profile or model id from one source
// region yields every time: its destinations and ARNs, formatted once per
// catalog (in seal) so that resolving and authorizing a request format
// none. Its slices are shared by every resolution: read-only.
type sourceView struct {
	destinations []string
	profileARN   string
	// modelARNs[i] is the model's foundation-model ARN in destinations[i].
	modelARNs []string
}

type viewKey struct{ id, source string }

// views computes the source views of every profile (from each of its
// sources) and every deployed model id (from each region hosting it).
func (c *Catalog) views() (profiles, models map[viewKey]*sourceView) {
	profiles, models = map[viewKey]*sourceView{}, map[viewKey]*sourceView{}
	// The ARNs of a model in a list of destinations are formatted once per
	// list: an application profile shares its destination lists with the
	// profile it copies, and so shares their ARNs (many application
	// profiles cost a few strings each, not sources × destinations).
	type listKey struct {
		model string
		first *string
		n     int
	}
	arnsOf := map[listKey][]string{}
	modelARNs := func(model string, destinations []string) []string {
		if len(destinations) == 0 {
			return nil
		}
		k := listKey{model, &destinations[0], len(destinations)}
		if arns, ok := arnsOf[k]; ok {
			return arns
		}
		arns := make([]string, len(destinations))
		for i, d := range destinations {
			arns[i] = FoundationModelARN(c.partition, d, model)
		}
		arnsOf[k] = arns
		return arns
	}
	for _, p := range c.profiles {
		for _, s := range p.Sources {
			// Clipped: an append by a holder of a resolution cannot write
			// into the catalog's list.
			dst := slices.Clip(p.DestinationsFrom(s))
			profiles[viewKey{p.ID, s}] = &sourceView{destinations: dst, profileARN: p.ARN(c.partition, s, c.account), modelARNs: modelARNs(p.Model, dst)}
		}
	}
	for model, regions := range c.hosts {
		for _, r := range regions {
			arns := modelARNs(model, []string{r})
			models[viewKey{model, r}] = &sourceView{destinations: []string{r}, profileARN: arns[0], modelARNs: arns}
		}
	}
	return profiles, models
}

// resolution returns the resolution of v, a view of this catalog.
func (c *Catalog) resolution(v *sourceView, p *Profile, model, id string) *Resolution {
	return &Resolution{Profile: p, Model: model, Destinations: v.destinations, ProfileARN: v.profileARN, ProfileID: id,
		partition: c.partition, modelARNs: v.modelARNs, viewDst: v.destinations}
}
