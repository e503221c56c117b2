package topology

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Diff lists the ids of one kind of entry that a new topology adds,
// removes or changes, each sorted.
type Diff struct {
	Added, Removed, Changed []string
}

// Empty reports whether nothing changed.
func (d Diff) Empty() bool { return len(d.Added)+len(d.Removed)+len(d.Changed) == 0 }

// String is a concise summary: "+a +b -c ~d", or "" when empty.
func (d Diff) String() string {
	var parts []string
	for _, s := range []struct {
		sign string
		ids  []string
	}{{"+", d.Added}, {"-", d.Removed}, {"~", d.Changed}} {
		for _, id := range s.ids {
			parts = append(parts, s.sign+id)
		}
	}
	return strings.Join(parts, " ")
}

// Change is what a reload changes, by the kind of entry. Only settings that
// can change on a running node appear here; see [Compare].
type Change struct {
	Models      Diff
	Deployments Diff // by "region/model"
	Profiles    Diff // application profiles, by id
	// SystemProfiles are the per-source destination sets of
	// profiles.system, by profile id.
	SystemProfiles Diff
	Principals     Diff
	Policies       Diff
	Guardrails     Diff // by name
	// Authorization reports whether the authorization mode changed.
	Authorization bool
	// Routing reports whether the routing section changed.
	Routing bool
	// Server reports whether server.drain_timeout or drain_grace changed.
	Server bool
}

// Empty reports whether the new topology changes nothing.
func (c Change) Empty() bool {
	return c.Models.Empty() && c.Deployments.Empty() && c.Profiles.Empty() && c.SystemProfiles.Empty() && c.Principals.Empty() &&
		c.Policies.Empty() && c.Guardrails.Empty() && !c.Authorization && !c.Routing && !c.Server
}

// LogAttrs returns the non-empty parts of the change as slog-style
// key-value pairs.
func (c Change) LogAttrs() []any {
	var out []any
	for _, d := range []struct {
		key string
		d   Diff
	}{{"models", c.Models}, {"deployments", c.Deployments}, {"profiles", c.Profiles}, {"system_profiles", c.SystemProfiles},
		{"principals", c.Principals}, {"policies", c.Policies}, {"guardrails", c.Guardrails}} {
		if !d.d.Empty() {
			out = append(out, d.key, d.d.String())
		}
	}
	if c.Authorization {
		out = append(out, "authorization", "changed")
	}
	if c.Routing {
		out = append(out, "routing", "changed")
	}
	if c.Server {
		out = append(out, "server", "changed")
	}
	return out
}

// Compare decides whether a running node of region may switch from old to
// next, both valid. It returns what changes, or a *ValidationError naming
// (in next's file) every field that only a restart can change: the ARN
// partition and account, geographies, regions (this region's id, every
// listener and link address, locations, client TLS), the link, the quota
// store, the audit trail, and server settings other than drain_timeout and
// drain_grace. Everything else (models, deployments, application profiles,
// principals, policies, guardrails, routing) changes live.
func Compare(old, next *Config, region string) (Change, error) {
	p := &problems{c: next}
	if next.lines == nil {
		next.lines = map[string]int{}
	}
	restart := func(field string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			p.add(field, "restart the node to apply it, or restore the running value", "changed; restart required (it cannot change on a running node)")
		}
	}
	restart("partition", old.PartitionOrDefault(), next.PartitionOrDefault())
	restart("account", old.Account, next.Account)
	restart("geographies", old.Geographies, next.Geographies)
	if _, ok := next.Region(region); !ok {
		p.add("regions", "keep region "+region+" in the file, or stop this node", "this node's region %s is no longer defined; restart required", region)
	}
	oldRegions := map[string]Region{}
	for _, r := range old.Regions {
		oldRegions[r.ID] = r
	}
	seen := map[string]bool{}
	for i, r := range next.Regions {
		seen[r.ID] = true
		o, ok := oldRegions[r.ID]
		if !ok {
			p.add(fmt.Sprintf("regions[%d]", i), "restart every node with the new region", "region %s is new; restart required (the link's peers are fixed at start)", r.ID)
			continue
		}
		restart(fmt.Sprintf("regions[%d]", i), o, r)
	}
	for _, r := range old.Regions {
		if !seen[r.ID] && r.ID != region {
			p.add("regions", "restart every node without the region", "region %s was removed; restart required", r.ID)
		}
	}
	restart("link", old.Link, next.Link)
	restart("quota", old.Quota, next.Quota)
	restart("audit", old.Audit, next.Audit)
	restart("telemetry", old.Telemetry, next.Telemetry)
	oldSrv, nextSrv := old.Server, next.Server
	oldSrv.DrainTimeout, oldSrv.DrainGrace, nextSrv.DrainTimeout, nextSrv.DrainGrace = 0, nil, 0, nil
	restart("server", oldSrv, nextSrv)
	if len(p.out) > 0 {
		return Change{}, &ValidationError{Problems: p.out}
	}

	ch := Change{
		Models:         diffBy(old.Models, next.Models, func(m Model) string { return m.ID }),
		Deployments:    diffBy(old.Deployments, next.Deployments, Deployment.Key),
		Profiles:       diffBy(old.Profiles.Application, next.Profiles.Application, func(a ApplicationProfile) string { return a.ID }),
		SystemProfiles: diffMaps(old.Profiles.System, next.Profiles.System),
		Authorization:  old.AuthorizationOrDefault() != next.AuthorizationOrDefault(),
		Principals:     diffBy(old.Principals, next.Principals, func(p Principal) string { return p.ID }),
		Policies:       diffMaps(old.Policies, next.Policies),
		Guardrails:     diffBy(old.Guardrails, next.Guardrails, func(g Guardrail) string { return g.Name }),
		Routing:        !reflect.DeepEqual(old.Routing, next.Routing),
		Server:         !reflect.DeepEqual(old.Server, next.Server),
	}
	return ch, nil
}

func diffBy[T any](old, next []T, key func(T) string) Diff {
	om, nm := map[string]T{}, map[string]T{}
	for _, v := range old {
		om[key(v)] = v
	}
	for _, v := range next {
		nm[key(v)] = v
	}
	return diffMaps(om, nm)
}

func diffMaps[T any](old, next map[string]T) Diff {
	var d Diff
	for _, k := range slices.Sorted(maps.Keys(next)) {
		o, ok := old[k]
		switch {
		case !ok:
			d.Added = append(d.Added, k)
		case !sameValue(o, next[k]):
			d.Changed = append(d.Changed, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(old)) {
		if _, ok := next[k]; !ok {
			d.Removed = append(d.Removed, k)
		}
	}
	return d
}

// sameValue compares entries ignoring the lines they were read from.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case PolicyDocument:
		return jsonEqual(x.JSON, b.(PolicyDocument).JSON)
	case Guardrail:
		y := b.(Guardrail)
		if x.Name != y.Name || (x.Policy == nil) != (y.Policy == nil) {
			return false
		}
		return x.Policy == nil || jsonEqual(x.Policy.JSON, y.Policy.JSON)
	}
	return reflect.DeepEqual(a, b)
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}
