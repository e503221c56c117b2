package sim

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// Scenario is a simulation input, written in YAML (see scenarios/*.yaml).
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Duration is how long arrivals run; in-flight requests then finish.
	Duration routing.Duration `yaml:"duration"`
	// Seed is the default seed; the --seed flag overrides it. If zero, 1.
	Seed uint64 `yaml:"seed"`
	// StartHour is the UTC hour of day at time 0, for diurnal curves.
	StartHour float64 `yaml:"start_hour"`
	// TopologyFile names a Meridian topology file (relative to the scenario
	// file) to take regions, deployment capacities, the profile's
	// destination set and the routing config from; see [Scenario.applyTopology].
	TopologyFile string `yaml:"topology_file"`
	// DeploymentDefaults gives the latency model of topology deployments
	// that the scenario does not list in Deployments.
	DeploymentDefaults *Deployment `yaml:"deployment_defaults"`
	// Model is the model id the profile serves. If empty, "model" (or the
	// profile's model when TopologyFile is set).
	Model   string  `yaml:"model"`
	Profile Profile `yaml:"profile"`
	// Routing is the `routing:` configuration Meridian's strategies use.
	Routing routing.Config `yaml:"routing"`
	// ExchangeInterval is how often nodes send load snapshots. If zero, 1s.
	ExchangeInterval routing.Duration `yaml:"exchange_interval"`
	// AttemptTimeout bounds one attempt waiting for its first token. If
	// zero, 5s.
	AttemptTimeout routing.Duration `yaml:"attempt_timeout"`
	Regions        []Region         `yaml:"regions"`
	// RTT overrides the RTT estimated from locations for pairs of regions.
	RTT         []RTT        `yaml:"rtt"`
	Deployments []Deployment `yaml:"deployments"`
	Traffic     []Traffic    `yaml:"traffic"`
	Events      []Event      `yaml:"events"`
}

// Profile is the inference profile every request invokes.
type Profile struct {
	ID string `yaml:"id"`
	// Destinations is the profile's destination set.
	Destinations []string `yaml:"destinations"`
	// Sources optionally narrows the set per source region, as a
	// topology's profiles.system.<id>.sources does: a request from a
	// listed source may use only that source's destinations (each of them
	// also in Destinations). A source not listed uses Destinations.
	Sources map[string][]string `yaml:"sources"`
}

// Region is a simulated region with one Meridian node.
type Region struct {
	ID        string           `yaml:"id"`
	Geography string           `yaml:"geography"`
	Location  routing.Location `yaml:"location"`
	// UTCOffset is the region's offset from UTC in hours, for diurnal load.
	UTCOffset float64 `yaml:"utc_offset"`
}

// RTT fixes the round-trip time between two regions.
type RTT struct {
	Between []string         `yaml:"between"`
	RTT     routing.Duration `yaml:"rtt"`
}

// Deployment is the model served in one region, with the ground-truth
// capacity and latency of the simulated backend.
type Deployment struct {
	Region   string   `yaml:"region"`
	Capacity Capacity `yaml:"capacity"`
	// TTFT models time to first token.
	TTFT TTFTModel `yaml:"ttft"`
	// TokensPerSecond is the output speed per request. If zero, 50.
	TokensPerSecond float64 `yaml:"tokens_per_second"`
	// ErrorRate is the probability of a 5xx per attempt.
	ErrorRate float64 `yaml:"error_rate"`
	// Capabilities lists what the deployment's model can do (as
	// deployments[].capabilities of a topology); nil means everything.
	Capabilities []string `yaml:"capabilities"`
}

// Capacity is a deployment's limits; zero means none.
type Capacity struct {
	MaxConcurrency int `yaml:"max_concurrency"`
	RPM            int `yaml:"rpm"`
	TPM            int `yaml:"tpm"`
}

// TTFTModel: ttft = (base + prompt·per_prompt_token) · (1 + load·in_flight/
// max_concurrency) · lognormal(jitter).
type TTFTModel struct {
	Base           routing.Duration `yaml:"base"`
	PerPromptToken routing.Duration `yaml:"per_prompt_token"`
	Load           float64          `yaml:"load"`
	Jitter         float64          `yaml:"jitter"`
}

// Traffic is the arrival process of one source region.
type Traffic struct {
	Source string `yaml:"source"`
	// Rate is the mean arrival rate in requests per second.
	Rate float64 `yaml:"rate"`
	// Diurnal modulates Rate over the day.
	Diurnal *Diurnal `yaml:"diurnal"`
	// Bursts add load for a while.
	Bursts       []Burst `yaml:"bursts"`
	PromptTokens Dist    `yaml:"prompt_tokens"`
	OutputTokens Dist    `yaml:"output_tokens"`
	// Uses lists the capabilities every request of this traffic uses
	// (tools, vision...): routing skips deployments that lack one.
	Uses []string `yaml:"uses"`
	// Tier is the service tier of the stream's requests: "priority",
	// "default" or "flex" (docs/quotas.md, "Service tiers"). If empty,
	// default. Meridian's strategies queue priority requests ahead of
	// default ones and never queue flex ones; baselines ignore tiers.
	Tier string `yaml:"tier"`
}

// Diurnal: rate · (1 + amplitude · cos(2π (local hour − peak_hour) / 24)),
// where a day lasts Period of simulated time (24h if zero), so a day can be
// compressed into minutes.
type Diurnal struct {
	Amplitude float64          `yaml:"amplitude"`
	PeakHour  float64          `yaml:"peak_hour"`
	Period    routing.Duration `yaml:"period"`
}

// Burst raises the rate from At for Duration: by Rate requests per second,
// or by Factor times the base rate.
type Burst struct {
	At       routing.Duration `yaml:"at"`
	Duration routing.Duration `yaml:"duration"`
	Rate     float64          `yaml:"rate"`
	Factor   float64          `yaml:"factor"`
}

// Dist is a token-count distribution: Fixed if set, else uniform on
// [Min, Max] if Max is set, else log-normal with Mean and Sigma.
type Dist struct {
	Fixed int     `yaml:"fixed"`
	Min   int     `yaml:"min"`
	Max   int     `yaml:"max"`
	Mean  float64 `yaml:"mean"`
	Sigma float64 `yaml:"sigma"`
}

// Event changes a deployment or a node at a point in time.
type Event struct {
	At     routing.Duration `yaml:"at"`
	Region string           `yaml:"region"`
	// Kind is "outage", "throttle" or "recover".
	Kind string `yaml:"kind"`
	// Mode of an outage: "connect" (the backend refuses connections, the
	// default), "timeout" (it accepts and never answers) or "node" (the
	// region's Meridian node is down: no snapshots, no forwarding, and its
	// own clients fail).
	Mode string `yaml:"mode"`
	// Factor scales the deployment's capacity during a throttle (0.3: 30%
	// left), as a provider lowering quota does.
	Factor float64 `yaml:"factor"`
}

// ParseScenario decodes a scenario from r and validates it; name (a file
// name) prefixes error messages, and a relative topology_file is read from
// name's directory.
func ParseScenario(r io.Reader, name string) (*Scenario, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if s.TopologyFile != "" {
		path := s.TopologyFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(name), path)
		}
		cfg, err := topology.Load(path)
		if err != nil {
			return nil, fmt.Errorf("%s: topology_file: %w", name, err)
		}
		if err := s.applyTopology(cfg); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &s, nil
}

// Validate reports every problem of the scenario at once.
func (s *Scenario) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if s.Duration <= 0 {
		bad("duration", "must be positive, e.g. 10m")
	}
	if s.ExchangeInterval != 0 && s.ExchangeInterval.D() < 10*time.Millisecond {
		bad("exchange_interval", "%s is below 10ms (Meridian sends snapshots about once a second)", s.ExchangeInterval)
	}
	if s.AttemptTimeout < 0 {
		bad("attempt_timeout", "must not be negative")
	}
	regions := map[string]bool{}
	for i, r := range s.Regions {
		if r.ID == "" {
			bad(fmt.Sprintf("regions[%d].id", i), "is empty")
		}
		if regions[r.ID] {
			bad(fmt.Sprintf("regions[%d].id", i), "%q is defined twice", r.ID)
		}
		regions[r.ID] = true
	}
	if len(s.Regions) == 0 {
		bad("regions", "at least one region is needed")
	}
	known := func(field, id string) {
		if !regions[id] {
			bad(field, "%q is not a defined region", id)
		}
	}
	if s.Profile.ID == "" {
		bad("profile.id", "is empty")
	}
	if len(s.Profile.Destinations) == 0 {
		bad("profile.destinations", "at least one destination region is needed")
	}
	for i, d := range s.Profile.Destinations {
		known(fmt.Sprintf("profile.destinations[%d]", i), d)
	}
	for _, src := range slices.Sorted(maps.Keys(s.Profile.Sources)) {
		known("profile.sources."+src, src)
		for i, d := range s.Profile.Sources[src] {
			f := fmt.Sprintf("profile.sources.%s[%d]", src, i)
			if !slices.Contains(s.Profile.Destinations, d) {
				bad(f, "%q is not in profile.destinations", d)
			}
		}
	}
	if err := s.Routing.Validate(); err != nil {
		errs = append(errs, err)
	}
	for i, r := range s.RTT {
		if len(r.Between) != 2 {
			bad(fmt.Sprintf("rtt[%d].between", i), "needs exactly two regions")
			continue
		}
		if r.RTT < 0 {
			bad(fmt.Sprintf("rtt[%d].rtt", i), "must not be negative")
		}
		known(fmt.Sprintf("rtt[%d].between[0]", i), r.Between[0])
		known(fmt.Sprintf("rtt[%d].between[1]", i), r.Between[1])
	}
	hosted := map[string]bool{}
	for i, d := range s.Deployments {
		f := fmt.Sprintf("deployments[%d]", i)
		known(f+".region", d.Region)
		if hosted[d.Region] {
			bad(f+".region", "%q has two deployments of the model", d.Region)
		}
		hosted[d.Region] = true
		if d.Capacity.MaxConcurrency < 0 || d.Capacity.RPM < 0 || d.Capacity.TPM < 0 {
			bad(f+".capacity", "limits must not be negative")
		}
		if d.ErrorRate < 0 || d.ErrorRate > 1 {
			bad(f+".error_rate", "%v is not in [0,1]", d.ErrorRate)
		}
	}
	for i, d := range s.Profile.Destinations {
		if regions[d] && !hosted[d] {
			bad(fmt.Sprintf("profile.destinations[%d]", i), "%q has no deployment", d)
		}
	}
	if len(s.Traffic) == 0 {
		bad("traffic", "at least one source region is needed")
	}
	for i, t := range s.Traffic {
		f := fmt.Sprintf("traffic[%d]", i)
		known(f+".source", t.Source)
		if t.Rate < 0 {
			bad(f+".rate", "must not be negative")
		}
		for j, b := range t.Bursts {
			if b.At < 0 || b.Duration < 0 || b.Rate < 0 || b.Factor < 0 {
				bad(fmt.Sprintf("%s.bursts[%d]", f, j), "at, duration, rate and factor must not be negative")
			}
		}
		if _, ok := inference.ParseServiceTier(t.Tier); !ok {
			bad(f+".tier", "%q is not a service tier (use priority, default or flex)", t.Tier)
		}
		if t.Diurnal != nil && t.Diurnal.Period < 0 {
			bad(f+".diurnal.period", "must not be negative")
		}
		if t.Diurnal != nil && (t.Diurnal.Amplitude < 0 || t.Diurnal.Amplitude > 1) {
			bad(f+".diurnal.amplitude", "%v is not in [0,1]", t.Diurnal.Amplitude)
		}
		for _, d := range []struct {
			name string
			dist Dist
		}{{"prompt_tokens", t.PromptTokens}, {"output_tokens", t.OutputTokens}} {
			if d.dist.Fixed <= 0 && d.dist.Max <= 0 && d.dist.Mean <= 0 {
				bad(f+"."+d.name, "set fixed, min/max, or mean (and sigma)")
			}
			if d.dist.Sigma < 0 || d.dist.Min < 0 || (d.dist.Max > 0 && d.dist.Max < d.dist.Min) {
				bad(f+"."+d.name, "needs sigma >= 0 and 0 <= min <= max")
			}
		}
	}
	for i, e := range s.Events {
		f := fmt.Sprintf("events[%d]", i)
		if e.At < 0 {
			bad(f+".at", "must not be negative")
		}
		known(f+".region", e.Region)
		switch e.Kind {
		case "outage":
			if !slices.Contains([]string{"", "connect", "timeout", "node"}, e.Mode) {
				bad(f+".mode", "%q is not connect, timeout or node", e.Mode)
			}
		case "throttle":
			if e.Factor < 0 || e.Factor > 1 {
				bad(f+".factor", "%v is not in [0,1]", e.Factor)
			}
		case "recover":
		default:
			bad(f+".kind", "%q is not outage, throttle or recover", e.Kind)
		}
	}
	return errors.Join(errs...)
}

func (s *Scenario) exchangeInterval() time.Duration {
	return firstPositive(s.ExchangeInterval.D(), time.Second)
}

func (s *Scenario) attemptTimeout() time.Duration {
	return firstPositive(s.AttemptTimeout.D(), 5*time.Second)
}

func firstPositive(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
