package topology

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/meridian-gateway/meridian/internal/routing"
)

// RoutingConfig converts the file's routing section to the routing
// package's configuration.
func (c *Config) RoutingConfig() (routing.Config, error) {
	t := c.Routing
	var errs []error
	strategy := func(field, name string) routing.Strategy {
		st, err := routing.ParseStrategy(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
		}
		return st
	}
	rc := routing.Config{
		Strategy:         strategy("routing.strategy", t.Strategy),
		MaxAttempts:      t.MaxAttempts,
		FailoverDeadline: routing.Duration(t.FailoverDeadline.D()),
		Staleness:        routing.Duration(t.Staleness.D()),
		Queue:            routing.QueueConfig{Max: t.Queue.Max, Timeout: routing.Duration(t.Queue.Timeout.D()), MaxWait: routing.Duration(t.Queue.MaxWait.D())},
	}
	for _, id := range slices.Sorted(maps.Keys(t.Profiles)) {
		p := t.Profiles[id]
		if rc.Profiles == nil {
			rc.Profiles = map[string]routing.ProfileConfig{}
		}
		rc.Profiles[id] = routing.ProfileConfig{
			Strategy:         strategy("routing.profiles."+id+".strategy", p.Strategy),
			MaxAttempts:      p.MaxAttempts,
			FailoverDeadline: routing.Duration(p.FailoverDeadline.D()),
			Weights:          p.Weights,
			Queue:            routing.ProfileQueueConfig{MaxWait: routing.Duration(p.Queue.MaxWait.D())},
		}
	}
	return rc, errors.Join(errs...)
}

// RoutingDeployments lists every deployment with its capacity, as the
// routing tracker follows them.
func (c *Config) RoutingDeployments() []routing.Deployment {
	out := make([]routing.Deployment, 0, len(c.Deployments))
	for _, d := range c.Deployments {
		out = append(out, routing.Deployment{Key: routing.Key{Region: d.Region, Model: d.Model},
			MaxConcurrency: d.Capacity.Concurrency(), RPM: d.Capacity.RequestsPerMinute(), TPM: d.Capacity.TokensPerMinute()})
	}
	return out
}

// RoutingLocations maps every region to its location.
func (c *Config) RoutingLocations() map[string]routing.Location {
	out := make(map[string]routing.Location, len(c.Regions))
	for _, r := range c.Regions {
		out[r.ID] = routing.Location{Lat: r.Location.Lat, Lon: r.Location.Lon}
	}
	return out
}
