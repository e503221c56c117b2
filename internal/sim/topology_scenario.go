package sim

import (
	"fmt"
	"maps"
	"slices"

	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// applyTopology fills the scenario from a Meridian topology file, so that a
// real deployment's topology can be simulated as written:
//
//   - regions (id, geography, location) come from the topology; a scenario
//     region with the same id adds its utc_offset;
//   - the profile's model and destination set come from the profile catalog
//     derived from the topology (system and application profiles alike);
//   - every deployment of that model is simulated with the topology's
//     capacity and the latency model of the scenario deployment in the same
//     region, else of deployment_defaults;
//   - the routing config is the topology's `routing:` unless the scenario
//     sets its own.
func (s *Scenario) applyTopology(cfg *topology.Config) error {
	cat, err := profile.New(cfg)
	if err != nil {
		return fmt.Errorf("topology_file: derive profiles: %w", err)
	}
	p, ok := cat.Get(s.Profile.ID)
	if !ok {
		var ids []string
		for _, q := range cat.All() {
			ids = append(ids, q.ID)
		}
		return fmt.Errorf("profile.id: %q is not a profile of the topology (profiles: %v)", s.Profile.ID, ids)
	}
	if s.Model != "" && s.Model != p.Model {
		return fmt.Errorf("model: %q, but profile %s serves %q (remove model)", s.Model, p.ID, p.Model)
	}
	s.Model = p.Model
	if len(s.Profile.Destinations) == 0 {
		s.Profile.Destinations = slices.Clone(p.Destinations)
		if p.PerSource != nil && s.Profile.Sources == nil {
			s.Profile.Sources = maps.Clone(p.PerSource)
		}
	}

	inline := map[string]Region{}
	for _, r := range s.Regions {
		inline[r.ID] = r
	}
	s.Regions = s.Regions[:0:0]
	for _, r := range cfg.Regions {
		s.Regions = append(s.Regions, Region{
			ID: r.ID, Geography: r.Geography,
			Location:  routing.Location{Lat: r.Location.Lat, Lon: r.Location.Lon},
			UTCOffset: inline[r.ID].UTCOffset,
		})
		delete(inline, r.ID)
	}
	if len(inline) > 0 {
		return fmt.Errorf("regions: %v are not regions of the topology", slices.Sorted(maps.Keys(inline)))
	}

	models := map[string]Deployment{}
	for _, d := range s.Deployments {
		models[d.Region] = d
	}
	var defaults Deployment
	if s.DeploymentDefaults != nil {
		defaults = *s.DeploymentDefaults
	}
	s.Deployments = s.Deployments[:0:0]
	for _, d := range cfg.Deployments {
		if d.Model != p.Model {
			continue
		}
		sd, ok := models[d.Region]
		if !ok {
			sd = defaults
		}
		delete(models, d.Region)
		sd.Region = d.Region
		sd.Capabilities = d.EffectiveCapabilities()
		sd.Capacity = Capacity{
			MaxConcurrency: d.Capacity.Concurrency(),
			RPM:            d.Capacity.RequestsPerMinute(),
			TPM:            d.Capacity.TokensPerMinute(),
		}
		s.Deployments = append(s.Deployments, sd)
	}
	if len(models) > 0 {
		return fmt.Errorf("deployments: %v have no deployment of %s in the topology", slices.Sorted(maps.Keys(models)), p.Model)
	}

	if isZeroRouting(&s.Routing) {
		rc, err := cfg.RoutingConfig()
		if err != nil {
			return fmt.Errorf("topology_file: routing: %w", err)
		}
		s.Routing = rc
	}
	return nil
}

func isZeroRouting(c *routing.Config) bool {
	return c.Strategy == routing.StrategyUnset && c.MaxAttempts == 0 && c.FailoverDeadline == 0 &&
		c.Staleness == 0 && c.Queue == (routing.QueueConfig{}) && len(c.Profiles) == 0
}
