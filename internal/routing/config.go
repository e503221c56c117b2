package routing

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// Defaults used when a [Config] field is zero.
const (
	DefaultMaxAttempts      = 3
	DefaultFailoverDeadline = 10 * time.Second
	DefaultStaleness        = 3 * time.Second
	DefaultQueueMax         = 64
	DefaultQueueTimeout     = 2 * time.Second
	// DefaultQueueMaxWait is the longest predicted wait for which a request
	// is queued rather than answered 429 at once.
	DefaultQueueMaxWait = 300 * time.Millisecond
	// DefaultLocalReserve is the headroom the source region keeps before
	// locality-first looks elsewhere.
	DefaultLocalReserve = 0.1
)

// Config is the top-level `routing:` key of the topology file. Its zero value
// is valid and means every default.
type Config struct {
	// Strategy applies to profiles without their own. If unset,
	// [LocalityFirst].
	Strategy Strategy `yaml:"strategy,omitempty" json:"strategy,omitempty"`
	// MaxAttempts bounds the destinations tried per request, the first
	// included. If zero, 3.
	MaxAttempts int `yaml:"max_attempts,omitempty" json:"max_attempts,omitempty"`
	// FailoverDeadline bounds the time from the first attempt after which no
	// further destination is tried. If zero, 10s.
	FailoverDeadline Duration `yaml:"failover_deadline,omitempty" json:"failover_deadline,omitempty"`
	// Staleness is the age after which a deployment's state is unknown and
	// ranked below fresh ones. If zero, 3s.
	Staleness Duration `yaml:"staleness,omitempty" json:"staleness,omitempty"`
	// Queue bounds waiting when every destination is saturated.
	Queue QueueConfig `yaml:"queue,omitempty" json:"queue,omitzero"`
	// Profiles overrides settings per inference profile id.
	Profiles map[string]ProfileConfig `yaml:"profiles,omitempty" json:"profiles,omitempty"`
}

// QueueConfig is `routing.queue`.
type QueueConfig struct {
	// Max is how many requests may wait at once. If zero, 64; negative
	// disables queueing.
	Max int `yaml:"max,omitempty" json:"max,omitempty"`
	// Timeout is the longest a request waits, whatever its budget. If
	// zero, 2s.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// MaxWait is the wait budget: a request is queued only when its
	// predicted wait ([PredictWait]) fits it, else answered 429 at once
	// with that wait as Retry-After; a queued request whose wait has become
	// hopeless is dropped early. A caller may lower it per request. If
	// zero, 300ms; it never exceeds Timeout.
	MaxWait Duration `yaml:"max_wait,omitempty" json:"max_wait,omitempty"`
}

// ProfileQueueConfig is `routing.profiles.<id>.queue`.
type ProfileQueueConfig struct {
	// MaxWait overrides [QueueConfig.MaxWait] for the profile.
	MaxWait Duration `yaml:"max_wait,omitempty" json:"max_wait,omitempty"`
}

// ProfileConfig is `routing.profiles.<profile id>`. Zero fields inherit the
// top-level value.
type ProfileConfig struct {
	Strategy         Strategy `yaml:"strategy,omitempty" json:"strategy,omitempty"`
	MaxAttempts      int      `yaml:"max_attempts,omitempty" json:"max_attempts,omitempty"`
	FailoverDeadline Duration `yaml:"failover_deadline,omitempty" json:"failover_deadline,omitempty"`
	// Weights are per-region weights for the weighted strategy. A region
	// missing from a non-empty map has weight 0 and is never chosen; an
	// empty map weighs every region equally.
	Weights map[string]float64 `yaml:"weights,omitempty" json:"weights,omitempty"`
	// Queue overrides the admission queue's wait budget for the profile.
	Queue ProfileQueueConfig `yaml:"queue,omitempty" json:"queue,omitzero"`
}

// Default returns the configuration with every default spelled out.
func Default() Config {
	return Config{
		Strategy:         LocalityFirst,
		MaxAttempts:      DefaultMaxAttempts,
		FailoverDeadline: Duration(DefaultFailoverDeadline),
		Staleness:        Duration(DefaultStaleness),
		Queue:            QueueConfig{Max: DefaultQueueMax, Timeout: Duration(DefaultQueueTimeout), MaxWait: Duration(DefaultQueueMaxWait)},
	}
}

// Validate reports every problem at once, each naming its field path under
// `routing` and how to fix it. Cross-references (do the profile ids and
// weight regions exist?) are checked by [Config.ValidateRefs].
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("routing.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Strategy > Weighted {
		bad("strategy", "unknown strategy %d", c.Strategy)
	}
	if c.MaxAttempts < 0 {
		bad("max_attempts", "%d is negative (use at least 1, or 0 for the default %d)", c.MaxAttempts, DefaultMaxAttempts)
	}
	if c.FailoverDeadline < 0 {
		bad("failover_deadline", "%s is negative", c.FailoverDeadline)
	}
	if c.Staleness < 0 {
		bad("staleness", "%s is negative", c.Staleness)
	}
	if c.Queue.Timeout < 0 {
		bad("queue.timeout", "%s is negative", c.Queue.Timeout)
	}
	if c.Queue.MaxWait < 0 {
		bad("queue.max_wait", "%s is negative (use 0 for the default %s)", c.Queue.MaxWait, DefaultQueueMaxWait)
	}
	// A negative timeout is reported above; comparing with it would only
	// add a second, confusing problem.
	if _, timeout := c.QueueLimits(); timeout >= 0 && c.Queue.MaxWait.D() > timeout {
		bad("queue.max_wait", "%s is longer than queue.timeout (%s), which bounds every wait (lower max_wait or raise timeout)", c.Queue.MaxWait, timeout)
	}
	for _, id := range slices.Sorted(maps.Keys(c.Profiles)) {
		p := c.Profiles[id]
		field := "profiles." + id
		if p.MaxAttempts < 0 {
			bad(field+".max_attempts", "%d is negative", p.MaxAttempts)
		}
		if p.FailoverDeadline < 0 {
			bad(field+".failover_deadline", "%s is negative", p.FailoverDeadline)
		}
		if p.Queue.MaxWait < 0 {
			bad(field+".queue.max_wait", "%s is negative (use 0 to inherit routing.queue.max_wait)", p.Queue.MaxWait)
		}
		if _, timeout := c.QueueLimits(); timeout >= 0 && p.Queue.MaxWait.D() > timeout {
			bad(field+".queue.max_wait", "%s is longer than routing.queue.timeout (%s), which bounds every wait (lower max_wait or raise timeout)", p.Queue.MaxWait, timeout)
		}
		total := 0.0
		for _, r := range slices.Sorted(maps.Keys(p.Weights)) {
			w := p.Weights[r]
			if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
				bad(field+".weights."+r, "%v is not a finite non-negative number", w)
				continue
			}
			total += w
		}
		if len(p.Weights) > 0 && total == 0 {
			bad(field+".weights", "every weight is 0, so no region could be chosen (give at least one region a positive weight)")
		}
		if len(p.Weights) > 0 && p.Strategy != Weighted && p.Strategy != StrategyUnset {
			bad(field+".weights", "weights are only used by the weighted strategy, but strategy is %q (set strategy: weighted or remove weights)", p.Strategy)
		}
	}
	return errors.Join(errs...)
}

// ValidateRefs reports profile ids for which profileExists is false and weight
// regions for which regionExists is false. Either function may be nil to skip
// that check.
func (c *Config) ValidateRefs(profileExists, regionExists func(string) bool) error {
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(c.Profiles)) {
		if profileExists != nil && !profileExists(id) {
			errs = append(errs, fmt.Errorf("routing.profiles.%s: no inference profile has this id", id))
		}
		if regionExists == nil {
			continue
		}
		for _, r := range slices.Sorted(maps.Keys(c.Profiles[id].Weights)) {
			if !regionExists(r) {
				errs = append(errs, fmt.Errorf("routing.profiles.%s.weights.%s: not a defined region", id, r))
			}
		}
	}
	return errors.Join(errs...)
}

// Options are the effective routing settings of one profile.
type Options struct {
	Strategy         Strategy
	MaxAttempts      int
	FailoverDeadline time.Duration
	// Staleness: see [Config.Staleness]. If zero, 3s.
	Staleness time.Duration
	// Weights: see [ProfileConfig.Weights]. Route only reads it.
	Weights map[string]float64
	// LocalReserve is the headroom below which locality-first stops
	// preferring the source region. If zero, 0.1.
	LocalReserve float64
	// QueueMaxWait is the admission queue's wait budget
	// ([QueueConfig.MaxWait]), at most the queue timeout.
	QueueMaxWait time.Duration
}

// Options resolves the settings of profile id: the profile's own values,
// else the top-level ones, else the defaults. It does not allocate; the
// returned Weights map is shared with c.
func (c *Config) Options(profileID string) Options {
	p := c.Profiles[profileID]
	o := Options{
		Strategy:         firstNonZero(p.Strategy, c.Strategy, LocalityFirst),
		MaxAttempts:      firstNonZero(p.MaxAttempts, c.MaxAttempts, DefaultMaxAttempts),
		FailoverDeadline: firstNonZero(p.FailoverDeadline.D(), c.FailoverDeadline.D(), DefaultFailoverDeadline),
		Staleness:        firstNonZero(c.Staleness.D(), DefaultStaleness),
		Weights:          p.Weights,
		LocalReserve:     DefaultLocalReserve,
	}
	_, timeout := c.QueueLimits()
	o.QueueMaxWait = min(firstNonZero(p.Queue.MaxWait.D(), c.Queue.MaxWait.D(), DefaultQueueMaxWait), timeout)
	return o
}

// QueueLimits returns the effective queue size and timeout.
func (c *Config) QueueLimits() (max int, timeout time.Duration) {
	return firstNonZero(c.Queue.Max, DefaultQueueMax), firstNonZero(c.Queue.Timeout.D(), DefaultQueueTimeout)
}

func firstNonZero[T comparable](vs ...T) T {
	var zero T
	for _, v := range vs {
		if v != zero {
			return v
		}
	}
	return zero
}

// Duration is a [time.Duration] written as "250ms" or "10s" in YAML and JSON.
type Duration time.Duration

// D returns d as a [time.Duration].
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns d in [time.Duration.String] form.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements [encoding.TextMarshaler].
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler], accepting
// [time.ParseDuration] syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration %q: %w (use a number with a unit, e.g. 250ms or 10s)", b, err)
	}
	*d = Duration(v)
	return nil
}
