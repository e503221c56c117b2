package node

import (
	"context"
	"errors"
	"fmt"
	"github.com/meridian-gateway/meridian/internal/clock"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/api/bedrock"
	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/telemetry"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// Reload results, the values of meridian_config_reloads_total's label.
const (
	ReloadOK              = "ok"
	ReloadUnchanged       = "unchanged"
	ReloadInvalid         = "invalid"
	ReloadRestartRequired = "restart_required"
	ReloadFailed          = "failed"
)

// ErrRestartRequired marks a reload refused because the new topology
// changes something a running node cannot change (see [topology.Compare]).
var ErrRestartRequired = errors.New("restart required")

// generation is everything a node builds from one topology: the gateway
// (catalog, principals, policies, admission limits, routing configuration),
// the backends of this region's deployments and the front ends. A reload
// builds a new generation and swaps it in; requests that entered the old
// one finish on it (its catalog, its destinations, its backends), and it is
// retired once the last of them has ended.
type generation struct {
	cfg      *topology.Config
	gw       *gateway.Gateway
	backends map[string]backend.Backend
	bedrock  *bedrock.Handler
	// policies are cfg's policies compiled once: the gateway's, the
	// Bedrock control plane's and the console's (mayViewTraffic).
	policies *gateway.PolicyAuthorizer
	// unfeed stops keeping gw's catalog in step with the registry.
	unfeed func()
	// client is the client listener's handler for this generation.
	client http.Handler

	inflight atomic.Int64
	retired  atomic.Bool
	once     sync.Once
	drained  chan struct{}
}

// leave ends a request that entered g.
func (g *generation) leave() {
	if g.inflight.Add(-1) == 0 && g.retired.Load() {
		g.once.Do(func() { close(g.drained) })
	}
}

// retire marks g replaced; drained closes once no request is in it.
func (g *generation) retire() {
	g.retired.Store(true)
	if g.inflight.Load() == 0 {
		g.once.Do(func() { close(g.drained) })
	}
}

// enter returns the current generation with a request counted in it. A
// generation retired between the load and the count is left again, so a
// retired generation never gains requests after it drained.
func (n *Node) enter() *generation {
	for {
		g := n.gen.Load()
		g.inflight.Add(1)
		if !g.retired.Load() {
			return g
		}
		g.leave()
	}
}

// current returns the generation new requests enter.
func (n *Node) current() *generation { return n.gen.Load() }

// gateway returns the current generation's gateway.
func (n *Node) gateway() *gateway.Gateway { return n.gen.Load().gw }

// config returns the topology in force.
func (n *Node) config() *topology.Config { return n.gen.Load().cfg }

type generationKey struct{}

// serveClient serves a client request on the current generation.
func (n *Node) serveClient(w http.ResponseWriter, r *http.Request) {
	g := n.enter()
	defer g.leave()
	n.serveObserved(r.Context(), w, r, g.client)
}

// serveObserved serves r with h, and lets the observers hear of the
// request once its answer is out (see gateway.Observing): the handler
// returns without waiting for them (AfterAnswer.RunLater hands them to the
// node's observing worker), so that the answer ends (a chunked answer's
// last chunk, an HTTP/2 stream's end) and the connection reads its next
// request without waiting for the metrics, traces and live view.
//
// ctx is r's context, or one derived from it with values of its own (one
// copy of the request carries both).
//
// When the worker cannot take them (its queue is full, the node is
// shutting down), the observers run here, after an answer that a flush
// completes is flushed, so that its client still need not wait for them.
//
// The hand-over comes before net/http's flush of the answer. Flushing
// first (so that waking the worker would follow the answer onto the wire)
// was measured slower, not faster, on a 2-core host: docs/performance.md,
// "Own steps of a local request".
func (n *Node) serveObserved(ctx context.Context, w http.ResponseWriter, r *http.Request, h http.Handler) {
	ctx, after := n.observing.Begin(ctx)
	handed := false
	defer func() {
		if !handed {
			after.Run() // even if h panics: readers wait for it
		}
	}()
	h.ServeHTTP(w, r.WithContext(ctx))
	if handed = after.HandOver(); !handed && after.Pending() && flushFirst(w, r) {
		http.NewResponseController(w).Flush()
	}
}

// flushFirst reports whether w's buffered bytes should be flushed before
// the observers run in the handler: when that gives the client the whole
// answer (over HTTP/1 with a Content-Length), and for an event stream,
// whose last events (a Chat stream's [DONE], written without a flush of
// its own to end with the body in one write) the client reads as the
// stream's end even before the chunked end or the HTTP/2 stream's close,
// which come only once the handler returns.
func flushFirst(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	return r.ProtoMajor == 1 && h.Get("Content-Length") != "" || strings.HasPrefix(h.Get("Content-Type"), "text/event-stream")
}

// trackLink counts a link request (a forwarded job, a state fetch) in the
// current generation, which serves it.
func (n *Node) trackLink(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := n.enter()
		defer g.leave()
		n.serveObserved(context.WithValue(r.Context(), generationKey{}, g), w, r, h)
	})
}

// forwardedLocal serves forwarded jobs on the generation the link request
// entered: the destination's residency and authorization re-checks use the
// topology in force when the job arrived (invariant 1).
type forwardedLocal struct{ n *Node }

// ServeForwarded implements interregion.Local.
func (f forwardedLocal) ServeForwarded(ctx context.Context, job *gateway.Job) (*gateway.Outcome, error) {
	g, ok := ctx.Value(generationKey{}).(*generation)
	if !ok {
		g = f.n.current()
	}
	return g.gw.ServeForwarded(f.n.otel.Forwarded(ctx, job.TraceParent), job)
}

// RefuseForwarded implements interregion.Refuser, on the generation the
// link request entered.
func (f forwardedLocal) RefuseForwarded(ctx context.Context, job *gateway.Job, residency bool, err *inference.Error) *inference.Error {
	g, ok := ctx.Value(generationKey{}).(*generation)
	if !ok {
		g = f.n.current()
	}
	if job != nil {
		// The source's trace, as ServeForwarded continues it: the
		// refusal's event and log lines name it too.
		ctx = f.n.otel.Forwarded(ctx, job.TraceParent)
	}
	return g.gw.RefuseForwarded(ctx, job, residency, err)
}

// newGeneration builds the request path for cfg. prev, when set, is the
// generation it replaces: backends of unchanged deployments and the routing
// state (health, load, cooldowns, RTTs) carry over.
func (n *Node) newGeneration(cfg *topology.Config, prev *generation) (_ *generation, err error) {
	region := n.region.ID
	g := &generation{cfg: cfg, drained: make(chan struct{})}
	cat, err := profile.New(cfg)
	if err != nil {
		return nil, err
	}
	authn, err := auth.New(cfg)
	if err != nil {
		return nil, err
	}
	if n.clientChainCheck != nil {
		authn.SetClientChainCheck(n.clientChainCheck)
	}
	var reused map[string]backend.Backend
	if prev != nil {
		reused = reusableBackends(prev.cfg, cfg, region, prev.backends)
	}
	g.backends, err = buildBackends(withoutDeployments(cfg, region, reused), region, n.opts.Getenv, n.clock)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			for m, b := range g.backends {
				if _, shared := reused[m]; !shared {
					b.Close()
				}
			}
		}
	}()
	maps.Copy(g.backends, reused)
	policies, err := gateway.NewPolicyAuthorizer(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.File, err)
	}
	g.policies = policies
	// A topology without policies is single-tenant: its gateway allows
	// every authenticated principal everything, deliberately and said so
	// at start, never by a nil authorizer (which gateway.New refuses).
	var authz gateway.Authorizer = policies
	if policies.AllowsAll() {
		authz = gateway.AllowAll{}
		n.log.Warn("the topology defines no policies: every authenticated principal may invoke every profile")
	}
	var rt *gateway.Routing
	if prev != nil {
		if rt, err = carryRouting(prev.gw.Routing(), prev.cfg, cfg, region, n.clock); err != nil {
			return nil, fmt.Errorf("%s: routing: %w", cfg.File, err)
		}
	}
	var q gateway.Quota
	if n.limiter != nil {
		q = newQuotaReserver(cfg, n.limiter)
	}
	var onThrottle func(routing.Key, time.Duration)
	if cfg.Quota.Store == "redis" {
		// Replicas of a region share cooldowns through the quota store: a
		// 429 seen by one cools the deployment for all.
		onThrottle = n.shareCooldown
	}
	backends := make(map[string]gateway.Backend, len(g.backends))
	for m, b := range g.backends {
		backends[m] = b
	}
	g.gw, err = gateway.New(gateway.Options{Region: region, Config: cfg, Catalog: cat, Auth: authn, Backends: n.otel.Backends(backends), Routing: rt,
		Link: n.otel.Link(n.link), Authorizer: authz, Quota: q, Recorder: n.recorders, Observer: n.observers, Metrics: n.metrics, Logger: n.log.With(telemetry.AttrComponent, "gateway"),
		OnThrottle: onThrottle, OnSharpChange: n.pushState, Receipts: n.receiptIssuer(), Clock: n.clock})
	if err != nil {
		return nil, err
	}
	// The Bedrock front end manages the node's application profiles; they
	// travel with the published link state to every region.
	sv := cfg.Server.SigV4
	var replicas bedrock.Peers
	if n.profileSync != nil {
		replicas = replicaPeers{n.profileSync}
	}
	g.bedrock = bedrock.New(g.gw, bedrock.Options{MaxRequestBytes: cfg.Server.MaxRequestBytesOrDefault(), Profiles: n.profiles, Peers: replicas,
		Authorizer:   bedrock.PolicyAuthorizer{P: policies}, // compiled once, above
		SigV4Options: auth.SigV4Options{MaxSkew: sv.MaxSkew.D(), AllowPresigned: sv.AllowPresigned, AllowUnsignedPayload: sv.AllowUnsignedPayload},
		Getenv:       n.opts.Getenv, Logger: n.log.With(telemetry.AttrComponent, "bedrock"), Clock: n.clock})
	g.client = n.clientHandler(g)
	// Every generation serves the node's one registry: nothing to carry
	// over in a swap.
	g.unfeed = n.feedCatalog(g.gw, cat)
	n.trackBackends(g.backends)
	return g, nil
}

// reusableBackends returns prev's backends of this region's deployments
// that next keeps unchanged (same backend and capacity).
func reusableBackends(prev, next *topology.Config, region string, backends map[string]backend.Backend) map[string]backend.Backend {
	out := map[string]backend.Backend{}
	for _, d := range next.DeploymentsIn(region) {
		if old, ok := prev.Deployment(region, d.Model); ok && reflect.DeepEqual(old, d) && backends[d.Model] != nil {
			out[d.Model] = backends[d.Model]
		}
	}
	return out
}

// withoutDeployments returns cfg without region's deployments of the models
// in skip (their backends exist already).
func withoutDeployments(cfg *topology.Config, region string, skip map[string]backend.Backend) *topology.Config {
	c := *cfg
	c.Deployments = slices.DeleteFunc(slices.Clone(cfg.Deployments), func(d topology.Deployment) bool {
		_, ok := skip[d.Model]
		return d.Region == region && ok
	})
	return &c
}

// carryRouting builds the routing state for next from prev's. The tracker
// (health, circuits, cooldowns, load learned from peers) is kept whole when
// the deployments are unchanged; otherwise a new one tracks next's
// deployments and the cooldowns of those that remain carry over (their
// load is learned again from the next peer snapshots). RTTs are kept:
// regions do not change on a running node.
func carryRouting(prev *gateway.Routing, prevCfg, next *topology.Config, region string, clk clock.Clock) (*gateway.Routing, error) {
	rc, err := next.RoutingConfig()
	if err != nil {
		return nil, err
	}
	deps := next.RoutingDeployments()
	tracker := prev.Tracker
	if !slices.Equal(prevCfg.RoutingDeployments(), deps) {
		if tracker, err = routing.NewTracker(routing.TrackerConfig{Region: region, Deployments: deps}, clk); err != nil {
			return nil, err
		}
		now := clk.Now()
		for _, d := range deps {
			if st, ok := prev.Tracker.State(d.Key); ok && st.CooldownUntil.After(now) {
				tracker.CoolDown(d.Key, st.CooldownUntil, st.Throttled)
			}
		}
	}
	qmax, qtimeout := rc.QueueLimits()
	queue := prev.Queue
	if prc, err := prevCfg.RoutingConfig(); err != nil || prc.Queue != rc.Queue {
		queue = routing.NewQueue(qmax, clk)
	}
	return &gateway.Routing{Router: &routing.Router{Config: rc, Tracker: tracker, RTT: prev.RTT},
		Tracker: tracker, RTT: prev.RTT, Queue: queue, QueueTimeout: qtimeout}, nil
}

// trackBackends remembers every backend built, so that Shutdown closes
// those of generations that never drained.
func (n *Node) trackBackends(bs map[string]backend.Backend) {
	n.backendsMu.Lock()
	defer n.backendsMu.Unlock()
	if n.allBackends == nil {
		n.allBackends = map[backend.Backend]bool{}
	}
	for _, b := range bs {
		n.allBackends[b] = true
	}
}

// closeBackends closes every backend not closed yet.
func (n *Node) closeBackends() {
	n.backendsMu.Lock()
	defer n.backendsMu.Unlock()
	for b := range n.allBackends {
		b.Close()
		delete(n.allBackends, b)
	}
}

// closeRetired closes prev's backends that next does not use, once prev's
// last request has ended (removed deployments drain), or at shutdown.
func (n *Node) closeRetired(ctx context.Context, prev, next *generation) {
	select {
	case <-prev.drained:
	case <-ctx.Done():
		return // Shutdown closes whatever is left
	}
	prev.unfeed()
	keep := map[backend.Backend]bool{}
	for _, b := range n.current().backends {
		keep[b] = true
	}
	n.backendsMu.Lock()
	defer n.backendsMu.Unlock()
	for model, b := range prev.backends {
		if !keep[b] && n.allBackends[b] {
			b.Close()
			delete(n.allBackends, b)
			n.log.Info("backend of a removed or changed deployment closed", "model", model)
		}
	}
}

// Reload switches the node to cfg, which must be a topology of the same
// file: cfg is validated in full, compared with the running topology
// ([topology.Compare]), and swapped in atomically. Requests already
// admitted finish under the topology they entered with, so a request is
// never served outside the destination set it was routed under; the next
// request after Reload returns sees cfg. Routing state of deployments that
// remain is kept. On any problem the running topology is kept and the
// error says why, with field paths (a *topology.ValidationError, also
// wrapping [ErrRestartRequired] when only a restart can apply it).
// Every call is logged and counted in meridian_config_reloads_total.
func (n *Node) Reload(cfg *topology.Config) error {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	result, change, err := n.reload(cfg)
	if errors.Is(err, errReloadDraining) {
		// The node is about to exit: not a topology it keeps running,
		// so the last-reload gauge (and its alert) is left as it was.
		n.reloads.WithLabelValues(result).Inc()
	} else {
		n.reloads.count(result)
	}
	file := cfg.File
	switch result {
	case ReloadOK:
		n.log.Info("topology reloaded", append([]any{"file", file}, change.LogAttrs()...)...)
		logNotes(n.log, cfg)
	case ReloadUnchanged:
		n.log.Info("topology reloaded; nothing changed", "file", file)
	default:
		n.log.Error("topology reload refused; the running topology is kept", "file", file, "result", result, telemetry.AttrError, err)
	}
	return err
}

// errReloadDraining refuses a reload during the drain.
var errReloadDraining = errors.New("the node is draining")

func (n *Node) reload(cfg *topology.Config) (string, topology.Change, error) {
	if n.draining.Load() {
		return ReloadFailed, topology.Change{}, errReloadDraining
	}
	if err := cfg.Validate(); err != nil {
		return ReloadInvalid, topology.Change{}, err
	}
	prev := n.current()
	change, err := topology.Compare(prev.cfg, cfg, n.region.ID)
	if err != nil {
		return ReloadRestartRequired, change, fmt.Errorf("%w: %w", ErrRestartRequired, err)
	}
	if change.Empty() {
		return ReloadUnchanged, change, nil
	}
	next, err := n.newGeneration(cfg, prev)
	if err != nil {
		return ReloadFailed, change, err
	}
	n.gen.Store(next)
	prev.retire()
	n.wg.Add(1)
	n.retiring.Add(1)
	go func() { defer n.wg.Done(); defer n.retiring.Done(); n.closeRetired(n.life, prev, next) }()
	n.pushState()
	return ReloadOK, change, nil
}

// ReloadFile reads, validates and applies the topology file at path
// (SIGHUP). See [Node.Reload].
func (n *Node) ReloadFile(path string) error {
	cfg, err := topology.Load(path)
	if err != nil {
		n.reloads.count(ReloadInvalid)
		n.log.Error("topology reload refused; the running topology is kept", "file", path, "result", ReloadInvalid, telemetry.AttrError, err)
		return err
	}
	return n.Reload(cfg)
}

// reloadCounter counts reloads by result (meridian_config_reloads_total)
// and says whether the last one was applied
// (meridian_config_last_reload_successful).
type reloadCounter struct {
	*prometheus.CounterVec
	applied prometheus.Gauge
}

// count records a reload's result. A reload that was not applied (invalid,
// restart_required, failed) leaves the node running a topology other than
// its file's: the gauge stays 0 until a reload is applied, or finds
// nothing to change (the file is back to what runs), or the node restarts
// (which loads the file), so an alert on it keeps firing as long as that
// lasts, not just for a window after the reload.
func (c reloadCounter) count(result string) {
	c.WithLabelValues(result).Inc()
	if result == ReloadOK || result == ReloadUnchanged {
		c.applied.Set(1)
	} else {
		c.applied.Set(0)
	}
}

// newReloadCounter registers meridian_config_reloads_total and
// meridian_config_last_reload_successful; reg adds the region label.
func newReloadCounter(reg prometheus.Registerer) reloadCounter {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_config_reloads_total",
		Help: "Topology reloads by result: ok, unchanged, invalid, restart_required, failed."}, []string{"result"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "meridian_config_last_reload_successful",
		Help: "1 while the node runs the topology its file held at the last reload (or at start); 0 after a reload that was not applied (invalid, restart_required, failed), until a reload applies or finds nothing to change, or the node restarts."})
	reg.MustRegister(c, g)
	// Every result exists from the start at 0, so that increase() sees the
	// first failed reload.
	for _, r := range []string{ReloadOK, ReloadUnchanged, ReloadInvalid, ReloadRestartRequired, ReloadFailed} {
		c.WithLabelValues(r)
	}
	g.Set(1) // the topology was loaded from the file at start
	return reloadCounter{CounterVec: c, applied: g}
}

// BeginDrain turns /readyz to 503 while the listeners keep serving, so
// load balancers stop sending new work before the listeners close (the
// grace of server.drain_grace, see [Node.Run]). Reloads are refused from
// then on.
func (n *Node) BeginDrain() {
	if !n.stopReloads() {
		n.log.Info("node draining: /readyz answers 503; listeners close after the grace")
	}
}

// stopReloads marks the node draining once no reload is under way, so that
// no reload starts a goroutine while Shutdown waits for them. It reports
// whether the node was draining already.
func (n *Node) stopReloads() bool {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	return n.draining.Swap(true)
}

// The adapters the node wires into the gateway (docs/architecture.md,
// "Package map"): the link forwards, the audit trail records, and
// forwarded jobs reach the generation's gateway.
var (
	_ gateway.Link        = (*interregion.Client)(nil)
	_ gateway.Recorder    = audit.Recorder{}
	_ gateway.Backend     = backend.Backend(nil)
	_ interregion.Local   = forwardedLocal{}
	_ interregion.Refuser = forwardedLocal{}
)

// logNotes logs what validation noted of cfg without refusing it (e.g. a
// policy naming a Bedrock action Meridian never authorizes), once per
// load that took effect, as config validate prints it.
func logNotes(log *slog.Logger, cfg *topology.Config) {
	for _, note := range cfg.Notes() {
		log.Warn("topology note", "note", note.Error())
	}
}
