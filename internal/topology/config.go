package topology

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is a parsed topology file. The same file is given to every node;
// `meridian serve --region ID` tells a node which region it is.
type Config struct {
	// Partition is the ARN partition, so AWS-style policies work verbatim.
	// If empty, "aws" is used.
	Partition string `yaml:"partition"`
	// Account is the 12-digit account id used in ARNs.
	Account string `yaml:"account"`

	Geographies map[string]Geography `yaml:"geographies"`
	Regions     []Region             `yaml:"regions"`
	Models      []Model              `yaml:"models"`
	Deployments []Deployment         `yaml:"deployments"`
	Profiles    Profiles             `yaml:"profiles"`
	Principals  []Principal          `yaml:"principals"`
	// Policies maps a policy name to an IAM-style JSON policy document
	// (written in YAML or JSON syntax).
	Policies map[string]PolicyDocument `yaml:"policies"`
	// Guardrails are organisation-wide policies evaluated like service
	// control policies: they can only take permissions away.
	Guardrails []Guardrail `yaml:"guardrails"`

	// Authorization is how a denied destination of a cross-Region call is
	// treated: "filter" (routing sees only the allowed destinations) or
	// "all-destinations" (Bedrock's behaviour: one denied candidate fails
	// the call, naming its region). If empty, "filter".
	Authorization string `yaml:"authorization"`

	Quota   Quota   `yaml:"quota"`
	Audit   Audit   `yaml:"audit"`
	Routing Routing `yaml:"routing"`
	Link    Link    `yaml:"link"`
	Server  Server  `yaml:"server"`
	// Telemetry configures OpenTelemetry: traces, and pushing metrics over
	// OTLP. The GenAI metrics are always on /metrics.
	Telemetry Telemetry `yaml:"telemetry"`

	// File is the name the config was read from, used in error messages.
	File string `yaml:"-"`
	// lines maps a field path ("regions[2].geography") to its line.
	lines map[string]int
	// notes are Validate's notes (SeverityNote); see Notes.
	notes []*ConfigError
}

// Geography is a named set of regions that data may move between.
type Geography struct {
	Name string `yaml:"name"`
	// Global says whether the geography's regions serve global.* profiles.
	// If unset, true.
	Global *bool `yaml:"global"`
	// AWSRegions lists AWS Regions, besides the topology's regions of
	// this geography, that lie in it: a Bedrock backend of a deployment
	// in this geography may be called in them, and a cross-Region profile
	// may run in them (docs/bedrock.md, "Residency of a Bedrock backend").
	AWSRegions []string `yaml:"aws_regions"`
}

// Authorization modes; see Config.Authorization.
const (
	AuthorizationFilter          = "filter"
	AuthorizationAllDestinations = "all-destinations"
)

// AuthorizationOrDefault returns Authorization, or "filter" when empty.
func (c *Config) AuthorizationOrDefault() string {
	if c.Authorization == "" {
		return AuthorizationFilter
	}
	return c.Authorization
}

// AllowsGlobal reports whether the geography takes part in global routing.
func (g Geography) AllowsGlobal() bool { return g.Global == nil || *g.Global }

// Region is one place with one Meridian node.
type Region struct {
	ID        string   `yaml:"id"`
	Geography string   `yaml:"geography"`
	Location  Location `yaml:"location"`
	// Listen is the client-facing API address (host:port).
	Listen string `yaml:"listen"`
	// Link is the inter-region link address (host:port).
	Link string `yaml:"link"`
	// TLS optionally serves the client listener over TLS.
	TLS *ClientTLS `yaml:"tls"`
}

// Location is a region's position, used for maps and to estimate RTT before
// it is measured.
type Location struct {
	Lat float64 `yaml:"lat"`
	Lon float64 `yaml:"lon"`
}

// ClientTLS configures TLS on a region's client listener.
type ClientTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, when set, requests client certificates signed by this CA;
	// their subjects map to principals (see Principal.ClientCertSubjects).
	ClientCAFile string `yaml:"client_ca_file"`
}

// Model is a logical model.
type Model struct {
	ID            string `yaml:"id"`
	Name          string `yaml:"name"`
	ContextWindow int    `yaml:"context_window"`
	// OutputTokenBurndown is how many tokens of a quota each output token
	// counts for (Bedrock's burndown rate, 5 for some models). If zero, 1.
	OutputTokenBurndown int `yaml:"output_token_burndown"`
}

// Deployment is a model served in a region by a backend, with a capacity.
type Deployment struct {
	Model    string   `yaml:"model"`
	Region   string   `yaml:"region"`
	Backend  Backend  `yaml:"backend"`
	Capacity Capacity `yaml:"capacity"`
	// Capabilities lists what the deployment's model can do (chat, tools,
	// vision, json_schema, reasoning, n, logprobs, documents,
	// prompt_caching, embeddings); a request using another is routed
	// elsewhere. If nil, the backend type's defaults apply (see
	// [DefaultCapabilities]); an empty list declares none of the optional
	// features. A list that names embeddings without chat declares an
	// embedding model, never sent text generation (see [Generates]).
	Capabilities []string `yaml:"capabilities"`
	// ServiceTiers lists the service tiers besides default that the
	// deployment's upstream honours (priority, flex): a request admitted in
	// one of them asks the upstream for it (Bedrock's
	// X-Amzn-Bedrock-Service-Tier and Converse serviceTier, OpenAI's
	// service_tier); a request admitted in another is served in the
	// upstream's default tier and reported as default. If empty, none: an
	// upstream refuses a tier its model does not offer (Bedrock with a
	// ValidationException), so a tier is sent only where declared. Unlike
	// capabilities, it does not route: the admission queue still orders
	// requests by the caller's tier (docs/quotas.md, "Service tiers").
	ServiceTiers []string `yaml:"service_tiers"`
}

// HonoursTier reports whether the deployment's upstream is asked for tier
// t (a request's tier name): priority or flex when ServiceTiers names it.
func (d Deployment) HonoursTier(t string) bool {
	return (t == TierPriority || t == TierFlex) && slices.Contains(d.ServiceTiers, t)
}

// Service tiers a deployment may declare in service_tiers.
const (
	TierPriority = "priority"
	TierFlex     = "flex"
)

// Key returns the deployment's identity, "region/model".
func (d Deployment) Key() string { return d.Region + "/" + d.Model }

// Backend types.
const (
	BackendOpenAI  = "openai"
	BackendBedrock = "bedrock"
	BackendMock    = "mock"
)

// Backend says what actually runs inference for a deployment.
type Backend struct {
	// Type is "openai" (any OpenAI-compatible server), "bedrock" or "mock"
	// (an in-process simulated server, for demos and tests).
	Type string `yaml:"type"`
	// URL is the OpenAI-compatible base URL, ending in /v1 (openai).
	URL string `yaml:"url"`
	// Model is the upstream model (openai), or the Bedrock model or profile id.
	Model string `yaml:"model"`
	// APIKeyEnv names the environment variable that holds the upstream API
	// key (openai). The key itself never appears in the file.
	APIKeyEnv string `yaml:"api_key_env"`
	// AWSRegion is the Amazon Bedrock region (bedrock).
	AWSRegion string `yaml:"aws_region"`
	// Endpoint overrides the Bedrock Runtime endpoint (bedrock).
	Endpoint string `yaml:"endpoint"`
	// ResidencyChecked (bedrock) records that the operator has checked
	// what Meridian cannot: that every AWS Region Amazon Bedrock may run
	// Model in lies in the deployment region's geography (an application
	// inference profile, a cross-Region profile whose destinations the
	// topology does not place in the geography or that Meridian cannot
	// list, such as ca., an endpoint whose Region cannot be read). It never
	// excuses a global. profile, an aws_region outside the geography, an
	// ARN's Region or an endpoint naming another Region (docs/bedrock.md,
	// "Residency of a Bedrock backend").
	ResidencyChecked bool `yaml:"residency_checked"`
	// Family (bedrock) names the family of request fields the model takes
	// (claude, nova, nova-reasoning, gpt-oss, mistral-top-k, other; see
	// internal/schema/bedrockmodel), overriding what Meridian reads from
	// Model: for an id that names no provider Meridian knows (another
	// Meridian node's model, "eu.demo.chat-small"), or an ARN that names
	// none (an application inference profile or provisioned model, read
	// as claude). It decides the default capabilities, whether Anthropic
	// bodies pass through to InvokeModel, and what the translation to
	// Converse sends. If empty, read from Model.
	Family string `yaml:"family"`
	// ConnectTimeout bounds connection set-up. If zero, 5s is used.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// FirstByteTimeout bounds the wait for response headers (first token of
	// a stream). If zero, 60s is used.
	FirstByteTimeout Duration `yaml:"first_byte_timeout"`
	// StreamIdleTimeout bounds the silence of a streamed answer: after the
	// response headers (then the request fails over) and between two events
	// (then the stream ends with an in-stream error). If zero, 15s is used.
	StreamIdleTimeout Duration `yaml:"stream_idle_timeout"`
	// Mock settings (mock): simulated time to first token, tokens per
	// second, failure rate and seed.
	TTFT            Duration `yaml:"ttft"`
	TokensPerSecond float64  `yaml:"tokens_per_second"`
	FailRate        float64  `yaml:"fail_rate"`
	Seed            int64    `yaml:"seed"`
	// API is the API the simulated server is reached through (mock):
	// "openai" (chat completions) or "bedrock" (Converse and InvokeModel,
	// through the Bedrock adapter). If empty, "openai".
	API string `yaml:"api"`
}

// Capacity is what a deployment can take. A nil field means unlimited.
type Capacity struct {
	MaxConcurrency *int `yaml:"max_concurrency"`
	RPM            *int `yaml:"rpm"`
	TPM            *int `yaml:"tpm"`
	// Pools add limits per quota pool (in_region, geographic, global),
	// each counted per source region.
	Pools *QuotaPools `yaml:"pools"`
	// FlexShare is the share of each capacity limit that flex-tier
	// requests may fill (0 < share <= 1). If zero, 0.5 is used.
	FlexShare float64 `yaml:"flex_share"`
}

// Concurrency returns the concurrency limit, or 0 when unlimited.
func (c Capacity) Concurrency() int { return deref(c.MaxConcurrency) }

// RequestsPerMinute returns the RPM limit, or 0 when unlimited.
func (c Capacity) RequestsPerMinute() int { return deref(c.RPM) }

// TokensPerMinute returns the TPM limit, or 0 when unlimited.
func (c Capacity) TokensPerMinute() int { return deref(c.TPM) }

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// Profiles holds the application inference profiles of the file and,
// optionally, the destination sets of system profiles. System profiles
// themselves are derived from deployments.
type Profiles struct {
	// System sets, per system profile id ("us.demo.chat-small"), which
	// source regions may call it and where each may be served. A profile
	// not listed keeps the derived sets: every source of its geography (or
	// of the global geographies) reaches every destination.
	System      map[string]SystemProfile `yaml:"system"`
	Application []ApplicationProfile     `yaml:"application"`
}

// SystemProfile gives a system profile's destinations per source region,
// as Bedrock does: "us.m" called from us-west-2 may run in {us-east-1,
// us-west-2} while from us-east-2 it may run in {us-east-1, us-east-2,
// us-west-2}. A source need not be a destination.
type SystemProfile struct {
	// Sources maps a source region to the destinations it may reach. Only
	// the listed sources may call the profile. Every region must lie in the
	// profile's geography (for a global profile: in a geography that takes
	// part in global routing) and every destination must host the model.
	Sources map[string][]string `yaml:"sources"`
}

// ApplicationProfile copies the destinations of a system profile or of a
// single-region model and carries tags for cost allocation.
type ApplicationProfile struct {
	ID string `yaml:"id"`
	// CopyFrom is a system profile id ("eu.demo.chat-small") or a model id.
	CopyFrom    string            `yaml:"copy_from"`
	Description string            `yaml:"description"`
	Tags        map[string]string `yaml:"tags"`
}

// Principal is a caller.
type Principal struct {
	ID string `yaml:"id"`
	// Username is aws:username in policies. If empty, ID is used.
	Username string `yaml:"username"`
	// APIKeys are "sha256:<hex>" hashes of the principal's API keys.
	APIKeys []string `yaml:"api_keys"`
	// AccessKeys are AWS-style access keys for SigV4 (Bedrock API).
	AccessKeys []AccessKey `yaml:"access_keys"`
	// ClientCertSubjects maps client-certificate identities (URI SAN or
	// subject common name) to this principal, for mTLS client listeners.
	ClientCertSubjects []string          `yaml:"client_cert_subjects"`
	Tags               map[string]string `yaml:"tags"`
	// Policies names entries of the file's policies.
	Policies []string `yaml:"policies"`
	// Viewer grants read-only access to the operator console and
	// operational endpoints without any inference permission.
	Viewer bool    `yaml:"viewer"`
	Limits *Limits `yaml:"limits"`
	// Receipts signs a residency receipt for every answer to this
	// principal, as if each request asked with x-meridian-receipt: true
	// (docs/receipts.md).
	Receipts bool `yaml:"receipts"`
}

// Name returns the principal's username, defaulting to its id.
func (p Principal) Name() string {
	if p.Username != "" {
		return p.Username
	}
	return p.ID
}

// AccessKey is an AWS-style access key id whose secret lives outside the file.
type AccessKey struct {
	ID string `yaml:"id"`
	// SecretEnv names the environment variable holding the secret key.
	SecretEnv string `yaml:"secret_env"`
	// SecretFile names a file holding the secret key.
	SecretFile string `yaml:"secret_file"`
}

// Limits are a principal's quotas. Zero fields are unlimited.
type Limits struct {
	RPM            int `yaml:"rpm"`
	TPM            int `yaml:"tpm"`
	MaxConcurrency int `yaml:"max_concurrency"`
	TokensPerDay   int `yaml:"tokens_per_day"`
	TokensPerMonth int `yaml:"tokens_per_month"`
	// PerModel and PerProfile add limits scoped to one model or profile.
	PerModel   map[string]ScopedLimits `yaml:"per_model"`
	PerProfile map[string]ScopedLimits `yaml:"per_profile"`
}

// ScopedLimits are limits that apply to one model or profile.
type ScopedLimits struct {
	RPM            int `yaml:"rpm"`
	TPM            int `yaml:"tpm"`
	MaxConcurrency int `yaml:"max_concurrency"`
	TokensPerDay   int `yaml:"tokens_per_day"`
	TokensPerMonth int `yaml:"tokens_per_month"`
	// Pools (per_model only) add limits per quota pool, each counted per
	// source region (docs/quotas.md, "Quota pools").
	Pools *QuotaPools `yaml:"pools"`
}

// QuotaPools are a model's limits per quota pool: in_region (a bare model
// id served in its source region), geographic (a geography profile) and
// global (a global profile).
type QuotaPools struct {
	InRegion   *PoolLimits `yaml:"in_region"`
	Geographic *PoolLimits `yaml:"geographic"`
	Global     *PoolLimits `yaml:"global"`
}

// PoolLimits are the limits of one quota pool. Zero fields are unlimited.
type PoolLimits struct {
	RPM            int `yaml:"rpm"`
	TPM            int `yaml:"tpm"`
	MaxConcurrency int `yaml:"max_concurrency"`
	TokensPerDay   int `yaml:"tokens_per_day"`
	TokensPerMonth int `yaml:"tokens_per_month"`
}

// PolicyDocument is an IAM-style policy, kept as JSON for the policy
// package to compile.
type PolicyDocument struct {
	JSON []byte
	Line int
}

// UnmarshalYAML accepts a policy written as a YAML mapping or as a JSON
// string, and keeps it as JSON.
func (p *PolicyDocument) UnmarshalYAML(n *yaml.Node) error {
	p.Line = n.Line
	if n.Kind == yaml.ScalarNode {
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		// Kept as written: the validation's policy.Parse reports a syntax
		// error (with its line and column within the string) or a duplicate
		// key (with its path) under policies.<name>, and the policy stays
		// defined for the principals that name it.
		p.JSON = []byte(s)
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	b, err := json.Marshal(normalizeYAML(v))
	if err != nil {
		return decodeError(n, fmt.Sprintf("the policy cannot be expressed as JSON: %v", err), "write the policy as a mapping with string keys, as docs/policies.md shows")
	}
	p.JSON = b
	return nil
}

// normalizeYAML turns YAML's map[any]any (from non-string keys) into
// JSON-encodable values.
func normalizeYAML(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeYAML(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = normalizeYAML(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = normalizeYAML(e)
		}
		return t
	case time.Time:
		// An unquoted "2012-10-17" is a date to YAML; policies mean the string.
		return t.Format("2006-01-02")
	}
	return v
}

// Guardrail is an organisation-wide policy: either the name of an entry of
// policies, or an inline {name, policy}.
type Guardrail struct {
	Name string
	// Policy is set for inline guardrails; for named ones it is looked up.
	Policy *PolicyDocument
	Line   int
}

// UnmarshalYAML accepts a policy name or {name, policy}.
func (g *Guardrail) UnmarshalYAML(n *yaml.Node) error {
	g.Line = n.Line
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&g.Name)
	}
	var inline struct {
		Name   string          `yaml:"name"`
		Policy *PolicyDocument `yaml:"policy"`
	}
	if n.Kind != yaml.MappingNode {
		return decodeError(n, "a guardrail is a policy name or {name, policy}", "write the name of an entry of policies, or {name: ..., policy: {...}}")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value != "name" && k.Value != "policy" {
			return decodeError(k, fmt.Sprintf("unknown field %q", k.Value), "a guardrail is a policy name or {name, policy}: remove it")
		}
	}
	if err := n.Decode(&inline); err != nil {
		return err
	}
	g.Name, g.Policy = inline.Name, inline.Policy
	return nil
}

// Quota configures admission limits and the store shared by replicas.
type Quota struct {
	// Store is "memory" (one replica, the default) or "redis".
	Store string     `yaml:"store"`
	Redis QuotaRedis `yaml:"redis"`
	// OnStoreError is "fail_closed" (the default) or "fail_open".
	OnStoreError string `yaml:"on_store_error"`
	// DefaultMaxTokens is reserved for a request that sets no max_tokens.
	// If zero, 1024 is used.
	DefaultMaxTokens int `yaml:"default_max_tokens"`
	// LeaseTTL bounds how long a concurrency slot outlives a replica that
	// crashed mid-request. If zero, 15m; it must exceed the longest request.
	LeaseTTL Duration `yaml:"lease_ttl"`
	// DailyDefault is "bedrock" (a caller limit with a tpm and no
	// tokens_per_day gets tpm × 1440 a day) or "none" (the default).
	DailyDefault string `yaml:"daily_default"`
}

// QuotaRedis locates the Redis (or Valkey) server of a clustered region.
type QuotaRedis struct {
	URL       string `yaml:"url"`
	KeyPrefix string `yaml:"key_prefix"`
	// PasswordEnv names the environment variable holding the Redis
	// password, so that it stays out of the file (and out of url).
	PasswordEnv string `yaml:"password_env"`
	// Cluster is true when url names nodes of a Redis Cluster:
	// redis://host:port?addr=host2:port2&addr=... (go-redis's
	// ParseClusterURL), or one configuration endpoint.
	Cluster bool `yaml:"cluster"`
}

// Audit configures the hash-chained audit trail.
type Audit struct {
	// Dir holds one directory of JSON Lines files per region.
	// If empty, "./audit" is used.
	Dir string `yaml:"dir"`
	// RecordContent stores prompts and completions in events.
	RecordContent bool `yaml:"record_content"`
	// Fsync is "interval" (the default) or "always".
	Fsync          string   `yaml:"fsync"`
	FsyncInterval  Duration `yaml:"fsync_interval"`
	DigestInterval Duration `yaml:"digest_interval"`
	RotateBytes    int64    `yaml:"rotate_bytes"`
	RotateInterval Duration `yaml:"rotate_interval"`
	KeyFile        string   `yaml:"key_file"`
	QueueSize      int      `yaml:"queue_size"`
	// Disabled turns the audit trail off (benchmarks only).
	Disabled bool `yaml:"disabled"`
}

// Telemetry configures OpenTelemetry export. The zero value exports
// nothing beyond /metrics.
type Telemetry struct {
	OTLP    OTLP             `yaml:"otlp"`
	Traces  Traces           `yaml:"traces"`
	Metrics TelemetryMetrics `yaml:"metrics"`
}

// OTLP is the collector that traces and metrics are pushed to, over
// OTLP/HTTP with protobuf.
type OTLP struct {
	// Endpoint is the collector's base URL, e.g. "http://127.0.0.1:4318":
	// traces go to <endpoint>/v1/traces, metrics to <endpoint>/v1/metrics.
	// If empty, nothing is pushed.
	Endpoint string `yaml:"endpoint"`
	// HeadersEnv maps an HTTP header sent with every export to the
	// environment variable that holds its value (e.g. authorization:
	// OTLP_AUTHORIZATION), so that credentials stay out of the file.
	HeadersEnv map[string]string `yaml:"headers_env"`
	// Timeout bounds one export. If zero, 10s.
	Timeout Duration `yaml:"timeout"`
	// CAFile is a PEM bundle of the CAs that sign an https endpoint's
	// certificate (a private collector). If empty, the system's roots.
	CAFile string `yaml:"ca_file"`
}

// Traces configures tracing.
type Traces struct {
	// Enabled turns tracing on; spans are pushed to otlp.endpoint. Off by
	// default.
	Enabled bool `yaml:"enabled"`
	// SampleRatio is the fraction of requests traced (0 to 1) among those
	// whose caller sent no traceparent; a caller's traceparent decides by
	// its sampled flag (parent-based). If unset, 1.
	SampleRatio *float64 `yaml:"sample_ratio"`
	// RecordContent puts prompts and completions on spans
	// (gen_ai.input.messages, gen_ai.output.messages). It needs
	// audit.record_content, which captures them.
	RecordContent bool `yaml:"record_content"`
}

// TelemetryMetrics configures pushing the OpenTelemetry metrics.
type TelemetryMetrics struct {
	// OTLP pushes the GenAI metrics to otlp.endpoint too.
	OTLP bool `yaml:"otlp"`
	// Interval is the time between two pushes. If zero, 60s.
	Interval Duration `yaml:"interval"`
}

// Routing configures destination choice and failover.
type Routing struct {
	// Strategy is "locality-first" (the default), "least-loaded",
	// "latency" or "weighted".
	Strategy string `yaml:"strategy"`
	// MaxAttempts bounds the destinations tried per request. If zero, 3.
	MaxAttempts int `yaml:"max_attempts"`
	// FailoverDeadline bounds the time spent failing over. If zero, 10s.
	FailoverDeadline Duration `yaml:"failover_deadline"`
	// Staleness is the age after which a peer's load snapshot is unknown.
	// If zero, 3s.
	Staleness Duration `yaml:"staleness"`
	Queue     Queue    `yaml:"queue"`
	// Profiles overrides settings per profile id.
	Profiles map[string]ProfileRouting `yaml:"profiles"`
}

// Queue bounds waiting when every destination is saturated.
type Queue struct {
	// Max is the number of requests that may wait. If zero, 64.
	Max int `yaml:"max"`
	// Timeout is the longest a request waits. If zero, 2s.
	Timeout Duration `yaml:"timeout"`
	// MaxWait is the wait budget: a request is queued only if its
	// predicted wait fits it, else answered 429 at once (docs/routing.md).
	// If zero, 300ms; at most Timeout.
	MaxWait Duration `yaml:"max_wait"`
}

// ProfileRouting overrides routing for one profile.
type ProfileRouting struct {
	Strategy         string             `yaml:"strategy"`
	MaxAttempts      int                `yaml:"max_attempts"`
	FailoverDeadline Duration           `yaml:"failover_deadline"`
	Weights          map[string]float64 `yaml:"weights"`
	// Queue.MaxWait overrides routing.queue.max_wait for the profile.
	Queue struct {
		MaxWait Duration `yaml:"max_wait"`
	} `yaml:"queue"`
}

// Link configures the inter-region link.
type Link struct {
	// TrustDomain is the SPIFFE trust domain of region identities.
	// If empty, "meridian" is used.
	TrustDomain string `yaml:"trust_domain"`
	CAFile      string `yaml:"ca_file"`
	// CertFile and KeyFile may contain "{region}", expanded per node.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// EnvelopeWindow is the accepted clock difference for signed request
	// envelopes. If zero, 30s.
	EnvelopeWindow Duration `yaml:"envelope_window"`
	// ExpiryWarning is how long before expiry certificates are warned
	// about. If zero, 336h (14 days).
	ExpiryWarning Duration `yaml:"expiry_warning"`
	// InsecureDevLink serves the link over plain HTTP. `serve` refuses it
	// unless also given --dev.
	InsecureDevLink bool `yaml:"insecure_dev_link"`
	// LoadInterval is how often a node publishes its load to peers.
	// If zero, 1s.
	LoadInterval Duration `yaml:"load_interval"`
}

// Server configures a node's client listener.
type Server struct {
	// MaxRequestBytes bounds request bodies. If zero,
	// DefaultMaxRequestBytes (32 MiB); see MaxRequestBytesOrDefault.
	MaxRequestBytes int64 `yaml:"max_request_bytes"`
	// DrainTimeout bounds how long in-flight requests may finish after
	// SIGTERM. If zero, 30s.
	DrainTimeout Duration `yaml:"drain_timeout"`
	// DrainGrace is how long /readyz answers 503 on SIGTERM, while requests
	// are still served, before the listeners close, so that load balancers
	// stop sending new work first. If unset, 5s; 0 closes at once; at most
	// 5m. It is not part of drain_timeout.
	DrainGrace *Duration `yaml:"drain_grace"`
	// DataDir holds node state (application profiles created through the
	// API). If empty, "./data" is used.
	DataDir string `yaml:"data_dir"`
	// SigV4 tunes how the Bedrock API verifies AWS Signature Version 4.
	SigV4 SigV4 `yaml:"sigv4"`
	// OpsListen, when set, is the address (host:port) of a separate
	// listener that serves /metrics, /healthz, /readyz and
	// /meridian/v1/regions without authentication, for Prometheus scrapes
	// and probes. Bind it to localhost or a private network. If empty,
	// there is none, and the client listener serves /metrics and the
	// regions view to authenticated principals only.
	OpsListen string `yaml:"ops_listen"`
	// Limits bound what a client may make the client listener do before
	// it authenticates, and how long it may take to send a request.
	Limits ClientLimits `yaml:"limits"`
}

// ClientLimits bound the work of the client listener on behalf of callers
// that have not authenticated. The defaults never hold up a client that
// sends its request at network speed.
type ClientLimits struct {
	// MaxUnauthenticatedBytesPerIP bounds the bodies one client address
	// may have read before their requests authenticated (a SigV4
	// signature over the body's hash verifies only once the body is read).
	// Each such read counts its Content-Length, or max_request_bytes when
	// the length is not declared or larger. A request beyond is refused
	// with 429. If zero, 64 MiB; at least max_request_bytes.
	MaxUnauthenticatedBytesPerIP int64 `yaml:"max_unauthenticated_bytes_per_ip"`
	// MaxUnauthenticatedConnectionsPerIP bounds the connections from one
	// client address that have been open for more than a second without a
	// request on them authenticating (idle, or sending headers slowly). A
	// new connection beyond is refused with 429 (closed at once on a TLS
	// listener). Connections younger than a second do not count, so a
	// burst of new connections that authenticate at once is not refused,
	// up to 16 times this many in all. If zero, 256.
	MaxUnauthenticatedConnectionsPerIP int `yaml:"max_unauthenticated_connections_per_ip"`
	// ReadHeaderTimeout bounds the reading of a request's headers. If
	// zero, 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// BodyReadTimeout bounds the reading of a request's body, from the
	// end of its headers. If zero, 60s.
	BodyReadTimeout Duration `yaml:"body_read_timeout"`
}

// SigV4 tunes the verification of AWS Signature Version 4 requests. The
// defaults are AWS's own and the strictest: a 5-minute clock skew, a signed
// body hash, no presigned URLs.
type SigV4 struct {
	// MaxSkew bounds |now - X-Amz-Date|. If zero, 5m; at most 15m.
	MaxSkew Duration `yaml:"max_skew"`
	// AllowPresigned accepts presigned URLs (X-Amz-Signature in the query,
	// valid for their X-Amz-Expires, at most 7 days).
	AllowPresigned bool `yaml:"allow_presigned"`
	// AllowUnsignedPayload accepts X-Amz-Content-Sha256: UNSIGNED-PAYLOAD,
	// a signature that does not cover the body.
	AllowUnsignedPayload bool `yaml:"allow_unsigned_payload"`
}

// MaxSigV4Skew is the widest clock-skew window server.sigv4.max_skew may set.
const MaxSigV4Skew = 15 * time.Minute

// PartitionOrDefault returns the ARN partition.
func (c *Config) PartitionOrDefault() string {
	if c.Partition == "" {
		return "aws"
	}
	return c.Partition
}

// Region returns the region with the given id.
func (c *Config) Region(id string) (Region, bool) {
	for _, r := range c.Regions {
		if r.ID == id {
			return r, true
		}
	}
	return Region{}, false
}

// Model returns the model with the given id.
func (c *Config) Model(id string) (Model, bool) {
	for _, m := range c.Models {
		if m.ID == id {
			return m, true
		}
	}
	return Model{}, false
}

// GeographyOf returns the geography id of a region, or "" if unknown.
func (c *Config) GeographyOf(region string) string {
	r, _ := c.Region(region)
	return r.Geography
}

// DeploymentsIn returns the deployments of a region.
func (c *Config) DeploymentsIn(region string) []Deployment {
	var out []Deployment
	for _, d := range c.Deployments {
		if d.Region == region {
			out = append(out, d)
		}
	}
	return out
}

// Deployment returns the deployment of model in region.
func (c *Config) Deployment(region, model string) (Deployment, bool) {
	for _, d := range c.Deployments {
		if d.Region == region && d.Model == model {
			return d, true
		}
	}
	return Deployment{}, false
}
