package topology

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Bounds of settings that mean nonsense outside them. A zero duration means
// the documented default everywhere; the bounds apply to values written.
const (
	// MaxEnvelopeWindow is the widest link.envelope_window: an envelope is
	// a replay risk for as long as it is accepted.
	MaxEnvelopeWindow = 5 * time.Minute
	// MaxRequestBytes is the largest server.max_request_bytes.
	MaxRequestBytes = 1 << 30
	// DefaultMaxRequestBytes is server.max_request_bytes when it is not
	// written: 32 MiB, the whole-request limit of Anthropic's Messages
	// API, so that what the SDKs legitimately send fits: Bedrock's largest
	// image (3.75 MB, 5 MB in base64) or document (4.5 MB, 6 MB in
	// base64) several times over, and the 3 MB photo that, base64 in
	// JSON, no longer fit the former 4 MiB (docs/bedrock.md, "Request
	// size").
	DefaultMaxRequestBytes = 32 << 20
	// MaxDrainGrace is the longest server.drain_grace.
	MaxDrainGrace = 5 * time.Minute
	// DefaultDrainGrace is server.drain_grace when it is not written.
	DefaultDrainGrace = 5 * time.Second
)

// bedrockGeographies are the geography prefixes Amazon Bedrock uses for its
// system profiles. An application profile id may not start with one even
// when this topology does not define it: adding the geography later must not
// turn an existing application profile into a lookalike.
var bedrockGeographies = []string{"us", "us-gov", "eu", "apac", "au", "ca", "jp"}

// ReservedProfilePrefix reports whether id starts with the prefix of a
// system profile ("global." or "<geography>."), where isGeography says
// which geography ids the topology defines. Such an id would read as a
// geographic or global profile while serving wherever its copy source does
// (invariant 1: a profile's name must not promise a residency it lacks).
// It returns the offending prefix.
func ReservedProfilePrefix(id string, isGeography func(string) bool) (string, bool) {
	prefix, _, found := strings.Cut(id, ".")
	if !found {
		return "", false
	}
	p := strings.ToLower(prefix)
	if p == globalPrefix || slices.Contains(bedrockGeographies, p) || (isGeography != nil && isGeography(p)) {
		return prefix + ".", true
	}
	return "", false
}

// written reports whether the file sets the field at path (as opposed to
// leaving it out). Configs built in code have no lines: nothing is written.
func (c *Config) written(path string) bool {
	_, ok := c.lines[path]
	return ok
}

// DrainGraceOrDefault returns how long /readyz answers 503 before the listeners
// close on drain: server.drain_grace, DefaultDrainGrace when not written,
// and no grace when written as 0.
func (s Server) DrainGraceOrDefault() time.Duration {
	if s.DrainGrace == nil {
		return DefaultDrainGrace
	}
	return s.DrainGrace.D()
}

// MaxRequestBytesOrDefault returns server.max_request_bytes or, when it
// is not written (zero), DefaultMaxRequestBytes capped at a written
// server.limits.max_unauthenticated_bytes_per_ip: a topology that set that
// budget below 32 MiB when the default was 4 MiB (the least it may be
// without max_request_bytes) still loads, and one body still fits it.
func (s Server) MaxRequestBytesOrDefault() int64 {
	if s.MaxRequestBytes > 0 {
		return s.MaxRequestBytes
	}
	if b := s.Limits.MaxUnauthenticatedBytesPerIP; b > 0 && b < DefaultMaxRequestBytes {
		return b
	}
	return DefaultMaxRequestBytes
}

// validateBounds rejects values that parse but mean nonsense: negative
// durations and sizes, explicit zeros where zero would disable a mechanism,
// replay windows of a year, weights on regions a profile can never use.
func (c *Config) validateBounds(p *problems, regionIdx map[string]int) {
	nonNegative := func(field string, d Duration, def string) {
		if d < 0 {
			p.add(field, "use a positive duration, or leave it out for "+def, "must not be negative, got %s", d.D())
		}
	}
	positiveIfWritten := func(field string, d Duration, def string) {
		if d < 0 || (d == 0 && c.written(field)) {
			p.add(field, "use a positive duration, or leave it out for "+def, "must be positive, got %s", d.D())
		}
	}
	nonNegativeInt := func(field string, v int64, def string) {
		if v < 0 {
			p.add(field, "use a positive number, or leave it out for "+def, "must not be negative, got %d", v)
		}
	}

	s := c.Server
	nonNegativeInt("server.max_request_bytes", s.MaxRequestBytes, "32 MiB")
	if s.MaxRequestBytes > MaxRequestBytes {
		p.add("server.max_request_bytes", "use at most 1073741824 (1 GiB)", "%d bytes is too large", s.MaxRequestBytes)
	}
	nonNegative("server.drain_timeout", s.DrainTimeout, "30s")
	if s.DrainGrace != nil && (*s.DrainGrace < 0 || s.DrainGrace.D() > MaxDrainGrace) {
		p.add("server.drain_grace", "use 0 (no grace) up to 5m, or leave it out for 5s", "%s is out of range", s.DrainGrace.D())
	}

	r := c.Routing
	nonNegative("routing.failover_deadline", r.FailoverDeadline, "10s")
	positiveIfWritten("routing.staleness", r.Staleness, "3s")
	nonNegative("routing.queue.timeout", r.Queue.Timeout, "2s")
	if r.MaxAttempts == 0 && c.written("routing.max_attempts") {
		p.add("routing.max_attempts", "use 1 or more, or leave it out for 3", "0 attempts would serve nothing")
	}
	for _, id := range slices.Sorted(maps.Keys(r.Profiles)) {
		f := "routing.profiles." + id
		pr := r.Profiles[id]
		nonNegative(f+".failover_deadline", pr.FailoverDeadline, "the routing default")
		if pr.MaxAttempts == 0 && c.written(f+".max_attempts") {
			p.add(f+".max_attempts", "use 1 or more, or leave it out for routing.max_attempts", "0 attempts would serve nothing")
		}
		allowed, scope := c.profileRegions(id)
		for _, reg := range slices.Sorted(maps.Keys(pr.Weights)) {
			if _, ok := regionIdx[reg]; ok && allowed != nil && !allowed[reg] {
				p.add(f+".weights."+reg, "weigh only regions of "+scope+" ("+strings.Join(slices.Sorted(maps.Keys(allowed)), ", ")+")",
					"%s is outside %s, where profile %s may run", reg, scope, id)
			}
		}
	}

	l := c.Link
	positiveIfWritten("link.load_interval", l.LoadInterval, "1s")
	if w := l.EnvelopeWindow.D(); w < 0 || w > MaxEnvelopeWindow || (w == 0 && c.written("link.envelope_window")) {
		p.add("link.envelope_window", "use a window between 1s and 5m, or leave it out for 30s", "%s is not an accepted clock-skew window for signed envelopes", w)
	} else if w > 0 && w < time.Second {
		p.add("link.envelope_window", "use a window between 1s and 5m, or leave it out for 30s", "%s is shorter than clock skew between regions", w)
	}
	nonNegative("link.expiry_warning", l.ExpiryWarning, "336h")

	a := c.Audit
	nonNegative("audit.fsync_interval", a.FsyncInterval, "100ms")
	nonNegative("audit.digest_interval", a.DigestInterval, "1m")
	nonNegative("audit.rotate_interval", a.RotateInterval, "1h")
	nonNegativeInt("audit.rotate_bytes", a.RotateBytes, "64 MiB")
	nonNegativeInt("audit.queue_size", int64(a.QueueSize), "4096")

	nonNegative("quota.lease_ttl", c.Quota.LeaseTTL, "15m")
}

// profileRegions returns the regions the profile or model id may run in at
// most (its geography, every global region, or a model's hosts) and names
// that scope; nil when id is unknown.
func (c *Config) profileRegions(id string) (map[string]bool, string) {
	geoOf := map[string]string{}
	for _, r := range c.Regions {
		geoOf[r.ID] = r.Geography
	}
	for _, a := range c.Profiles.Application {
		if a.ID == id {
			// An application profile runs where its copy source does (a
			// system profile or a model, never another application profile:
			// no recursion).
			id = a.CopyFrom
			break
		}
	}
	out := map[string]bool{}
	if prefix, model, ok := strings.Cut(id, "."); ok {
		if prefix == globalPrefix {
			for _, r := range c.Regions {
				if g, ok := c.Geographies[r.Geography]; ok && g.AllowsGlobal() {
					out[r.ID] = true
				}
			}
			return out, "the global regions"
		}
		if _, ok := c.Geographies[prefix]; ok && model != "" {
			for _, r := range c.Regions {
				if r.Geography == prefix {
					out[r.ID] = true
				}
			}
			return out, "geography " + prefix
		}
	}
	for _, d := range c.Deployments {
		if d.Model == id {
			out[d.Region] = true
		}
	}
	if len(out) == 0 {
		return nil, ""
	}
	return out, fmt.Sprintf("the regions hosting model %s", id)
}
