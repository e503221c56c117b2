package topology

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/policy"
	"github.com/meridian-gateway/meridian/internal/routing"
)

var (
	idRE        = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	geoRE       = regexp.MustCompile(`^[a-z][a-z0-9-]{0,15}$`)
	modelIDRE   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._:-]{0,127}$`)
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
	keyHashRE   = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	profileIDRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._:-]{0,63}$`)
	partitions  = []string{"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"}
)

// globalPrefix cannot be a geography id: "global" names the set of all
// regions whose geography allows global routing.
const globalPrefix = "global"

// actionHint is the fix of a policy action that is a typo
// (policy.CheckActions): an Allow of it grants nothing, a Deny denies nothing.
// literalVariableHint goes with a note on `${…}` in a 2008-10-17 policy
// (policy.LiteralVariableNotes).
const literalVariableHint = "docs/policies.md#grammar (Version)"

// keyHint is the fix for a condition key or variable outside the aws:,
// bedrock: and meridian: namespaces (policy.CheckKeys): the node never
// sets it, so a statement reading it would be decided as if it were absent.
var keyHint = "use a context key the node sets (docs/policies.md#the-request-context): " + strings.Join(policy.SetKeys(), ", ")

var actionHint = "name a Bedrock action: Meridian authorizes " + strings.Join(policy.KnownActions(), ", ") + " (wildcards allowed, e.g. bedrock:InvokeModel*); docs/policies.md#actions"

// actionNoteHint ends the note about a Bedrock action Meridian never
// authorizes (policy.ActionNotes).
const actionNoteHint = "docs/policies.md#actions"

// problems collects validation problems with their lines.
type problems struct {
	c     *Config
	out   []*ConfigError
	notes []*ConfigError // SeverityNote: they do not refuse the file
}

func (p *problems) add(field, hint, format string, args ...any) {
	p.out = append(p.out, &ConfigError{File: p.c.File, Line: p.c.lineOf(field), Field: field, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// note records a note: something the file does that is accepted but worth
// knowing.
func (p *problems) note(field, hint, format string, args ...any) {
	p.notes = append(p.notes, &ConfigError{File: p.c.File, Line: p.c.lineOf(field), Field: field, Msg: fmt.Sprintf(format, args...), Hint: hint, Severity: SeverityNote})
}

// Validate checks the whole file and returns a *ValidationError listing
// every problem, or nil. It also fills defaults that other checks rely on.
// Bounds of the quota stores (internal/quota), repeated here because the pure
// topology may not import an adapter; node.TestValidateAgreesWithServe keeps
// them equal.
const (
	maxQuotaTokens = 1 << 40
	maxLeaseTTL    = 720 * time.Hour
)

func (c *Config) Validate() error {
	p := &problems{c: c}
	if c.lines == nil {
		c.lines = map[string]int{}
	}
	if c.File == "" {
		c.File = "config"
	}
	if c.Partition != "" && !slices.Contains(partitions, c.Partition) {
		p.add("partition", "use one of "+strings.Join(partitions, ", "), "%q is not an ARN partition", c.Partition)
	}
	if c.Account == "" {
		p.add("account", `set a 12-digit account id, e.g. account: "111122223333"`, "is required (it appears in every profile ARN)")
	} else if !accountRE.MatchString(c.Account) {
		p.add("account", `quote it and use 12 digits, e.g. account: "111122223333"`, "%q is not a 12-digit account id", c.Account)
	}

	geos := slices.Sorted(maps.Keys(c.Geographies))
	if len(geos) == 0 {
		p.add("geographies", "define at least one, e.g. geographies: {eu: {name: European Union}}", "no geographies are defined")
	}
	for _, g := range geos {
		f := "geographies." + g
		if g == globalPrefix {
			p.add(f, "choose another id; global profiles are derived from geographies that allow global routing", "%q is reserved", g)
		} else if !geoRE.MatchString(g) {
			p.add(f, "use lower-case letters, digits and dashes, e.g. eu", "%q is not a valid geography id", g)
		}
	}
	c.validateGeographyAWSRegions(p, geos)

	regionIdx := map[string]int{}
	addrs := map[string]string{}
	for i, r := range c.Regions {
		f := fmt.Sprintf("regions[%d]", i)
		switch {
		case r.ID == "":
			p.add(f+".id", "give the region an id such as eu-west-1", "is required")
		case !idRE.MatchString(r.ID):
			p.add(f+".id", "use lower-case letters, digits and dashes", "%q is not a valid region id", r.ID)
		default:
			if j, dup := regionIdx[r.ID]; dup {
				p.add(f+".id", fmt.Sprintf("rename one of regions[%d] and regions[%d]", j, i), "duplicate region id %q", r.ID)
			} else {
				regionIdx[r.ID] = i
			}
		}
		if r.Geography == "" {
			p.add(f+".geography", "set it to one of: "+strings.Join(geos, ", "), "is required")
		} else if _, ok := c.Geographies[r.Geography]; !ok {
			p.add(f+".geography", "use one of the defined geographies ("+strings.Join(geos, ", ")+") or define it under geographies", "%q is not a defined geography", r.Geography)
		}
		if r.Location.Lat < -90 || r.Location.Lat > 90 || r.Location.Lon < -180 || r.Location.Lon > 180 {
			p.add(f+".location", "latitude is -90..90 and longitude -180..180", "(%g, %g) is not a position on Earth", r.Location.Lat, r.Location.Lon)
		}
		for _, a := range []struct{ name, addr string }{{"listen", r.Listen}, {"link", r.Link}} {
			af := f + "." + a.name
			if a.addr == "" {
				p.add(af, "set host:port, e.g. 127.0.0.1:8081", "is required")
				continue
			}
			if _, port, err := net.SplitHostPort(a.addr); err != nil || port == "" {
				p.add(af, "use host:port, e.g. 127.0.0.1:8081", "%q is not a host:port address", a.addr)
				continue
			}
			if prev, dup := addrs[a.addr]; dup {
				p.add(af, "give every listen and link address its own port", "address %s is already used by %s", a.addr, prev)
			} else {
				addrs[a.addr] = af
			}
		}
		if r.TLS != nil && (r.TLS.CertFile == "" || r.TLS.KeyFile == "") {
			p.add(f+".tls", "set both cert_file and key_file, or remove tls", "client TLS needs a certificate and a key")
		}
	}
	if len(c.Regions) == 0 {
		p.add("regions", "define at least one region", "no regions are defined")
	}

	modelIdx := map[string]int{}
	for i, m := range c.Models {
		f := fmt.Sprintf("models[%d]", i)
		switch {
		case m.ID == "":
			p.add(f+".id", "give the model an id such as demo.chat-small", "is required")
		case !modelIDRE.MatchString(m.ID):
			p.add(f+".id", "use letters, digits, '.', '-', '_' and ':'", "%q is not a valid model id", m.ID)
		case strings.HasPrefix(m.ID, "arn:"):
			p.add(f+".id", "use a plain model id; ARNs are derived", "%q must not be an ARN", m.ID)
		default:
			if j, dup := modelIdx[m.ID]; dup {
				p.add(f+".id", fmt.Sprintf("remove one of models[%d] and models[%d]", j, i), "duplicate model id %q", m.ID)
			} else {
				modelIdx[m.ID] = i
			}
		}
		if m.ContextWindow < 0 {
			p.add(f+".context_window", "use a positive number of tokens or leave it out", "must not be negative")
		}
	}

	deployed := map[string]bool{}
	seenDep := map[string]int{}
	for i, d := range c.Deployments {
		f := fmt.Sprintf("deployments[%d]", i)
		if _, ok := modelIdx[d.Model]; !ok {
			p.add(f+".model", "use one of the models ids ("+strings.Join(slices.Sorted(maps.Keys(modelIdx)), ", ")+") or add it under models", "%q is not a defined model", d.Model)
		}
		if _, ok := regionIdx[d.Region]; !ok {
			p.add(f+".region", "use one of the region ids ("+strings.Join(slices.Sorted(maps.Keys(regionIdx)), ", ")+")", "%q is not a defined region", d.Region)
		}
		if j, dup := seenDep[d.Key()]; dup {
			p.add(f, fmt.Sprintf("merge deployments[%d] and deployments[%d]", j, i), "model %q is deployed twice in region %q", d.Model, d.Region)
		} else {
			seenDep[d.Key()] = i
		}
		deployed[d.Model] = true
		c.validateBackend(p, f+".backend", d.Backend)
		c.validateBedrockResidency(p, f, d)
		validateCapabilities(p, f+".capabilities", d.Capabilities)
		validateServiceTiers(p, f+".service_tiers", d.ServiceTiers)
		validateMockAPI(p, f+".backend", d.Backend)
		validateBackendFamily(p, f+".backend", d.Backend)
		for _, q := range []struct {
			name string
			v    *int
		}{{"max_concurrency", d.Capacity.MaxConcurrency}, {"rpm", d.Capacity.RPM}, {"tpm", d.Capacity.TPM}} {
			if q.v != nil && *q.v <= 0 {
				p.add(f+".capacity."+q.name, "use a positive number, or leave the field out for no limit", "capacity must be positive, got %d", *q.v)
			}
		}
		validatePools(p, f+".capacity.pools", d.Capacity.Pools)
		if fs := d.Capacity.FlexShare; fs < 0 || fs > 1 || fs != fs {
			p.add(f+".capacity.flex_share", "use a share between 0 and 1 (e.g. 0.5), or leave it out for 0.5", "%v is outside 0..1", fs)
		}
	}
	for i, m := range c.Models {
		if b := m.OutputTokenBurndown; b < 0 || b > maxBurndown {
			p.add(fmt.Sprintf("models[%d].output_token_burndown", i), fmt.Sprintf("use the model's burndown rate (1..%d, e.g. 5), or leave it out for 1", maxBurndown), "%d is outside 0..%d", b, maxBurndown)
		}
	}
	for i, m := range c.Models {
		if m.ID != "" && !deployed[m.ID] {
			p.add(fmt.Sprintf("models[%d]", i), "add a deployment of it under deployments, or remove the model", "model %q has no deployment", m.ID)
		}
	}

	sources := c.profileSources()
	appIdx := map[string]int{}
	for i, a := range c.Profiles.Application {
		f := fmt.Sprintf("profiles.application[%d]", i)
		switch {
		case a.ID == "":
			p.add(f+".id", "give the profile an id such as claims-eu", "is required")
		case !profileIDRE.MatchString(a.ID):
			p.add(f+".id", "use letters, digits, '.', '-', '_' and ':' (at most 64)", "%q is not a valid profile id", a.ID)
		case sources[a.ID] || hasKey(modelIdx, a.ID):
			p.add(f+".id", "choose an id that is not a system profile or model id", "%q collides with a system profile or model", a.ID)
		case reservedPrefix(c, a.ID) != "":
			p.add(f+".id", "choose an id without a geography or global prefix, e.g. claims-eu", "%q starts with %q, which names system profiles: it would read as one while serving wherever %s does", a.ID, reservedPrefix(c, a.ID), a.CopyFrom)
		default:
			if j, dup := appIdx[a.ID]; dup {
				p.add(f+".id", fmt.Sprintf("rename one of profiles.application[%d] and [%d]", j, i), "duplicate profile id %q", a.ID)
			} else {
				appIdx[a.ID] = i
			}
		}
		if !sources[a.CopyFrom] {
			p.add(f+".copy_from", "use a system profile id such as "+exampleSource(sources)+", or a deployed model id", "%q is not a system profile or deployed model", a.CopyFrom)
		}
	}

	c.validateSystemProfiles(p)
	if !ValidAuthorization(c.Authorization) {
		p.add("authorization", `use "filter" (routing sees only allowed destinations) or "all-destinations" (one denied destination fails the call, as in Bedrock)`, "%q is not an authorization mode", c.Authorization)
	}

	principalIdx := map[string]int{}
	nameIdx := map[string]int{}
	keyOwner := map[string]string{}
	for i, pr := range c.Principals {
		f := fmt.Sprintf("principals[%d]", i)
		if pr.ID == "" {
			p.add(f+".id", "give the principal an id such as claims-service", "is required")
		} else if j, dup := principalIdx[pr.ID]; dup {
			p.add(f+".id", fmt.Sprintf("rename one of principals[%d] and principals[%d]", j, i), "duplicate principal id %q", pr.ID)
		} else {
			principalIdx[pr.ID] = i
			// The name (username, else id) is the principal's
			// aws:username and the last part of its aws:PrincipalArn:
			// unique in the account as an IAM user's is (case aside, as
			// IAM compares them), or a policy on one names the other too.
			if j, dup := nameIdx[strings.ToLower(pr.Name())]; dup {
				p.add(f+".username", fmt.Sprintf("give principals[%d] and principals[%d] different usernames (or ids)", j, i),
					"principals[%d] has the same name %q (username, else id): both would be arn:...:user/%s in policies", j, pr.Name(), pr.Name())
			} else {
				nameIdx[strings.ToLower(pr.Name())] = i
			}
		}
		for k, h := range pr.APIKeys {
			kf := fmt.Sprintf("%s.api_keys[%d]", f, k)
			if !keyHashRE.MatchString(h) {
				p.add(kf, "store the key's hash, not the key: run `meridian keys hash` and paste its sha256:<64 hex> output", "not a sha256:<hex> key hash")
				continue
			}
			if owner, dup := keyOwner[h]; dup {
				p.add(kf, "issue a separate key per principal", "the same key hash is also given to %s", owner)
			}
			keyOwner[h] = pr.ID
		}
		for k, ak := range pr.AccessKeys {
			kf := fmt.Sprintf("%s.access_keys[%d]", f, k)
			if ak.ID == "" {
				p.add(kf+".id", "set the access key id, e.g. AKIAMERIDIANEXAMPLE", "is required")
			}
			if (ak.SecretEnv == "") == (ak.SecretFile == "") {
				p.add(kf, "set exactly one of secret_env (an environment variable name) or secret_file", "the secret's source is missing or ambiguous")
			}
			if ak.SecretEnv != "" && !envNameRE.MatchString(ak.SecretEnv) {
				p.add(kf+".secret_env", "name an environment variable, e.g. CLAIMS_SECRET_KEY", "%q is not an environment variable name", ak.SecretEnv)
			}
			if owner, dup := keyOwner["ak:"+ak.ID]; dup {
				p.add(kf+".id", "give every access key id to one principal", "access key id %q is also given to %s", ak.ID, owner)
			}
			keyOwner["ak:"+ak.ID] = pr.ID
		}
		for k, name := range pr.Policies {
			if _, ok := c.Policies[name]; !ok {
				p.add(fmt.Sprintf("%s.policies[%d]", f, k), "define it under policies, or use one of: "+strings.Join(slices.Sorted(maps.Keys(c.Policies)), ", "), "policy %q is not defined", name)
			}
		}
		if pr.Limits != nil {
			c.validateLimits(p, f+".limits", *pr.Limits, modelIdx, sources, appIdx)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Policies)) {
		compiled, err := policy.Parse(name, c.Policies[name].JSON)
		for _, e := range unjoin(err) {
			p.add("policies."+name, "fix the statement as described; docs/policies.md lists the grammar", "policy %q: %v", name, e)
		}
		if compiled != nil {
			for _, e := range unjoin(compiled.CheckActions()) {
				p.add("policies."+name, actionHint, "policy %q: %v", name, e)
			}
			for _, e := range unjoin(compiled.CheckKeys()) {
				p.add("policies."+name, keyHint, "policy %q: %v", name, e)
			}
			for _, n := range compiled.ActionNotes() {
				p.note("policies."+name, actionNoteHint, "policy %q: %v", name, n)
			}
			for _, n := range compiled.LiteralVariableNotes() {
				p.note("policies."+name, literalVariableHint, "policy %q: %v", name, n)
			}
		}
	}
	for i, g := range c.Guardrails {
		f := fmt.Sprintf("guardrails[%d]", i)
		if g.Policy != nil {
			compiled, err := policy.Parse(g.Name, g.Policy.JSON)
			for _, e := range unjoin(err) {
				p.add(f+".policy", "fix the statement as described; docs/policies.md lists the grammar", "guardrail %q: %v", g.Name, e)
			}
			if compiled != nil {
				for _, e := range unjoin(compiled.CheckActions()) {
					p.add(f+".policy", actionHint, "guardrail %q: %v", g.Name, e)
				}
				for _, e := range unjoin(compiled.CheckKeys()) {
					p.add(f+".policy", keyHint, "guardrail %q: %v", g.Name, e)
				}
				for _, n := range compiled.ActionNotes() {
					p.note(f+".policy", actionNoteHint, "guardrail %q: %v", g.Name, n)
				}
				for _, n := range compiled.LiteralVariableNotes() {
					p.note(f+".policy", literalVariableHint, "guardrail %q: %v", g.Name, n)
				}
			}
		}
		if g.Policy == nil {
			if _, ok := c.Policies[g.Name]; !ok {
				p.add(f, "name an entry of policies, or write {name, policy} inline", "guardrail policy %q is not defined", g.Name)
			}
		} else if g.Name == "" {
			p.add(f+".name", "name the guardrail so that decisions can cite it", "is required")
		}
	}

	switch c.Quota.Store {
	case "", "memory":
	case "redis":
		redisURL, keyPrefix := quotaRedisForCheck(c.Quota.Redis)
		if c.Quota.Redis.URL == "" {
			p.add("quota.redis.url", `set e.g. redis: {url: "redis://127.0.0.1:6379/0"}`, "the redis store needs a URL")
		} else if u, err := url.Parse(redisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			p.add("quota.redis.url", "use redis://host:port/db, rediss:// for TLS, or unix:///path", "%q is not a Redis URL", c.Quota.Redis.URL)
		} else if cl := c.Quota.Redis.Cluster; cl && (u.Scheme == "unix" || strings.Trim(u.Path, "/") != "" && strings.Trim(u.Path, "/") != "0") {
			p.add("quota.redis.url", "name cluster nodes as redis://host:port?addr=host2:port2 (rediss:// for TLS), without a database", "not a Redis Cluster URL")
		} else if !cl && u.Query().Has("addr") {
			p.add("quota.redis.url", "set quota.redis.cluster: true for a Redis Cluster, or drop the addr parameters", "addr parameters list the nodes of a Redis Cluster")
		}
		if c.Quota.Redis.Cluster && strings.ContainsAny(keyPrefix, "{}") {
			p.add("quota.redis.key_prefix", `use a prefix without "{" and "}": on a cluster the prefix is put in braces, as the hash tag of every key`, "contains a brace")
		}
		c.sharedQuotaRedisNote(p)
	default:
		p.add("quota.store", "use memory (one replica) or redis (several replicas)", "%q is not a quota store", c.Quota.Store)
	}
	if e := c.Quota.Redis.PasswordEnv; e != "" && !envNameRE.MatchString(e) {
		p.add("quota.redis.password_env", "name an environment variable, e.g. MERIDIAN_REDIS_PASSWORD (never the password itself)", "%q is not an environment variable name", e)
	}
	if s := c.Quota.OnStoreError; s != "" && s != "fail_closed" && s != "fail_open" {
		p.add("quota.on_store_error", "use fail_closed or fail_open", "%q is not a store-error policy", s)
	}
	if c.Quota.DefaultMaxTokens < 0 {
		p.add("quota.default_max_tokens", "use a positive number of tokens", "must not be negative")
	} else if c.Quota.DefaultMaxTokens > maxQuotaTokens {
		// The quota stores' bound (internal/quota/bounds.go); checked here so
		// that validate and serve agree.
		p.add("quota.default_max_tokens", "use a number of tokens a model can produce, or 0 for 1024", "%d is more than %d", c.Quota.DefaultMaxTokens, maxQuotaTokens)
	}
	if d := c.Quota.DailyDefault; d != "" && d != "none" && d != "bedrock" {
		p.add("quota.daily_default", "use bedrock (tokens_per_day defaults to tpm × 1440) or none", "%q is not a daily-default policy", d)
	}
	if c.Quota.LeaseTTL.D() > maxLeaseTTL {
		p.add("quota.lease_ttl", "use a duration longer than the longest request, at most 720h, or 0 for 15m", "%s is longer than 720h", c.Quota.LeaseTTL.D())
	}
	if sk := c.Server.SigV4.MaxSkew.D(); sk < 0 || (sk > 0 && sk < time.Second) || sk > MaxSigV4Skew {
		p.add("server.sigv4.max_skew", "use a window between 1s and 15m; AWS uses 5m", "%s is not an accepted clock-skew window", sk)
	}
	if a := c.Server.OpsListen; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			p.add("server.ops_listen", `use host:port, e.g. "127.0.0.1:9090"`, "%q is not a listen address", a)
		}
	}
	if b, m := c.Server.Limits.MaxUnauthenticatedBytesPerIP, max(c.Server.MaxRequestBytes, 0); b < 0 || (b > 0 && b < cmp.Or(m, 4<<20)) {
		p.add("server.limits.max_unauthenticated_bytes_per_ip", "use at least server.max_request_bytes (one body must fit), or 0 for the default (64 MiB)",
			"%d bytes would refuse a body of server.max_request_bytes (%d)", b, cmp.Or(m, 4<<20))
	}
	if c.Server.Limits.MaxUnauthenticatedConnectionsPerIP < 0 {
		p.add("server.limits.max_unauthenticated_connections_per_ip", "use a positive number, or 0 for the default (256)", "must not be negative")
	}
	for _, t := range []struct {
		field string
		d     Duration
	}{{"read_header_timeout", c.Server.Limits.ReadHeaderTimeout}, {"body_read_timeout", c.Server.Limits.BodyReadTimeout}} {
		field, d := t.field, t.d
		if d.D() < 0 || (d.D() > 0 && d.D() < 100*time.Millisecond) {
			p.add("server.limits."+field, "use a duration of at least 100ms, e.g. 10s, or leave it out for the default", "%s is too short", d.D())
		}
	}
	if s := c.Audit.Fsync; s != "" && s != "interval" && s != "always" {
		p.add("audit.fsync", "use interval or always", "%q is not an fsync policy", s)
	}
	c.validateRouting(p, "routing", c.Routing.Strategy, c.Routing.MaxAttempts)
	for _, id := range slices.Sorted(maps.Keys(c.Routing.Profiles)) {
		f := "routing.profiles." + id
		pr := c.Routing.Profiles[id]
		if !sources[id] && !hasKey(appIdx, id) {
			p.add(f, "use a profile id such as "+exampleSource(sources), "%q is not a profile", id)
		}
		c.validateRouting(p, f, pr.Strategy, pr.MaxAttempts)
		for r, w := range pr.Weights {
			if _, ok := regionIdx[r]; !ok {
				p.add(f+".weights."+r, "use region ids", "%q is not a defined region", r)
			} else if w < 0 {
				p.add(f+".weights."+r, "use a weight of 0 or more", "weight must not be negative")
			}
		}
	}
	c.validateBounds(p, regionIdx)
	c.validateRoutingCore(p)
	c.validateTelemetry(p)
	sortProblems(p.notes)
	c.notes = p.notes
	if len(p.out) == 0 {
		return nil
	}
	return &ValidationError{Problems: p.out}
}

// headerNameRE is an HTTP header name (an RFC 9110 token).
var headerNameRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$")

// validateTelemetry checks the telemetry section: an OTLP endpoint that is
// an http(s) base URL, present when traces or metrics are pushed.
func (c *Config) validateTelemetry(p *problems) {
	t := c.Telemetry
	if e := t.OTLP.Endpoint; e != "" {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			p.add("telemetry.otlp.endpoint", "use the collector's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318", "%q is not an http or https base URL", e)
		}
	}
	for _, h := range slices.Sorted(maps.Keys(t.OTLP.HeadersEnv)) {
		f := "telemetry.otlp.headers_env." + h
		if !headerNameRE.MatchString(h) {
			p.add(f, "use an HTTP header name such as authorization", "%q is not an HTTP header name", h)
		}
		if env := t.OTLP.HeadersEnv[h]; !envNameRE.MatchString(env) {
			p.add(f, "name the environment variable that holds the value, e.g. OTLP_AUTHORIZATION", "%q is not an environment variable name", env)
		}
	}
	if t.OTLP.CAFile != "" && !strings.HasPrefix(t.OTLP.Endpoint, "https://") {
		p.add("telemetry.otlp.ca_file", "use an https endpoint, or remove ca_file", "a CA bundle needs an https endpoint")
	}
	if t.OTLP.Timeout.D() < 0 {
		p.add("telemetry.otlp.timeout", "use a positive duration, e.g. 10s, or leave it out", "must not be negative")
	}
	if t.Traces.Enabled && t.OTLP.Endpoint == "" {
		p.add("telemetry.traces.enabled", "set telemetry.otlp.endpoint to the collector, or turn tracing off", "traces need telemetry.otlp.endpoint")
	}
	if r := t.Traces.SampleRatio; r != nil && (*r < 0 || *r > 1 || *r != *r) {
		p.add("telemetry.traces.sample_ratio", "use a fraction from 0 (only callers' sampled traces) to 1 (every request)", "%g is not between 0 and 1", *r)
	}
	if t.Traces.RecordContent && !c.Audit.RecordContent {
		p.add("telemetry.traces.record_content", "set audit.record_content: true as well, or remove it", "needs audit.record_content, which captures prompts and completions")
	}
	if t.Metrics.OTLP && t.OTLP.Endpoint == "" {
		p.add("telemetry.metrics.otlp", "set telemetry.otlp.endpoint to the collector, or remove it", "pushing metrics needs telemetry.otlp.endpoint")
	}
	if d := t.Metrics.Interval.D(); d < 0 || (d > 0 && d < time.Second) {
		p.add("telemetry.metrics.interval", "use 1s or more, e.g. 60s, or leave it out", "%s is too short", d)
	}
}

// reservedPrefix returns the system-profile prefix id starts with, or "".
func reservedPrefix(c *Config, id string) string {
	prefix, _ := ReservedProfilePrefix(id, func(g string) bool { return hasKey(c.Geographies, g) })
	return prefix
}

// validateRoutingCore runs the routing package's own validation of the
// routing section, so that nothing `config validate` accepts is refused by
// the router at start-up. Problems already reported for a field are not
// repeated.
func (c *Config) validateRoutingCore(p *problems) {
	rc, err := c.RoutingConfig()
	if err != nil {
		return // unknown strategies are reported above
	}
	reported := map[string]bool{}
	for _, e := range p.out {
		reported[e.Field] = true
	}
	if err := rc.Validate(); err != nil {
		for _, e := range unjoin(err) {
			field, msg, ok := strings.Cut(e.Error(), ": ")
			if !ok {
				field, msg = "routing", e.Error()
			}
			if !reported[field] {
				reported[field] = true
				p.add(field, "see docs/routing.md for the field's range", "%s", msg)
			}
		}
	}
}

// unjoin splits an errors.Join result into its parts.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (c *Config) validateRouting(p *problems, f, strategy string, attempts int) {
	if _, err := routing.ParseStrategy(strategy); strategy != "" && err != nil {
		var names []string
		for _, st := range routing.Strategies() {
			names = append(names, st.String())
		}
		p.add(f+".strategy", "use one of "+strings.Join(names, ", "), "%q is not a routing strategy", strategy)
	}
	if attempts < 0 {
		p.add(f+".max_attempts", "use 1 or more, or leave it out for 3", "must not be negative")
	}
}

// openAIEndpoints are the paths the openai backend appends to its base
// URL (internal/backend/openai.go, internal/backend/embeddings.go).
var openAIEndpoints = []string{"/chat/completions", "/embeddings"}

// validateOpenAIBase checks an openai backend's base URL (already an
// absolute http(s) URL). The backend appends /chat/completions and
// /embeddings to it, so a bare host would call /chat/completions, which
// the usual servers (vLLM, Ollama, OpenAI) answer 404: they serve the API
// under /v1. A URL that already ends in an endpoint would call it twice.
// Other paths are left alone: some servers put the API elsewhere
// (/api/v1, /v1beta/openai).
func validateOpenAIBase(p *problems, field, raw, path string) {
	base := strings.TrimSuffix(raw, "/")
	if strings.Trim(path, "/") == "" {
		p.add(field, fmt.Sprintf("use %q (the base URL of the server's OpenAI API, under which it serves /chat/completions; /v1 for vLLM, Ollama and OpenAI)", base+"/v1"),
			"%q has no path: requests would go to %s/chat/completions, which OpenAI-compatible servers serve at /v1/chat/completions", raw, base)
		return
	}
	for _, e := range openAIEndpoints {
		if strings.HasSuffix(strings.TrimSuffix(path, "/"), e) {
			p.add(field, fmt.Sprintf("use the base URL %q; Meridian appends %s itself", strings.TrimSuffix(base, e), strings.Join(openAIEndpoints, " and ")),
				"%q names an endpoint, not the base URL: requests would go to %s/chat/completions", raw, base)
			return
		}
	}
}

func (c *Config) validateBackend(p *problems, f string, b Backend) {
	for _, d := range []struct {
		name string
		v    Duration
	}{{"connect_timeout", b.ConnectTimeout}, {"first_byte_timeout", b.FirstByteTimeout}, {"stream_idle_timeout", b.StreamIdleTimeout}, {"ttft", b.TTFT}} {
		if d.v < 0 {
			p.add(f+"."+d.name, "use a positive duration such as 5s, or leave it out for the default", "must not be negative, got %s", d.v.D())
		}
	}
	switch b.Type {
	case BackendOpenAI:
		if b.URL == "" {
			p.add(f+".url", `set the OpenAI-compatible base URL, e.g. "http://127.0.0.1:8000/v1"`, "an openai backend needs a url")
		} else if u, err := url.Parse(b.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(f+".url", "use an absolute http:// or https:// URL", "%q is not an http(s) URL", b.URL)
		} else {
			validateOpenAIBase(p, f+".url", b.URL, u.Path)
		}
		if b.Model == "" {
			p.add(f+".model", "set the upstream model name the server expects", "an openai backend needs a model")
		}
		if b.APIKeyEnv != "" && !envNameRE.MatchString(b.APIKeyEnv) {
			p.add(f+".api_key_env", "name an environment variable, e.g. OPENAI_API_KEY (never the key itself)", "%q is not an environment variable name", b.APIKeyEnv)
		}
	case BackendBedrock:
		if b.AWSRegion == "" {
			p.add(f+".aws_region", "set the Amazon Bedrock region, e.g. eu-central-1", "a bedrock backend needs aws_region")
		}
		if b.Model == "" {
			p.add(f+".model", "set the Bedrock model or inference profile id", "a bedrock backend needs a model")
		}
		if b.Endpoint != "" {
			if u, err := url.Parse(b.Endpoint); err != nil || u.Host == "" {
				p.add(f+".endpoint", "use an absolute URL", "%q is not a URL", b.Endpoint)
			}
		}
	case BackendMock:
		if b.FailRate < 0 || b.FailRate > 1 {
			p.add(f+".fail_rate", "use a fraction between 0 and 1", "%g is out of range", b.FailRate)
		}
		if b.TokensPerSecond < 0 {
			p.add(f+".tokens_per_second", "use 0 (unpaced) or more", "must not be negative")
		}
	case "":
		p.add(f+".type", "set type to openai, bedrock or mock", "is required")
	default:
		p.add(f+".type", "use openai, bedrock or mock", "%q is not a backend type", b.Type)
	}
}

func (c *Config) validateLimits(p *problems, f string, l Limits, models map[string]int, sources map[string]bool, apps map[string]int) {
	check := func(f string, s ScopedLimits) {
		for _, q := range []struct {
			n string
			v int
		}{{"rpm", s.RPM}, {"tpm", s.TPM}, {"max_concurrency", s.MaxConcurrency}, {"tokens_per_day", s.TokensPerDay}, {"tokens_per_month", s.TokensPerMonth}} {
			if q.v < 0 {
				p.add(f+"."+q.n, "use a positive number, or leave it out for no limit", "must not be negative")
			}
		}
	}
	check(f, ScopedLimits{RPM: l.RPM, TPM: l.TPM, MaxConcurrency: l.MaxConcurrency, TokensPerDay: l.TokensPerDay, TokensPerMonth: l.TokensPerMonth})
	for _, m := range slices.Sorted(maps.Keys(l.PerModel)) {
		if !hasKey(models, m) {
			p.add(f+".per_model."+m, "use a model id", "%q is not a defined model", m)
		}
		check(f+".per_model."+m, l.PerModel[m])
		validatePools(p, f+".per_model."+m+".pools", l.PerModel[m].Pools)
	}
	for _, id := range slices.Sorted(maps.Keys(l.PerProfile)) {
		if !hasKey(apps, id) && !sources[id] {
			p.add(f+".per_profile."+id, "use a profile id", "%q is not a profile", id)
		}
		check(f+".per_profile."+id, l.PerProfile[id])
		if l.PerProfile[id].Pools != nil {
			p.add(f+".per_profile."+id+".pools", "move the pools under per_model.<model>: a profile's kind already fixes its pool", "pools are per model")
		}
	}
}

// maxBurndown bounds models[].output_token_burndown (Bedrock's rates are
// 1 and 5).
const maxBurndown = 1000

// validatePools reports negative pool limits.
func validatePools(p *problems, f string, ps *QuotaPools) {
	if ps == nil {
		return
	}
	for _, x := range []struct {
		name string
		l    *PoolLimits
	}{{"in_region", ps.InRegion}, {"geographic", ps.Geographic}, {"global", ps.Global}} {
		if x.l == nil {
			continue
		}
		for _, q := range []struct {
			n string
			v int
		}{{"rpm", x.l.RPM}, {"tpm", x.l.TPM}, {"max_concurrency", x.l.MaxConcurrency}, {"tokens_per_day", x.l.TokensPerDay}, {"tokens_per_month", x.l.TokensPerMonth}} {
			if q.v < 0 {
				p.add(f+"."+x.name+"."+q.n, "use a positive number, or leave it out for no limit", "must not be negative")
			}
		}
	}
}

// profileSources returns the ids an application profile may copy: every
// derivable system profile id and every deployed model id.
func (c *Config) profileSources() map[string]bool {
	geoOf := map[string]string{}
	for _, r := range c.Regions {
		geoOf[r.ID] = r.Geography
	}
	out := map[string]bool{}
	for _, d := range c.Deployments {
		g, ok := geoOf[d.Region]
		if !ok {
			continue
		}
		out[d.Model] = true
		out[g+"."+d.Model] = true
		if geo, ok := c.Geographies[g]; ok && geo.AllowsGlobal() {
			out[globalPrefix+"."+d.Model] = true
		}
	}
	return out
}

func exampleSource(sources map[string]bool) string {
	keys := slices.Sorted(maps.Keys(sources))
	for _, k := range keys {
		if strings.Contains(k, ".") && !strings.HasPrefix(k, globalPrefix) {
			return k
		}
	}
	if len(keys) > 0 {
		return keys[0]
	}
	return "eu.<model>"
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}
