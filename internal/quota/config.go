package quota

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Store kinds (Config.Store).
const (
	StoreMemory = "memory"
	StoreRedis  = "redis"
)

// Store-error policies (Config.OnStoreError).
const (
	FailClosed = "fail_closed"
	FailOpen   = "fail_open"
)

// Defaults used for zero configuration fields.
const (
	DefaultMaxTokens = 1024
	DefaultLeaseTTL  = 15 * time.Minute
)

// Config is the topology file's top-level quota section, mirrored from the
// topology package:
//
//	quota: {store: redis, redis: {url: ..., key_prefix: ...},
//	        on_store_error: fail_closed, default_max_tokens: 1024}
//
// The zero value is usable: a memory store, fail_closed, 1024 default
// max_tokens.
type Config struct {
	// Store is "memory" (one replica) or "redis" (several). If empty,
	// memory is used.
	Store string      `yaml:"store" json:"store,omitempty"`
	Redis RedisConfig `yaml:"redis" json:"redis,omitzero"`
	// OnStoreError is what admission does when the store cannot be
	// reached: "fail_closed" rejects with [ErrStoreUnavailable], "fail_open"
	// admits without limits. If empty, fail_closed is used.
	OnStoreError string `yaml:"on_store_error" json:"on_store_error,omitempty"`
	// DefaultMaxTokens is the completion size reserved for a request that
	// sets no max_tokens. If zero, 1024 is used.
	DefaultMaxTokens int `yaml:"default_max_tokens" json:"default_max_tokens,omitempty"`
	// LeaseTTL bounds how long a concurrency slot stays held when its
	// request is never settled (a replica that crashed mid-request). If
	// zero, 15m is used; it must exceed the longest request, and be at
	// most 720h (30 days).
	LeaseTTL time.Duration `yaml:"lease_ttl" json:"lease_ttl,omitempty"`
	// DailyDefault is what a caller limit with a tpm and no tokens_per_day
	// gets as its daily budget: "bedrock" sets it to tpm × 1440, as
	// Bedrock does; "none" leaves it unlimited. If empty, none is used.
	DailyDefault string `yaml:"daily_default" json:"daily_default,omitempty"`
}

// RedisConfig locates the Redis (or Valkey) server, or Redis Cluster, of a
// multi-replica region.
type RedisConfig struct {
	// URL is redis://[user:password@]host:port/db, rediss:// for TLS, or
	// unix:///path. Timeouts may be set as query parameters
	// (?dial_timeout=500ms&read_timeout=500ms); they default to 1s. For a
	// cluster it names one or more of its nodes, as go-redis's
	// ParseClusterURL reads it: redis://host:port?addr=host2:port2&addr=...
	// (database 0 only; the client finds the other nodes itself).
	URL string `yaml:"url" json:"url,omitempty"`
	// KeyPrefix starts every key. If empty, "meridian:" is used. Give each
	// region sharing one server its own prefix. On a cluster it is put in
	// braces (a hash tag), so it must not contain "{" or "}".
	KeyPrefix string `yaml:"key_prefix" json:"key_prefix,omitempty"`
	// Cluster is true when URL names nodes of a Redis Cluster (cluster
	// mode enabled) rather than a single server or a failover endpoint.
	Cluster bool `yaml:"cluster" json:"cluster,omitempty"`
}

// validate reports every problem of the Redis configuration of a redis
// store, with field paths under "quota.redis".
func (c RedisConfig) validate() error {
	if c.URL == "" {
		return configErr("quota.redis.url", `set e.g. redis: {url: "redis://127.0.0.1:6379/0"}`, "the redis store needs a URL")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
		// The URL may carry a password: name the field, not the value.
		return configErr("quota.redis.url", "use redis://host:port/db, rediss:// for TLS, or unix:///path", "not a Redis URL")
	}
	var errs []error
	if c.Cluster {
		if u.Scheme == "unix" {
			errs = append(errs, configErr("quota.redis.url", "name cluster nodes as redis://host:port?addr=host2:port2 (rediss:// for TLS)", "a Redis Cluster is not reached through a unix socket"))
		}
		if db := strings.Trim(u.Path, "/"); u.Scheme != "unix" && db != "" && db != "0" {
			errs = append(errs, configErr("quota.redis.url", "drop the database from the URL: a Redis Cluster has database 0 only", "database %q on a cluster", truncate(db, 20)))
		}
		for _, q := range []string{"read_only", "route_by_latency", "route_randomly"} {
			if v := u.Query().Get(q); v != "" && v != "false" && v != "0" {
				errs = append(errs, configErr("quota.redis.url", "remove "+q+": the quota store reads what it writes, on the primaries", "%s sends reads to replicas, which lag", q))
			}
		}
		if strings.ContainsAny(c.KeyPrefix, "{}") {
			errs = append(errs, configErr("quota.redis.key_prefix", `use a prefix without "{" and "}": the cluster store puts it in braces itself, as the hash tag of every key`, "contains a brace"))
		}
	} else if u.Query().Has("addr") {
		errs = append(errs, configErr("quota.redis.url", "set quota.redis.cluster: true for a Redis Cluster, or drop the addr parameters", "addr parameters list the nodes of a Redis Cluster"))
	}
	return errors.Join(errs...)
}

// truncate returns s cut to at most n bytes, for error messages.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Default returns the default configuration: a memory store, fail_closed.
func Default() Config {
	return Config{Store: StoreMemory, OnStoreError: FailClosed, DefaultMaxTokens: DefaultMaxTokens, LeaseTTL: DefaultLeaseTTL}
}

func (c Config) failOpen() bool { return c.OnStoreError == FailOpen }

func (c Config) defaultMaxTokens() int64 {
	if c.DefaultMaxTokens > 0 {
		return int64(c.DefaultMaxTokens)
	}
	return DefaultMaxTokens
}

func (c Config) leaseTTL() time.Duration {
	if c.LeaseTTL > 0 {
		return min(c.LeaseTTL, maxDuration)
	}
	return DefaultLeaseTTL
}

// ConfigError is one problem in a quota configuration.
type ConfigError struct {
	// Field is the path of the field, e.g. "quota.redis.url".
	Field string
	// Hint says how to fix it.
	Hint string
	Err  error
}

// Error implements error.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s: %v (%s)", e.Field, e.Err, e.Hint)
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

func configErr(field, hint, format string, args ...any) error {
	return &ConfigError{Field: field, Hint: hint, Err: fmt.Errorf(format, args...)}
}

// Validate reports every problem of c at once, each a [*ConfigError] with the
// field path under "quota".
func (c *Config) Validate() error {
	var errs []error
	switch c.Store {
	case "", StoreMemory:
	case StoreRedis:
		if err := c.Redis.validate(); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, configErr("quota.store", "use memory (one replica) or redis (several replicas)", "%q is not a quota store", c.Store))
	}
	if s := c.OnStoreError; s != "" && s != FailClosed && s != FailOpen {
		errs = append(errs, configErr("quota.on_store_error", "use fail_closed or fail_open", "%q is not a store-error policy", s))
	}
	if c.DefaultMaxTokens < 0 {
		errs = append(errs, configErr("quota.default_max_tokens", "use a positive number of tokens, or 0 for 1024", "must not be negative"))
	}
	if c.DefaultMaxTokens > MaxRequestTokens {
		errs = append(errs, configErr("quota.default_max_tokens", "use a number of tokens a model can produce, or 0 for 1024", "%d is more than %d", c.DefaultMaxTokens, MaxRequestTokens))
	}
	if d := c.DailyDefault; d != "" && d != DailyDefaultNone && d != DailyDefaultBedrock {
		errs = append(errs, configErr("quota.daily_default", "use bedrock (tokens_per_day defaults to tpm × 1440) or none", "%q is not a daily-default policy", truncate(d, 40)))
	}
	if c.LeaseTTL < 0 {
		errs = append(errs, configErr("quota.lease_ttl", "use a duration longer than the longest request, or 0 for 15m", "must not be negative"))
	}
	if c.LeaseTTL > maxDuration {
		errs = append(errs, configErr("quota.lease_ttl", "use a duration longer than the longest request, at most 720h, or 0 for 15m", "%s is longer than 720h", c.LeaseTTL))
	}
	return errors.Join(errs...)
}

// Limits are a principal's quotas (the principal's `limits` in the topology
// file). Zero fields are unlimited.
type Limits struct {
	RPM            int `yaml:"rpm" json:"rpm,omitempty"`
	TPM            int `yaml:"tpm" json:"tpm,omitempty"`
	MaxConcurrency int `yaml:"max_concurrency" json:"max_concurrency,omitempty"`
	TokensPerDay   int `yaml:"tokens_per_day" json:"tokens_per_day,omitempty"`
	TokensPerMonth int `yaml:"tokens_per_month" json:"tokens_per_month,omitempty"`
	// PerModel and PerProfile add limits scoped to one model id or one
	// profile id; they apply on top of (not instead of) the limits above.
	PerModel   map[string]ScopedLimits `yaml:"per_model" json:"per_model,omitempty"`
	PerProfile map[string]ScopedLimits `yaml:"per_profile" json:"per_profile,omitempty"`
}

// ScopedLimits are limits that apply to one model or profile. Zero fields
// are unlimited.
type ScopedLimits struct {
	RPM            int `yaml:"rpm" json:"rpm,omitempty"`
	TPM            int `yaml:"tpm" json:"tpm,omitempty"`
	MaxConcurrency int `yaml:"max_concurrency" json:"max_concurrency,omitempty"`
	TokensPerDay   int `yaml:"tokens_per_day" json:"tokens_per_day,omitempty"`
	TokensPerMonth int `yaml:"tokens_per_month" json:"tokens_per_month,omitempty"`
	// Pools add limits per quota pool (in-region, geographic, global use
	// of the model), each counted per source region. Only a per_model
	// entry has pools; they apply on top of the limits above.
	Pools *Pools `yaml:"pools" json:"pools,omitempty"`
}

// Capacity is a deployment's capacity (the deployment's `capacity` in the
// topology file). Zero fields are unlimited.
type Capacity struct {
	MaxConcurrency int `yaml:"max_concurrency" json:"max_concurrency,omitempty"`
	RPM            int `yaml:"rpm" json:"rpm,omitempty"`
	TPM            int `yaml:"tpm" json:"tpm,omitempty"`
	// Pools add capacity limits per quota pool, each counted per source
	// region, on top of the limits above.
	Pools *Pools `yaml:"pools" json:"pools,omitempty"`
	// FlexShare is the share of every capacity limit (0 < share <= 1)
	// that flex-tier requests may fill: a flex request is refused once the
	// deployment's use plus the request passes share × limit. If zero,
	// [DefaultFlexShare] is used.
	FlexShare float64 `yaml:"flex_share" json:"flex_share,omitempty"`
}

// Validate reports every negative limit at once; field is the path of the
// limits, e.g. "principals[0].limits".
//
// Capacity's own checks are [Capacity.Validate].
func (l Limits) Validate(field string) error {
	var errs []error
	errs = append(errs, l.scoped().validate(field))
	for _, m := range slices.Sorted(maps.Keys(l.PerModel)) {
		errs = append(errs, l.PerModel[m].validate(field+".per_model."+m))
		errs = append(errs, l.PerModel[m].Pools.validate(field+".per_model."+m+".pools"))
	}
	for _, p := range slices.Sorted(maps.Keys(l.PerProfile)) {
		errs = append(errs, l.PerProfile[p].validate(field+".per_profile."+p))
		if l.PerProfile[p].Pools != nil {
			errs = append(errs, configErr(field+".per_profile."+p+".pools", "move the pools under per_model: a profile's pool is fixed by its kind", "pools are per model"))
		}
	}
	return errors.Join(errs...)
}

func (l Limits) scoped() ScopedLimits {
	return ScopedLimits{RPM: l.RPM, TPM: l.TPM, MaxConcurrency: l.MaxConcurrency, TokensPerDay: l.TokensPerDay, TokensPerMonth: l.TokensPerMonth}
}

func (s ScopedLimits) validate(field string) error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"rpm", s.RPM}, {"tpm", s.TPM}, {"max_concurrency", s.MaxConcurrency}, {"tokens_per_day", s.TokensPerDay}, {"tokens_per_month", s.TokensPerMonth}} {
		if f.v < 0 {
			errs = append(errs, configErr(field+"."+f.name, "use a positive limit, or 0 (or omit it) for unlimited", "%d is negative", f.v))
		}
	}
	return errors.Join(errs...)
}

// Validate reports every problem of a deployment's capacity at once; field
// is its path, e.g. "deployments[0].capacity".
func (c Capacity) Validate(field string) error {
	var errs []error
	errs = append(errs, ScopedLimits{RPM: c.RPM, TPM: c.TPM, MaxConcurrency: c.MaxConcurrency}.validate(field))
	errs = append(errs, c.Pools.validate(field+".pools"))
	if c.FlexShare < 0 || c.FlexShare > 1 || math.IsNaN(c.FlexShare) {
		errs = append(errs, configErr(field+".flex_share", "use a share between 0 and 1 (e.g. 0.5), or 0 for the default 0.5", "%v is outside 0..1", c.FlexShare))
	}
	return errors.Join(errs...)
}
