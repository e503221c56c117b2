package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/receipt"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/telemetry"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// Job and Executor are the dispatch package's (see [Outcome]).
type (
	// Job is one execution of a request in one destination region.
	Job = dispatch.Job
	// Executor runs jobs in one region: the local backends, or a peer
	// node over the link.
	Executor = dispatch.Executor
)

// Backend runs inference for one model in this region. The backend
// package's adapters implement it; the gateway calls nothing else of them.
type Backend interface {
	// Complete runs a non-streaming request.
	Complete(ctx context.Context, req *inference.Request) (*inference.Response, error)
	// Stream runs a streaming request. It returns once the first event is
	// available, so an error it returns happened before any byte reached
	// the client and the gateway may fail over (invariant 3).
	Stream(ctx context.Context, req *inference.Request) (inference.Stream, error)
}

// Link reaches the other regions' nodes.
type Link interface {
	// Executor returns the executor that forwards to region's node.
	Executor(region string) Executor
	// PeerHealthy reports whether region's node currently answers.
	PeerHealthy(region string) bool
}

// Options configure a Gateway.
type Options struct {
	// Region is this node's region.
	Region string
	Config *topology.Config
	// Catalog is the profile catalog; if nil it is derived from Config.
	Catalog *profile.Catalog
	// Auth resolves principals (a forwarded job names its principal by
	// id). If nil, it is built from Config.
	Auth *auth.Authenticator
	// Backends serve this region's deployments, by model id. A model
	// without one is unavailable here (503, and the source fails over).
	Backends map[string]Backend
	// Link forwards to other regions; nil for a single-region node.
	Link Link
	// Authorizer decides who may invoke what where. It is required: New
	// refuses a nil Authorizer, so that no omission opens access. A
	// topology without policies passes AllowAll deliberately.
	Authorizer Authorizer
	// Routing is the node's routing state. If nil, it is built from
	// Config with the wall clock.
	Routing *Routing
	// Quota admits requests against the callers' limits and the
	// deployments' capacity. If nil, nothing is limited beyond routing.
	Quota Quota
	// Recorder receives every finished request before its answer: a
	// recorder that cannot record it withholds the answer (the audit
	// trail). May be nil.
	Recorder Recorder
	// Observer receives every finished request once its answer is out,
	// when the node can send it first (see Observing): metrics, traces,
	// the live view. Its errors are logged and change no answer. May be
	// nil.
	Observer Recorder
	Metrics  *telemetry.Metrics
	Logger   *slog.Logger
	// Clock tells the time (and times the routing made here when Routing
	// is nil). If nil, clock.Wall.
	Clock clock.Clock
	// OnThrottle, if set, is told of every deployment cooldown caused by a
	// 429, so that replicas of this region can share it. It must not
	// block.
	OnThrottle func(k routing.Key, wait time.Duration)
	// OnSharpChange, if set, is called when a local deployment is
	// throttled or fails, so that the node can publish its state to peers
	// at once rather than at their next fetch. It must not block.
	OnSharpChange func()
	// Receipts signs residency receipts for answers served in this region;
	// nil signs none (docs/receipts.md).
	Receipts *receipt.Issuer
}

// ErrNoAuthorizer is returned by New when Options.Authorizer is nil.
var ErrNoAuthorizer = errors.New("gateway: no authorizer (use gateway.AllowAll{} deliberately for a topology without policies)")

// Gateway is one region's request path. It is safe for concurrent use.
type Gateway struct {
	region     string
	geo        string
	cfg        *topology.Config
	catalog    atomic.Pointer[profile.Catalog]
	auth       *auth.Authenticator
	backends   map[string]Backend
	local      Executor
	link       Link
	authz      Authorizer
	routing    *Routing
	quota      Quota
	recorder   Recorder
	observer   Recorder
	metrics    *telemetry.Metrics
	log        *slog.Logger
	now        func() time.Time
	recordBody bool
	// defaultMaxTokens is the output a request without max_tokens is
	// expected to need, for token-aware routing.
	defaultMaxTokens int
	onThrottle       func(k routing.Key, wait time.Duration)
	onSharpChange    func()
	receipts         *receipt.Issuer
	// receiptPrincipals are the principals with receipts: true.
	receiptPrincipals map[string]bool
	// deploymentKeys are the quota keys of this region's deployments by
	// model (see deploymentKey), formatted once.
	deploymentKeys map[string]string
}

// New returns a Gateway for opts.Region. It fails when the region is not
// in the topology or opts.Authorizer is nil (ErrNoAuthorizer).
func New(opts Options) (*Gateway, error) {
	if opts.Config == nil {
		return nil, errors.New("gateway: no topology")
	}
	r, ok := opts.Config.Region(opts.Region)
	if !ok {
		return nil, fmt.Errorf("region %q is not in the topology", opts.Region)
	}
	if isNil(opts.Authorizer) {
		return nil, ErrNoAuthorizer
	}
	g := &Gateway{
		region: opts.Region, geo: r.Geography, cfg: opts.Config, auth: opts.Auth, backends: opts.Backends,
		link: opts.Link, authz: reusingDecisions(opts.Authorizer), routing: opts.Routing, recorder: opts.Recorder, observer: opts.Observer,
		metrics: opts.Metrics, log: opts.Logger, now: clock.Or(opts.Clock).Now, quota: opts.Quota,
		recordBody: opts.Config.Audit.RecordContent, defaultMaxTokens: opts.Config.Quota.DefaultMaxTokens,
		onThrottle: opts.OnThrottle, onSharpChange: opts.OnSharpChange,
	}
	g.receipts = opts.Receipts
	for _, p := range opts.Config.Principals {
		if p.Receipts {
			if g.receiptPrincipals == nil {
				g.receiptPrincipals = map[string]bool{}
			}
			g.receiptPrincipals[p.ID] = true
		}
	}
	g.deploymentKeys = map[string]string{}
	for _, d := range opts.Config.Deployments {
		if d.Region == g.region {
			g.deploymentKeys[d.Model] = d.Region + "/" + d.Model
		}
	}
	if g.defaultMaxTokens == 0 {
		g.defaultMaxTokens = DefaultMaxTokens
	}
	cat := opts.Catalog
	if cat == nil {
		var err error
		if cat, err = profile.New(opts.Config); err != nil {
			return nil, err
		}
	}
	g.catalog.Store(cat)
	if g.routing == nil {
		var err error
		if g.routing, err = NewRouting(opts.Config, opts.Region, opts.Clock); err != nil {
			return nil, err
		}
	}
	if g.metrics == nil {
		g.metrics = telemetry.NewMetrics(opts.Region)
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.auth == nil {
		var err error
		if g.auth, err = auth.New(opts.Config); err != nil {
			return nil, err
		}
	}
	g.local = localExecutor{g: g}
	return g, nil
}

// deploymentKey names this region's deployment of model for the quota:
// "region/model".
func (g *Gateway) deploymentKey(model string) string {
	if k, ok := g.deploymentKeys[model]; ok {
		return k
	}
	return g.region + "/" + model
}

// DefaultMaxTokens is the completion size a request without max_tokens is
// expected to need when the topology's quota.default_max_tokens is zero.
// It equals the quota package's default (a node test keeps them equal).
const DefaultMaxTokens = 1024

// countNotCallable counts a resolution refused because the profile is
// not callable from this region (meridian_profile_not_callable_total):
// the one metric that tells this refusal from a malformed body.
func (g *Gateway) countNotCallable(cat *profile.Catalog, model string, err error) {
	if errors.Is(err, profile.ErrNotCallable) {
		g.metrics.NotCallable.WithLabelValues(telemetry.ProfileLabel(cat, model)).Inc()
	}
}

// attemptCanceled is meridian_attempts_total's outcome for an attempt that
// ended because its caller hung up (not the destination's failure).
const attemptCanceled = "canceled"

// Region returns this node's region.
func (g *Gateway) Region() string { return g.region }

// Config returns the topology this node runs.
func (g *Gateway) Config() *topology.Config { return g.cfg }

// Catalog returns the current profile catalog.
func (g *Gateway) Catalog() *profile.Catalog { return g.catalog.Load() }

// SetCatalog replaces the profile catalog (application profiles created
// through the API, or received from peers).
func (g *Gateway) SetCatalog(c *profile.Catalog) { g.catalog.Store(c) }

// Authenticator returns the node's authenticator.
func (g *Gateway) Authenticator() *auth.Authenticator { return g.auth }

// Metrics returns the node's metrics.
func (g *Gateway) Metrics() *telemetry.Metrics { return g.metrics }

// Routing returns the node's routing state (the live view and the load
// exchange read and feed it).
func (g *Gateway) Routing() *Routing { return g.routing }

// Invoke serves a call that entered in this (the source) region. On error,
// the request has been recorded and the error is an *inference.Error for the
// front end to render.
func (g *Gateway) Invoke(ctx context.Context, call *Call) (*Outcome, error) {
	g.metrics.InFlight.Inc()
	if call.Request != nil {
		// Only the field of the body's own API asks for a tier.
		call.ServiceTier = call.ServiceTier.forDialect(call.Request.Dialect)
	}
	rec := g.newRecord(call, "source")
	if a, ok := g.recorder.(Admitter); ok {
		// Refuse work that could not be recorded (invariant 4).
		if err := a.Admit(); err != nil {
			return nil, g.fail(ctx, rec, err)
		}
	}
	if err := checkAmbiguous(call.Request); err != nil {
		return nil, g.fail(ctx, rec, err)
	}
	if err := call.ServiceTier.err(); err != nil {
		return nil, g.fail(ctx, rec, err)
	}
	if call.ServiceTier.Field != "" {
		call.Request.ServiceTier = call.ServiceTier.Tier
	}
	tier := tierOf(call.Request)
	rec.ServiceTier = tier.String()
	res, err := g.Catalog().Resolve(g.region, call.Request.Model)
	if err != nil {
		noteRefusal(rec, g.Catalog(), err)
		g.countNotCallable(g.Catalog(), call.Request.Model, err)
		return nil, g.fail(ctx, rec, resolveError(err, call.Request.Model))
	}
	rec.ProfileID, rec.ProfileARN, rec.Model = res.ProfileID, sourceARN(g.Catalog(), res, g.region), res.Model
	if err := g.checkMaxTokens(call.Operation, call.Request, res.Model); err != nil {
		return nil, g.fail(ctx, rec, err)
	}
	allowed, err := g.authz.AuthorizeInvoke(AuthzInput{Principal: call.Principal, Source: g.region, Resolution: res,
		Stream: call.Request.Stream, SourceIP: call.SourceIP, SecureTransport: call.SecureTransport, Now: g.now()})
	if err != nil {
		rec.Allowed, rec.DenyReason = false, inference.AsError(err).Message
		return nil, g.fail(ctx, rec, err)
	}
	if err := g.checkCapabilities(call.Request, res.Model, allowed); err != nil {
		return nil, g.fail(ctx, rec, err)
	}
	route := Route{RequestID: call.RequestID, SourceRegion: g.region, ProfileID: res.ProfileID, ProfileARN: res.ProfileARN, Model: res.Model}
	job := &Job{RequestID: call.RequestID, Operation: call.Operation, SourceRegion: g.region, ProfileID: res.ProfileID,
		ProfileARN: res.ProfileARN, Model: res.Model, Principal: call.Principal, Request: call.Request,
		SourceIP: call.SourceIP, SecureTransport: call.SecureTransport, MaxQueueWait: call.MaxQueueWait, Receipt: g.wantsReceipt(call)}
	var forwardedReceipt *receiptSlot
	if job.Receipt {
		forwardedReceipt = &receiptSlot{}
		job.OnReceipt = forwardedReceipt.set
	}
	var intent *streamIntent
	if call.Request.Stream {
		intent = &streamIntent{rec: rec}
	}
	out, err := g.execute(ctx, job, res.Destinations, allowed, &route, intent)
	rec.Attempts, rec.Route = route.Attempts, route.Reason
	if err != nil {
		return nil, g.fail(ctx, rec, err)
	}
	rec.InferenceRegion = route.InferenceRegion
	withSource(&route, g.now().Sub(rec.Started))
	rec.Overhead = route.Overhead
	out.Route = route
	// The tier the serving deployment's upstream was asked for: the
	// admitted tier, or default where the deployment does not declare it
	// (the queue and quota above used the caller's tier).
	served := g.servedTier(route.InferenceRegion, res.Model, tier)
	rec.ServiceTier = served.String()
	out.Header = withTier(out.Header, served)
	if out.Stream != nil {
		// Journaled before the first byte, or refused (invariant 4).
		if err := g.begin(ctx, intent, rec); err != nil {
			out.Stream.Close()
			return nil, g.fail(ctx, rec, err)
		}
		rs := g.recordingStream(ctx, out.Stream, rec, call.Request)
		g.streamReceipt(rs, job, route.InferenceRegion, forwardedReceipt)
		out.Stream = rs
		return out, nil
	}
	if err := g.succeed(ctx, rec, out.Response); err != nil {
		return nil, inference.AsError(err) // not recorded: not served
	}
	switch {
	case !job.Receipt:
		out.Response.Receipt = "" // nothing new for a client that did not ask
	case route.InferenceRegion == g.region:
		g.signResponse(ctx, rec, call.Operation, call.Request, out.Response)
	}
	return out, nil
}

// succeed records a request answered in full (non-streaming). An error
// means it could not be recorded, and the body must not be sent.
func (g *Gateway) succeed(ctx context.Context, rec *Record, resp *inference.Response) error {
	rec.Status, rec.Usage, rec.TTFT = 200, resp.Usage, g.now().Sub(rec.Started)
	if g.recordBody {
		rec.Completion = resp.Text()
	}
	return g.finishAnswer(ctx, rec, true)
}

// estimatedTokens is what routing and capacity count a request for before
// it runs: its prompt's estimate plus max_tokens, or the configured default
// when it sets none.
func (g *Gateway) estimatedTokens(req *inference.Request) int {
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = g.defaultMaxTokens
	}
	return inference.SaturatingAdd(req.EstimatedInputTokens(), maxTokens)
}

// execute plans the job's destinations and tries them in order until one
// serves it, failing over on retryable errors before the first byte
// (invariant 3) within the profile's attempt and deadline budget. When every
// destination is saturated it waits in the bounded admission queue.
//
// For a stream, each attempt journals the stream's intent (see
// streamIntent) while it runs; intent may be nil.
func (g *Gateway) execute(ctx context.Context, job *Job, destinations, allowed []string, route *Route, intent *streamIntent) (*Outcome, error) {
	tokens := g.estimatedTokens(job.Request)
	x := &execution{}
	x.req = routing.Request{SourceRegion: g.region, ProfileID: job.ProfileID, Model: job.Model, Destinations: destinations,
		Authorized: func(r string) bool { return slices.Contains(allowed, r) }, Capable: g.capable(job.Request, job.Model),
		EstimatedTokens: tokens, Seed: seedOf(job.RequestID)}
	req, plan := &x.req, &x.plan
	opts, err := g.plan(ctx, plan, req, job.MaxQueueWait, tierOf(job.Request))
	g.countExcluded(plan)
	if err != nil {
		return nil, err
	}
	cat := g.Catalog()
	var first time.Time
	var failures []string
	var skipped map[string]string
	var skipWait time.Duration // the soonest cooldown end of a destination skipped as unavailable
	var lastErr *inference.Error
	var refusal *inference.Error // the first destination's refusal to carry a field (inference.Error.Refused)
	attempts, refusals := 0, 0
	for _, c := range plan.Candidates() {
		if attempts >= opts.MaxAttempts || ctx.Err() != nil {
			break
		}
		if !first.IsZero() && g.now().Sub(first) >= opts.FailoverDeadline {
			break
		}
		// Invariant 1, checked again right before execution: nothing the
		// router or a peer said can move a request outside its profile.
		if err := cat.CheckDestination(job.ProfileID, job.SourceRegion, c.Region); err != nil {
			g.metrics.ResidencyRejections.WithLabelValues("source").Inc()
			g.log.ErrorContext(ctx, "router proposed a destination outside the profile; skipped", telemetry.AttrRequestID, job.RequestID, telemetry.AttrDestinationRegion, c.Region, telemetry.AttrError, err)
			continue
		}
		if !g.peerHealthy(c.Region) {
			skipped = g.addSkip(skipped, c.Region, skipNodeDown) // the link says the peer's node does not answer
			continue
		}
		key := routing.Key{Region: c.Region, Model: job.Model}
		att, err := g.routing.Tracker.Start(key, tokens)
		if err != nil {
			// Cooled down (another request's 429 or failure) or its probe
			// taken since the plan was made: the caller should come back
			// when the cooldown ends, as if the plan had seen it.
			why := skipUnavailable
			if st, ok := g.routing.Tracker.State(key); ok {
				wait := st.CooldownUntil.Sub(g.now())
				if wait > 0 && (skipWait == 0 || wait < skipWait) {
					skipWait = wait
				}
				if !st.Throttled {
					why = skipFailing
				}
			}
			skipped = g.addSkip(skipped, c.Region, why)
			continue
		}
		// Quota: the caller's limits here; the deployment's capacity here
		// when it runs here, else at the destination node.
		deployment := ""
		if c.Region == g.region {
			deployment = g.deploymentKey(job.Model)
		}
		res, err := g.admitQuota(ctx, job.Principal.ID, job, deployment)
		if err != nil {
			g.observe(att, routing.Outcome{Kind: routing.Canceled})
			if deploymentLimited(err) {
				skipped = g.addSkip(skipped, c.Region, skipAtCapacity)
				continue
			}
			return nil, err // the caller's own limit: no destination will do better
		}
		attempts++
		start := g.now()
		if first.IsZero() {
			first = start
		}
		j := x.attemptJob(attempts)
		*j = *job
		j.DestinationRegion = c.Region
		exec := g.executorFor(c.Region)
		var resp *inference.Response
		var stream inference.Stream
		if job.Request.Stream {
			intent.start(ctx, g, c.Region)
			stream, err = exec.Stream(ctx, j)
			intent.wait()
		} else {
			resp, err = exec.Complete(ctx, j)
		}
		took := g.now().Sub(start)
		if err == nil {
			x.addAttempt(route, Attempt{Region: c.Region, Outcome: "ok", Status: 200, Duration: took})
			g.metrics.Attempts.WithLabelValues(c.Region, "ok").Inc()
			x.overhead = *callOverhead(c.Region != g.region, took, j.Reported)
			route.Overhead = &x.overhead
			route.InferenceRegion = c.Region
			route.Reason = c.Reason.String()
			if len(failures) > 0 {
				route.Reason = "failover:" + failures[len(failures)-1]
			}
			g.metrics.RouteDecisions.WithLabelValues(telemetry.RouteLabel(route.Reason)).Inc()
			route.Reason += capabilityNote(plan)
			if stream != nil {
				if c.Region != g.region {
					// The destination bounds its backend's silences; this
					// bounds a silent node or link.
					stream = watchIdle(stream, g.routing.clock(), g.linkIdleTimeout(job.Model))
				}
				// The attempt lasts as long as the stream: in-flight counts,
				// the outcome and the real token usage are recorded when it
				// ends.
				x.out = Outcome{Stream: g.trackedStream(ctx, stream, att, took, res, job.Request), Header: rateHeaders(res)}
				return &x.out, nil
			}
			// Quota first, then the tracker: observing wakes a queued
			// request, which must find both capacity counters free, or it
			// is refused as at capacity although a slot just freed.
			settle(res, &resp.Usage)
			g.observe(att, outcomeOf(nil, took))
			x.out = Outcome{Response: resp, Header: rateHeaders(res)}
			return &x.out, nil
		}
		e := inference.AsError(err)
		settle(res, nil)
		g.observe(att, attemptOutcome(ctx, e, 0))
		x.addAttempt(route, Attempt{Region: c.Region, Outcome: e.Kind.String(), Status: e.Kind.Status(), Duration: took})
		if hungUp(ctx) {
			// The caller hung up: not the destination's failure, as the
			// health tracker sees it too.
			g.metrics.Attempts.WithLabelValues(c.Region, attemptCanceled).Inc()
		} else {
			g.metrics.Attempts.WithLabelValues(c.Region, e.Kind.String()).Inc()
		}
		lastErr = e
		if e.Refused() {
			// This deployment cannot express a field of a valid request:
			// another may, so try it; the first refusal is the answer
			// when none can.
			refusals++
			if refusal == nil {
				refusal = e
			}
		}
		if (!e.Kind.Retryable() && !e.Refused()) || ctx.Err() != nil {
			return nil, e
		}
		failures = append(failures, e.Kind.String()+":"+c.Region)
		g.metrics.Failovers.WithLabelValues(c.Region, nextRegion(plan.Candidates(), c.Region), e.Kind.String()).Inc()
		g.log.WarnContext(ctx, "destination failed before first byte", telemetry.AttrRequestID, job.RequestID, telemetry.AttrDestinationRegion, c.Region, telemetry.AttrError, e)
	}
	if ctx.Err() != nil {
		return nil, &inference.Error{Kind: inference.KindTimeout, Message: "request cancelled before a destination answered", Err: ctx.Err()}
	}
	if attempts == 0 {
		return nil, noCandidate(job.ProfileID, plan, skipped, skipWait)
	}
	if refusals == attempts {
		if e := noCandidate(job.ProfileID, plan, skipped, skipWait); e.Kind == inference.KindThrottled {
			// Another destination is only busy (full, or cooling down
			// after a 429) and may carry the field: the caller should come
			// back, told why the tried ones refused.
			e.Message += "; the regions tried cannot carry the request: " + refusal.Message
			return nil, e
		}
		// Every destination refused to carry a field: the caller's 400
		// naming it, not a 503 (retrying would not help).
		return nil, refusal
	}
	return nil, exhausted(job.ProfileID, route.Attempts, lastErr)
}

// execution holds what one execute keeps on the heap, allocated together
// rather than each on its own: the routing request and plan the router
// fills, the first attempt's job (handed to an executor), the first
// attempts, the served attempt's overhead and the outcome.
type execution struct {
	req      routing.Request
	plan     routing.Plan
	job      Job
	attempts [2]Attempt
	overhead Overhead
	out      Outcome
}

// attemptJob returns the job to hand the executor of attempt n (1 for the
// first): the execution's own for the first, a new one for each failover,
// since an executor that failed may still hold the job it was given.
func (x *execution) attemptJob(n int) *Job {
	if n == 1 {
		return &x.job
	}
	return new(Job)
}

// addAttempt appends a to the route's attempts, the first ones into the
// execution's array.
func (x *execution) addAttempt(route *Route, a Attempt) {
	if route.Attempts == nil {
		route.Attempts = x.attempts[:0]
	}
	route.Attempts = append(route.Attempts, a)
}

// plan plans req, waiting in the bounded admission queue while no
// destination can take it and the predicted wait fits the budget
// (admitQueued, in overload.go); it never hangs past the queue timeout.
func (g *Gateway) plan(ctx context.Context, plan *routing.Plan, req *routing.Request, callerWait time.Duration, tier inference.ServiceTier) (routing.Options, error) {
	return g.admitQueued(ctx, plan, req, callerWait, tier)
}

// Why a planned destination was skipped without an attempt.
const (
	skipNodeDown = "node-down"
	// skipUnavailable: cooled down after a 429, or its probe taken, since
	// the plan was made (another request got there first): full, not down.
	skipUnavailable = "unavailable"
	// skipFailing: the same after a failure: down, not full.
	skipFailing = "failing"
	// skipAtCapacity: the deployment's quota capacity is taken.
	skipAtCapacity = "at-capacity"
)

// countExcluded counts in meridian_destinations_skipped_total the
// destinations the plan left out for their state (circuit open, cooling
// down, saturated, out of rpm or tpm), not those the profile, policy,
// weights or the request's capabilities rule out.
func (g *Gateway) countExcluded(plan *routing.Plan) {
	for _, c := range plan.Excluded() {
		switch c.Exclusion {
		case routing.ExcludedCircuitOpen, routing.ExcludedProbeInFlight, routing.ExcludedCooldown,
			routing.ExcludedSaturated, routing.ExcludedRPM, routing.ExcludedTPM:
			g.metrics.Skipped.WithLabelValues(c.Region, c.Exclusion.String()).Inc()
		}
	}
}

func (g *Gateway) addSkip(m map[string]string, region, why string) map[string]string {
	g.metrics.Skipped.WithLabelValues(region, why).Inc()
	if m == nil {
		m = map[string]string{}
	}
	m[region] = why
	return m
}

// observe records an attempt's outcome and wakes a queued request. A
// throttle is also shared with the other replicas of this region.
func (g *Gateway) observe(a routing.Attempt, o routing.Outcome) {
	g.routing.Tracker.Observe(a, o)
	g.routing.Queue.Notify()
	if (o.Kind.Failure() || o.Kind == routing.Throttled) && a.Key.Region == g.region && g.onSharpChange != nil {
		g.onSharpChange()
	}
	if o.Kind == routing.Throttled && g.onThrottle != nil {
		wait := o.RetryAfter
		if st, ok := g.routing.Tracker.State(a.Key); ok && st.CooldownUntil.After(g.now()) {
			wait = st.CooldownUntil.Sub(g.now())
		}
		if wait > 0 {
			g.onThrottle(a.Key, wait)
		}
	}
}

func nextRegion(cands []routing.Candidate, after string) string {
	for i, c := range cands {
		if c.Region == after && i+1 < len(cands) {
			return cands[i+1].Region
		}
	}
	return ""
}

// exhausted builds the error returned when every candidate failed: 429 with
// the soonest Retry-After when they were all throttled, else 503.
func exhausted(profileID string, attempts []Attempt, last *inference.Error) *inference.Error {
	if last == nil {
		return &inference.Error{Kind: inference.KindUnavailable, Message: fmt.Sprintf("no region of %s can serve the request now", profileID)}
	}
	parts := make([]string, len(attempts))
	throttled, timedOut := true, true
	for i, a := range attempts {
		parts[i] = a.Region + " " + a.Outcome
		if a.Outcome == inference.KindInvalidRequest.String() {
			// A refusal (the only invalid_request that fails over): the
			// others' outcomes decide between 429, 408 and 503.
			continue
		}
		if a.Outcome != inference.KindThrottled.String() {
			throttled = false
		}
		if a.Outcome != inference.KindTimeout.String() {
			timedOut = false
		}
	}
	e := &inference.Error{Kind: inference.KindUnavailable, RetryAfter: last.RetryAfter, Err: last,
		Message: fmt.Sprintf("no region of %s could serve the request (%s)", profileID, strings.Join(parts, ", "))}
	if last.Unfit {
		// Why the last destination was not tried is the caller's to know
		// (it names a region and what the request uses, nothing secret).
		e.Message += ": " + last.Message
	}
	switch {
	case throttled:
		e.Kind = inference.KindThrottled
		if e.RetryAfter == 0 {
			e.RetryAfter = time.Second
		}
	case timedOut:
		// Every destination's model failed to answer in time: 408 (Bedrock's
		// ModelTimeoutException), not a generic 503.
		e.Kind = inference.KindTimeout
	}
	return e
}

func (g *Gateway) executorFor(region string) Executor {
	if region == g.region || g.link == nil {
		return g.local
	}
	return g.link.Executor(region)
}

func (g *Gateway) peerHealthy(region string) bool {
	if region == g.region {
		return true
	}
	return g.link != nil && g.link.PeerHealthy(region)
}

// resolveError maps profile resolution errors to client errors. The
// messages quote name, the caller's model field, only clipped.
func resolveError(err error, name string) *inference.Error {
	switch {
	case errors.Is(err, profile.ErrNotFound):
		return &inference.Error{Kind: inference.KindNotFound, Code: "model_not_found", Param: "model", Message: clipEcho(trimSentinel(err, profile.ErrNotFound), name)}
	case errors.Is(err, profile.ErrNotCallable), errors.Is(err, profile.ErrInvalidARN):
		return &inference.Error{Kind: inference.KindInvalidRequest, Code: "profile_not_callable_here", Param: "model", Message: clipEcho(err.Error(), name)}
	}
	return inference.AsError(err)
}

// maxMessage bounds any client error message, whatever it quotes.
const maxMessage = 2048

// clipEcho replaces the caller's value in msg, quoted or not, by its clipped
// form, and bounds msg as a whole: error messages never echo unbounded
// caller input.
func clipEcho(msg, value string) string {
	if len(value) > inference.EchoLimit {
		clipped := inference.Clip(value, inference.EchoLimit)
		msg = strings.ReplaceAll(msg, strconv.Quote(value), strconv.Quote(clipped))
		msg = strings.ReplaceAll(msg, value, clipped)
	}
	return inference.Clip(msg, maxMessage)
}

func trimSentinel(err, sentinel error) string {
	msg := err.Error()
	if m, ok := strings.CutPrefix(msg, sentinel.Error()+": "); ok {
		return "inference profile not found: " + m
	}
	return msg
}

func (g *Gateway) newRecord(call *Call, side string) *Record {
	started := call.Received
	if started.IsZero() {
		started = g.now()
	}
	rec := &Record{RequestID: call.RequestID, Operation: call.Operation, Side: side,
		PrincipalID: call.Principal.ID, AuthMethod: call.Principal.Method.String(), KeyID: call.Principal.KeyID,
		SourceIP: call.SourceIP, UserAgent: call.UserAgent, SourceRegion: g.region, Allowed: true,
		Started: started}
	if call.Request != nil {
		rec.Stream, rec.RequestedModel = call.Request.Stream, boundedModel(call.Request.Model)
		if t, ok := inference.ParseServiceTier(string(call.Request.ServiceTier)); ok {
			rec.ServiceTier = t.String() // a forwarded job's tier, checked again
		}
		rec.RequestMetadata = call.Request.Metadata
		if g.recordBody {
			rec.Prompt = call.Request.PromptMessages()
		}
	}
	if call.ServiceTier.Field != "" && call.ServiceTier.Invalid == "" {
		rec.ServiceTier = call.ServiceTier.Tier.String() // what the caller asked for, even if refused early
	}
	return rec
}

// fail records a failed request and returns its client error.
func (g *Gateway) fail(ctx context.Context, rec *Record, err error) *inference.Error {
	e := inference.AsError(err)
	rec.Status, rec.ErrorCode = statusOf(e), e.Kind.String()
	if hungUp(ctx) {
		// The caller went away before an answer: what failed is the
		// connection, not the request or a deployment.
		rec.ErrorCode = errClientClosed
	}
	e.Message = inference.Clip(e.Message, maxMessage)
	if e.Kind == inference.KindPermissionDenied {
		rec.Allowed = false
		if rec.DenyReason == "" {
			rec.DenyReason = e.Message
		}
		noteDenial(rec, err)
	}
	// Recorded first: the node's trace-claim recorder withdraws the trace
	// id of a refusal whose span is not exported, and the denial's log
	// line must not name it either.
	g.finish(ctx, rec)
	if !rec.Allowed {
		g.logDenial(ctx, rec)
	}
	return e
}

// Reject records a request that a front end refused before it reached the
// gateway's path (bad credentials, malformed body), so that every request
// leaves a record (invariant 4).
func (g *Gateway) Reject(ctx context.Context, call *Call, err error) *inference.Error {
	g.metrics.InFlight.Inc()
	rec := g.newRecord(call, "source")
	return g.fail(ctx, rec, err)
}

// finish writes metrics and the record of a finished request, and returns
// the recorder's error.
func (g *Gateway) finish(ctx context.Context, rec *Record) error {
	return g.finishAnswer(ctx, rec, false)
}

// finishAnswer is finish for a request whose answer waits on its record:
// when withheld is set and the record cannot be written, the caller is
// answered with the recorder's error instead (see succeed), and the
// metrics count that status, not the 200 that was never sent.
func (g *Gateway) finishAnswer(ctx context.Context, rec *Record, withheld bool) (err error) {
	g.metrics.InFlight.Dec()
	rec.Latency = g.now().Sub(rec.Started)
	// The record must not be lost because the client went away. One
	// detached context serves the recorder and the observers.
	dctx := context.WithoutCancel(ctx)
	if g.recorder != nil {
		if err = g.recorder.Record(dctx, rec); err != nil {
			g.logUnrecorded(dctx, rec, err)
		}
	}
	g.observeDetached(ctx, dctx, rec)
	sent := rec.Status
	if err != nil && withheld {
		sent = statusOf(inference.AsError(err))
	}
	status := statusLabel(sent)
	label := telemetry.ProfileLabel(g.Catalog(), rec.ProfileID)
	if rec.Side == "destination" {
		g.metrics.Forwarded.WithLabelValues(rec.SourceRegion, label, status).Inc()
	} else {
		g.metrics.Requests.WithLabelValues(rec.SourceRegion, rec.InferenceRegion, label, status).Inc()
		g.metrics.Duration.WithLabelValues(rec.SourceRegion, label, telemetry.StatusClass(sent)).Observe(rec.Latency.Seconds())
		if sent == 200 && rec.TTFT > 0 {
			g.metrics.TTFT.WithLabelValues(rec.SourceRegion, rec.InferenceRegion, label).Observe(rec.TTFT.Seconds())
		}
		observeTier(g.metrics, rec, sent)
		if sent == 200 {
			g.observeOverhead(rec.Overhead)
		}
	}
	// Debug, not Info: the audit trail already records every request, and
	// a formatted line per request cost about 8 allocations and 3% of the
	// node's CPU at load (docs/performance.md). The Enabled check skips boxing the
	// attributes when debug logs are off.
	if g.log.Enabled(ctx, slog.LevelDebug) {
		g.log.DebugContext(ctx, "request finished", telemetry.AttrRequestID, rec.RequestID, telemetry.AttrPrincipal, rec.PrincipalID,
			telemetry.AttrProfile, rec.ProfileID, telemetry.AttrSourceRegion, rec.SourceRegion,
			telemetry.AttrDestinationRegion, rec.InferenceRegion, telemetry.AttrRoute, rec.Route,
			telemetry.AttrStatus, sent, telemetry.AttrDuration, rec.Latency, "side", rec.Side, "service_tier", rec.ServiceTier)
	}
	return err
}

// statusLabels are the status label values of the codes HTTP defines,
// made once: strconv.Itoa allocates for any number above 99, so once per
// request for every metric labelled with its status.
var statusLabels = func() (l [600]string) {
	for c := 100; c < len(l); c++ {
		l[c] = strconv.Itoa(c)
	}
	return l
}()

// statusLabel returns code in decimal, without allocating for codes in
// [100, 600).
func statusLabel(code int) string {
	if code >= 100 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

// isNil reports whether a is nil or a typed nil pointer: an Authorizer
// holding a nil *PolicyAuthorizer must be refused like a nil one.
func isNil(a Authorizer) bool {
	if a == nil {
		return true
	}
	v := reflect.ValueOf(a)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
