package node

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/api/anthropic"
	"github.com/meridian-gateway/meridian/internal/api/openai"
	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/profilestore"
	"github.com/meridian-gateway/meridian/internal/quota"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/telemetry"
	"github.com/meridian-gateway/meridian/internal/telemetry/otel"
	"github.com/meridian-gateway/meridian/internal/topology"
	"github.com/meridian-gateway/meridian/internal/ui"
)

// Options configure a node.
type Options struct {
	Config *topology.Config
	Region string
	// Listen and Link override the region's addresses from the topology
	// (several replicas of one region on one host).
	Listen, Link string
	// ClientListener and LinkListener, when set, are used instead of
	// binding the addresses (tests pre-bind random ports).
	ClientListener, LinkListener net.Listener
	// OpsListen overrides server.ops_listen; OpsListener, when set, is
	// used instead of binding it.
	OpsListen   string
	OpsListener net.Listener
	// AuditDir overrides the topology's audit.dir: each replica of a region
	// keeps its own hash chain, so replicas need their own directories.
	AuditDir string
	// AuditOptions are the audit writer's test seams (its clock and file
	// system); the node sets the logger. The zero value is production's.
	AuditOptions audit.Options
	// DataDir overrides the topology's server.data_dir, where the node keeps
	// its copy of the application profiles (replicas on one host need
	// their own; with a Redis quota store they share the profiles there).
	DataDir string
	// Dev allows development-only settings such as insecure_dev_link.
	Dev    bool
	Logger *slog.Logger
	// Getenv reads secrets' environment variables. If nil, os.Getenv.
	Getenv func(string) string
	// Demo is set by `meridian demo` only: the console's operator actions
	// (take a region down, throttle it, restore it) act through it.
	Demo ui.DemoControl
	// Clock is the node's one source of time: request timestamps, timers,
	// tickers, certificate validity, receipts, and the audit writer and
	// quota limiter unless AuditOptions.Clock or QuotaClock is set. If nil,
	// clock.Wall; cmd/ passes clock.Wall.
	Clock clock.Clock
	// QuotaClock times the quota limiter: its windows and its probes of a
	// store that is down. If nil, Clock. Tests set a manual one.
	QuotaClock quota.Clock
	// Observer, if set, hears of every finished request after the node's
	// own observers, once its answer is out (an embedding program's own
	// metrics; see gateway.Observing). It must not block for long: a
	// request's connection waits for it.
	Observer gateway.Recorder
}

// Node is one region's running Meridian node.
type Node struct {
	opts Options
	// clock is opts.Clock, or clock.Wall.
	clock clock.Clock
	// cfg is the topology the node started with. Only settings that need a
	// restart (regions, link, quota, audit, listeners) are read from it;
	// the topology in force is n.config().
	cfg     *topology.Config
	region  topology.Region
	log     *slog.Logger
	metrics *telemetry.Metrics
	// gen is the generation of the request path in force (see reload.go);
	// a reload swaps it.
	gen atomic.Pointer[generation]
	// reloadMu serialises reloads; reloads counts them by result.
	reloadMu sync.Mutex
	reloads  reloadCounter
	// recorders receive every finished request before its answer (the
	// audit trail), observers once it is out (the live view, OpenTelemetry),
	// whatever the generation; observing orders the observations put off
	// with the observers' readers (see gateway.Observing).
	recorders gateway.Recorders
	observers gateway.Recorders
	observing *gateway.Observing
	// clientChainCheck re-checks client certificate chains (client CA).
	clientChainCheck func([]*x509.Certificate) error
	// retiring counts the goroutines closing retired generations'
	// backends (closeRetired); tests wait for them.
	retiring sync.WaitGroup
	// sharing counts the goroutines publishing a cooldown to the shared
	// store (shareCooldown); tests wait for them.
	sharing sync.WaitGroup
	// pushing counts the goroutines pushing this node's state to its peers
	// (pushState); tests wait for them.
	pushing sync.WaitGroup
	// allBackends holds every backend not yet closed, of any generation.
	backendsMu  sync.Mutex
	allBackends map[backend.Backend]bool
	// life ends when the node shuts down.
	life    context.Context
	endLife context.CancelFunc
	link    *interregion.Client
	// profiles is the registry of API-created application profiles; it
	// outlives generations (profiles.go).
	profiles *profilestore.Registry
	// refused remembers the peers' records already logged as refused.
	refused refusedRecords
	// profileSync asks for an immediate profile sync with the other
	// replicas (nil without a shared store).
	profileSync chan struct{}
	// clientCerts serves and reloads the client listener's certificate;
	// nil without regions[].tls.
	clientCerts *pki.ServingStore
	// linkStore serves and reloads the link's certificates; nil only with
	// insecure_dev_link.
	linkStore  *pki.Store
	rejections *envelope.Rejections
	// audit is the node's audit trail writer; nil when disabled.
	audit *audit.Writer
	// limiter admits requests against quotas and capacity.
	limiter *quota.Limiter
	// mismatch maps a peer region to whether its residency digest differs
	// (reported: see checkTopology).
	mismatch sync.Map
	// digests is checkTopology's memory of recent changes.
	digests digestChanges
	// lastPush is when the state was last pushed to peers (UnixNano).
	lastPush atomic.Int64
	// live is the console's live view of the requests this node sees.
	live *ui.Live
	// otel records the GenAI metrics and the traces of every request.
	otel *otel.Telemetry

	clientLn, linkLn net.Listener
	clientSrv        *http.Server
	linkSrv          *http.Server
	ready            atomic.Bool
	draining         atomic.Bool
	cancel           context.CancelFunc
	wg               sync.WaitGroup

	// cut ends the requests still in flight when the drain timeout passes.
	cut *drainCut

	// opsLn and opsSrv serve server.ops_listen; nil without one.
	opsLn  net.Listener
	opsSrv *http.Server
	// admission bounds unauthenticated work on the client listener.
	admission *admission
	// shared is the replicas' profile sync state (replicas.go), made once.
	shared     *profilestore.Shared
	sharedOnce sync.Once
}

// New builds a node without binding any socket. On failure it closes
// whatever it had opened (backends, quota store, audit writer).
func New(opts Options) (_ *Node, err error) {
	cfg := opts.Config
	region, ok := cfg.Region(opts.Region)
	if !ok {
		return nil, fmt.Errorf("region %q is not in %s (regions: %s)", opts.Region, cfg.File, regionIDs(cfg))
	}
	if opts.Listen != "" {
		region.Listen = opts.Listen
	}
	if opts.Link != "" {
		region.Link = opts.Link
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Getenv == nil {
		opts.Getenv = getenv
	}
	log := opts.Logger.With(telemetry.AttrRegion, region.ID)
	n := &Node{opts: opts, clock: clock.Or(opts.Clock), cfg: cfg, region: region, log: log, metrics: telemetry.NewMetrics(region.ID)}
	if opts.QuotaClock == nil {
		opts.QuotaClock = n.clock
	}
	n.life, n.endLife = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			n.closeOpened()
		}
	}()
	if n.admission, err = newAdmission(cfg.Server.Limits, cfg.Server.MaxRequestBytesOrDefault(), n.metrics.Registerer); err != nil {
		return nil, err
	}
	if err := n.setupLinkSecurity(); err != nil {
		return nil, err
	}
	var peers []interregion.Peer
	for _, r := range cfg.Regions {
		if r.ID != region.ID {
			peers = append(peers, interregion.Peer{Region: r.ID, Addr: r.Link})
		}
	}
	var signer interregion.Signer
	if n.linkStore != nil {
		signer = interregion.EnvelopeSigner{Store: n.linkStore}
	}
	n.link = interregion.NewClient(interregion.ClientOptions{Region: region.ID, Peers: peers,
		ProbeInterval: cfg.Link.LoadInterval.Or(time.Second), TLS: n.linkClientTLS, Signer: signer,
		OnState: n.onPeerState, Clock: n.clock,
		Metrics: n.metrics, Logger: log.With(telemetry.AttrComponent, "link")})
	qc, err := quotaConfig(regionQuota(cfg.Quota, region.ID), opts.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: quota.redis: %w", cfg.File, err)
	}
	n.limiter, err = quota.Open(qc, quota.Options{Logger: log.With(telemetry.AttrComponent, "quota"), Registerer: n.metrics.Registerer,
		DataDir: regionDataDir(cmp.Or(opts.DataDir, cfg.Server.DataDir), region.ID), Clock: opts.QuotaClock})
	if err != nil {
		return nil, fmt.Errorf("%s: quota: %w", cfg.File, err)
	}
	n.observing = gateway.NewObserving(n.clock)
	n.cut = newDrainCut()
	// The marker comes first, so that the audit event and the observers
	// see a cut request's error code.
	recorders := gateway.Recorders{shutdownMarker{n.cut}}
	if !cfg.Audit.Disabled {
		ac := auditConfig(cfg.Audit)
		if opts.AuditDir != "" {
			ac.Dir = opts.AuditDir
		}
		ao := opts.AuditOptions
		if ao.Clock == nil {
			ao.Clock = n.clock
		}
		ao.Logger = log.With(telemetry.AttrComponent, "audit")
		n.audit, err = audit.Open(ac, region.ID, ao)
		if err != nil {
			return nil, fmt.Errorf("%s: audit: %w", cfg.File, err)
		}
		recorders = append(recorders, audit.Recorder{W: n.audit, Traced: cfg.Telemetry.Traces.Enabled})
		n.registerAuditMetrics()
	} else {
		log.Warn("the audit trail is disabled (audit.disabled: true)")
	}
	n.live, err = ui.NewLive(ui.LiveOptions{Region: region.ID, Config: cfg, Clock: n.clock, Observing: n.observing, Catalog: func() *profile.Catalog { return n.gateway().Catalog() }})
	if err != nil {
		return nil, err
	}
	n.otel, err = otel.New(otel.Options{Region: region.ID, Clock: n.clock, Config: cfg.Telemetry, Topology: n.config, Getenv: opts.Getenv,
		Registerer: observedRegisterer{n.metrics.Registerer, n.observing}, Catalog: func() *profile.Catalog { return n.gateway().Catalog() },
		Logger: log.With(telemetry.AttrComponent, "telemetry")})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.File, err)
	}
	// Before the audit trail's: a trace that will not be exported is not
	// claimed in the answer, the logs or the audit event (otel.Claims).
	n.recorders = slices.Insert(recorders, 1, n.otel.Claims())
	n.observers = gateway.Recorders{n.live, n.otel}
	if opts.Observer != nil {
		n.observers = append(n.observers, opts.Observer)
	}
	n.reloads = newReloadCounter(n.metrics.Registerer)
	n.openProfiles(cmp.Or(opts.DataDir, cfg.Server.DataDir))
	if cfg.Quota.Store == "redis" {
		// Replicas of a region share API-created profiles through the
		// store; a change is pushed at once, and every load interval.
		n.profileSync = make(chan struct{}, 1)
	}
	g, err := n.newGeneration(cfg, nil)
	if err != nil {
		return nil, err
	}
	n.gen.Store(g)
	logNotes(n.log, cfg)
	return n, nil
}

// setupLinkSecurity loads the link's certificates: mutual TLS 1.3 with
// region identities is on unless insecure_dev_link (with --dev) turns it off.
func (n *Node) setupLinkSecurity() error {
	lc := linkConfig(n.cfg.Link)
	if err := lc.CheckMode(n.opts.Dev); err != nil {
		return fmt.Errorf("%s: link: %w", n.cfg.File, err)
	}
	if lc.InsecureDevLink {
		n.log.Warn("inter-region link runs WITHOUT TLS or signed envelopes (insecure_dev_link, --dev)")
		return nil
	}
	if err := lc.Validate(n.cfg.File + ": link"); err != nil {
		return fmt.Errorf("%w (fix: run `meridian certs init --dir D` and `meridian certs issue --dir D --region R` for each region, then set link.ca_file, link.cert_file and link.key_file)", err)
	}
	rej, err := envelope.NewRejections(n.metrics.Registerer)
	if err != nil {
		return err
	}
	opts := lc.StoreOptions(n.region.ID)
	opts.Logger = n.log.With(telemetry.AttrComponent, "pki")
	opts.Registerer = n.metrics.Registerer
	opts.Clock = n.clock
	opts.PeerRejected = func(e *pki.PeerError) {
		rej.Peer(e)
		n.log.Warn("link peer refused at handshake", "reason", e.Reason, telemetry.AttrError, e.Err)
	}
	// A certificate expired: at every poll while it stands, idle link
	// connections are closed, so the next request makes a handshake,
	// which fails closed (busy ones are closed by the destination's
	// refusal, interregion.ServerOptions.Connection).
	opts.OnExpired = func(peer string) {
		if n.link != nil {
			n.link.CloseIdleConnections(peer)
		}
	}
	store, err := pki.NewStore(opts)
	if err != nil {
		return fmt.Errorf("%s: link certificates for %s: %w", n.cfg.File, n.region.ID, err)
	}
	n.linkStore, n.rejections = store, rej
	return nil
}

// serverProtocols returns the protocols net/http serves by default (HTTP/1,
// and HTTP/2 unless GODEBUG has http2server=0) and the matching ALPN list.
func serverProtocols() (http.Protocols, []string) {
	var p http.Protocols
	p.SetHTTP1(true)
	alpn := []string{"http/1.1"}
	if !slices.Contains(strings.Split(os.Getenv("GODEBUG"), ","), "http2server=0") {
		p.SetHTTP2(true)
		alpn = []string{"h2", "http/1.1"}
	}
	return p, alpn
}

// linkConfig maps the topology's link section to the pki package's.
func linkConfig(l topology.Link) pki.LinkConfig {
	return pki.LinkConfig{TrustDomain: l.TrustDomain, CAFile: l.CAFile, CertFile: l.CertFile, KeyFile: l.KeyFile,
		EnvelopeWindow: pki.Duration(l.EnvelopeWindow), ExpiryWarning: pki.Duration(l.ExpiryWarning), InsecureDevLink: l.InsecureDevLink}
}

func (n *Node) linkClientTLS(region string) *tls.Config {
	if n.linkStore == nil {
		return nil
	}
	return n.linkStore.ClientTLSConfig(region)
}

// pushState publishes this node's state to its peers at once after a sharp
// change, at most once per 200 ms.
func (n *Node) pushState() {
	now := n.clock.Now().UnixNano()
	last := n.lastPush.Load()
	if now-last < int64(200*time.Millisecond) || !n.lastPush.CompareAndSwap(last, now) {
		return
	}
	body, err := json.Marshal(n.state())
	if err != nil {
		return
	}
	n.pushing.Add(1)
	go func() {
		defer n.pushing.Done()
		n.link.Push(context.Background(), body)
	}()
}

// onPush applies a state a peer pushed. The region comes from the peer's
// certificate; a state claiming another region is refused.
func (n *Node) onPush(certRegion string, body json.RawMessage) {
	st, err := decodePeerState(body)
	if err != nil {
		n.log.Warn("peer pushed an unreadable state; ignored", telemetry.AttrPeer, certRegion, telemetry.AttrError, err)
		return
	}
	if n.linkStore != nil && certRegion != st.Region {
		n.log.Warn("peer pushed a state for another region; ignored", telemetry.AttrPeer, certRegion, "claimed", st.Region)
		return
	}
	n.applyPeerState(st.Region, st, 0)
}

// shareCooldown publishes a deployment cooldown to the shared store without
// holding up the request that saw the 429.
func (n *Node) shareCooldown(k routing.Key, wait time.Duration) {
	n.sharing.Add(1)
	go func() {
		defer n.sharing.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := n.limiter.SetCooldown(ctx, k.String(), wait); err != nil {
			n.log.Debug("cooldown not shared", telemetry.AttrError, err)
		}
	}()
}

// syncCooldowns applies the cooldowns other replicas shared, twice a second.
func (n *Node) syncCooldowns(ctx context.Context) {
	t := n.clock.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		n.applySharedCooldowns(ctx)
	}
}

// applySharedCooldowns reads the cooldowns other replicas shared for the
// deployments of the topology in force and applies them to this node's
// tracker. A store outage leaves the tracker as it is (the limiter logs
// outages itself).
func (n *Node) applySharedCooldowns(ctx context.Context) {
	deps := n.config().Deployments
	keys := make([]string, 0, len(deps))
	byName := map[string]routing.Key{}
	for _, d := range deps {
		k := routing.Key{Region: d.Region, Model: d.Model}
		keys = append(keys, k.String())
		byName[k.String()] = k
	}
	cds, err := n.limiter.Cooldowns(ctx, keys)
	if err != nil {
		return
	}
	now := n.clock.Now()
	for name, left := range cds {
		if left > 0 {
			n.gateway().Routing().Tracker.CoolDown(byName[name], now.Add(left), true) // shared by a replica that saw a 429
		}
	}
}

// topologySettle is how long a residency digest difference that follows a
// change of digest (this node's catalog, or the peer's published digest)
// may last before it is reported: an application profile created in one
// region reaches the others within a load interval or two (every state
// carries its home's records), and until then their digests differ
// although their topology files agree.
const topologySettle = 10 * time.Second

// digestChanges remembers when this node's catalog and each peer's
// published digest last changed, as checkTopology saw them.
type digestChanges struct {
	mu        sync.Mutex
	catalog   *profile.Catalog
	catalogAt time.Time
	peer      map[string]string    // last published digest by peer
	peerAt    map[string]time.Time // when it changed
	differsAt map[string]time.Time // since when the digests differ, until agreement lasts topologySettle
	agreesAt  map[string]time.Time // since when they agree again, while differsAt stands
	// unsettled reports every difference at once (tests whose nodes run
	// on the wall clock and cannot wait out topologySettle).
	unsettled bool
}

// settling reports whether a difference with peer, whose digest is digest,
// is still within topologySettle of a change of either digest (or of the
// start of the difference, when it began within that time of one). merged
// says the peer's state just changed cat (its application profiles). A
// difference starts when a state differs and ends only once states have
// agreed for topologySettle, so agreeing states in between do not restart
// its settling time.
func (d *digestChanges) settling(peer, digest string, cat *profile.Catalog, merged bool, now time.Time, differs bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unsettled {
		return false
	}
	if d.peer == nil {
		d.peer, d.peerAt, d.differsAt, d.agreesAt = map[string]string{}, map[string]time.Time{}, map[string]time.Time{}, map[string]time.Time{}
	}
	if cat != d.catalog {
		if d.catalog != nil || merged {
			d.catalogAt = now
		}
		d.catalog = cat
	}
	if old, ok := d.peer[peer]; ok && old != digest {
		d.peerAt[peer] = now
	}
	d.peer[peer] = digest
	if !differs {
		// The difference ends only once agreement has lasted
		// topologySettle: states that alternate (two replicas of the
		// peer behind one link address, one on another topology file)
		// would otherwise restart the settling time at each agreeing one
		// and never be reported.
		if _, ok := d.differsAt[peer]; ok {
			agrees, ok := d.agreesAt[peer]
			if !ok {
				agrees = now
				d.agreesAt[peer] = now
			}
			if now.Sub(agrees) >= topologySettle {
				delete(d.differsAt, peer)
				delete(d.agreesAt, peer)
			}
		}
		return false
	}
	delete(d.agreesAt, peer)
	recent := func(t time.Time) bool { return !t.IsZero() && now.Sub(t) < topologySettle }
	since, ok := d.differsAt[peer]
	if !ok {
		if !recent(d.catalogAt) && !recent(d.peerAt[peer]) {
			return false // a difference no recent change explains
		}
		d.differsAt[peer] = now
		return true
	}
	return now.Sub(since) < topologySettle
}

// checkTopology compares a peer's residency digest with this node's. A
// mismatch is reported loudly (log, metric, regions endpoint); while it
// lasts nothing changes in what this node serves, because every node
// already serves only what its own topology allows. A difference that
// follows a change of either digest (an application profile propagating)
// is reported only once it outlasts topologySettle.
func (n *Node) checkTopology(peer, digest string, merged bool) {
	cat := n.gateway().Catalog()
	mine := cat.ResidencyDigest()
	mismatch := digest != mine
	if n.digests.settling(peer, digest, cat, merged, n.clock.Now(), mismatch) {
		n.log.Debug("peer's residency digest differs after a recent change; waiting for it to settle", telemetry.AttrPeer, peer,
			"peer_digest", digest, "own_digest", mine)
		return
	}
	prev, seen := n.mismatch.Swap(peer, mismatch)
	v := 0.0
	if mismatch {
		v = 1
	}
	n.metrics.TopologyMismatch.WithLabelValues(peer).Set(v)
	switch {
	case mismatch && (!seen || !prev.(bool)):
		n.log.Error("peer runs a different residency topology: roll the same topology file out to every region", telemetry.AttrPeer, peer,
			"peer_digest", digest, "own_digest", mine)
	case !mismatch && seen && prev.(bool):
		n.log.Info("peer topology agrees again", telemetry.AttrPeer, peer)
	}
}

func (n *Node) topologyMismatch(peer string) bool {
	v, ok := n.mismatch.Load(peer)
	return ok && v.(bool)
}

// onPeerState applies the state a peer published (fetched by the link's
// probe) and records the link's measured RTT.
func (n *Node) onPeerState(region string, body json.RawMessage, rtt time.Duration) {
	st, err := decodePeerState(body)
	if err != nil {
		n.log.Warn("peer sent an unreadable state; ignored", telemetry.AttrPeer, region, telemetry.AttrError, err)
		return
	}
	n.applyPeerState(region, st, rtt)
}

// applyPeerState hands the parts of a peer's decoded state to their
// consumers: the residency check, the console, the application-profile
// registry and routing. A state that claims another region is applied to
// nothing but the residency check.
func (n *Node) applyPeerState(region string, st peerState, rtt time.Duration) {
	snap := st.Snapshot
	if snap.Region != region {
		n.checkTopology(region, st.Topology, false)
		n.log.Warn("peer sent a snapshot for another region; ignored", telemetry.AttrPeer, region, "claimed", snap.Region)
		return
	}
	// The console shows the flows peers publish beside their load.
	n.live.ApplyPeerFlows(region, st.Flows)
	// The peer's application profiles are merged before its digest is
	// compared: the digest covers them.
	before := n.gateway().Catalog()
	n.mergePeerProfiles(region, st.Profiles)
	n.checkTopology(region, st.Topology, n.gateway().Catalog() != before)
	r := n.gateway().Routing()
	if err := r.Tracker.Apply(snap); err != nil {
		n.log.Warn("peer load snapshot refused", telemetry.AttrPeer, region, telemetry.AttrError, err)
		return
	}
	if rtt > 0 {
		r.RTT.Observe(n.region.ID, region, rtt)
	}
	r.Queue.Notify()
}

// Gateway returns the node's gateway for the topology in force; a reload
// replaces it.
func (n *Node) Gateway() *gateway.Gateway { return n.gateway() }

// Backends returns the node's backends by model id, for the topology in
// force.
func (n *Node) Backends() map[string]backend.Backend { return n.current().backends }

// Config returns the topology in force.
func (n *Node) Config() *topology.Config { return n.config() }

// Profiles returns the node's application-profile registry, which outlives
// reloads. Subscribers ([profilestore.Registry.Subscribe]) are called in
// the order they subscribed, so one that subscribed after the topology in
// force was loaded is told of a change once that topology's gateway serves
// it: a test waits there for a profile a peer published, rather than
// polling.
func (n *Node) Profiles() *profilestore.Registry { return n.profiles }

// CloseIdleLinkConnections closes the idle connections that carry the
// node's forwards to its peers (the link's HTTP/1.1 pool and lanes; the
// probes keep theirs); forwards after it dial again. The bench calls it
// between waves, so that a wave's goroutine count is not the previous
// one's kept-alive connections.
func (n *Node) CloseIdleLinkConnections() { n.link.CloseIdleForwardConnections() }

// Region returns the node's region.
func (n *Node) Region() topology.Region { return n.region }

// ClientAddr returns the bound client listener address (after Start).
func (n *Node) ClientAddr() string { return n.clientLn.Addr().String() }

// LinkAddr returns the bound link listener address (after Start).
func (n *Node) LinkAddr() string { return n.linkLn.Addr().String() }

// Ready reports whether the node serves requests.
func (n *Node) Ready() bool { return n.ready.Load() && !n.draining.Load() }

// Start binds both listeners and serves in the background. Listening errors
// are returned here, before anything is served.
func (n *Node) Start(ctx context.Context) error {
	var err error
	n.clientLn, n.linkLn = n.opts.ClientListener, n.opts.LinkListener
	if n.clientLn == nil {
		if n.clientLn, err = net.Listen("tcp", n.region.Listen); err != nil {
			return fmt.Errorf("listen on %s (region %s listen): %w", n.region.Listen, n.region.ID, err)
		}
	}
	if n.linkLn == nil {
		if n.linkLn, err = net.Listen("tcp", n.region.Link); err != nil {
			n.clientLn.Close()
			return fmt.Errorf("listen on %s (region %s link): %w", n.region.Link, n.region.ID, err)
		}
	}
	// Link sockets notice a silent peer (interregion.Listener).
	n.linkLn = interregion.Listener(n.linkLn)
	if err := n.listenOps(); err != nil {
		n.clientLn.Close()
		n.linkLn.Close()
		return err
	}
	errLog := slog.NewLogLogger(n.log.Handler(), slog.LevelWarn)
	base := func(net.Listener) context.Context { return n.cut.ctx }
	n.clientSrv = &http.Server{Handler: n.otel.Handler(withRequestID(http.HandlerFunc(n.serveClient))), ReadHeaderTimeout: n.cfg.Server.Limits.ReadHeaderTimeout.Or(defaultReadHeaderTimeout),
		IdleTimeout: 120 * time.Second, ErrorLog: errLog, ConnContext: connContext, BaseContext: base}
	n.linkSrv = &http.Server{Handler: n.trackLink(n.linkHandler()), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: errLog,
		HTTP2: interregion.ServerHTTP2Config(), ConnContext: interregion.ConnContext, BaseContext: base}
	if n.linkStore != nil {
		known := map[string]bool{}
		for _, r := range n.cfg.Regions {
			if r.ID != n.region.ID {
				known[r.ID] = true
			}
		}
		n.linkSrv.TLSConfig = n.linkStore.ServerTLSConfig(func(region string) bool { return known[region] })
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	clientTLS := false
	if t := n.region.TLS; t != nil {
		// The client listener's certificate and client CA bundle are
		// reread from disk like the link's, so a renewal needs no restart.
		// A verified client certificate authenticates as the principal
		// whose client_cert_subjects names it; API keys still work.
		//
		// Every handshake gets the store's configuration, whose ALPN list
		// net/http cannot adjust: the protocols are therefore fixed here,
		// for both, from net/http's own default (HTTP/2 unless
		// GODEBUG=http2server=0).
		protos, alpn := serverProtocols()
		n.clientSrv.Protocols = &protos
		store, err := pki.NewServingStore(pki.ServingOptions{CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile,
			NextProtos: alpn, ExpiryWarning: n.cfg.Link.ExpiryWarning.D(),
			Logger: n.log.With(telemetry.AttrComponent, "client-tls"), Registerer: n.metrics.Registerer, Clock: n.clock})
		if err != nil {
			n.clientLn.Close()
			n.linkLn.Close()
			if n.opsLn != nil {
				n.opsLn.Close()
			}
			return fmt.Errorf("%s: regions[%s].tls: %w", n.cfg.File, n.region.ID, err)
		}
		n.clientSrv.TLSConfig, clientTLS = store.TLSConfig(), true
		if t.ClientCAFile != "" {
			// A connection outlives a rotation of the client CA bundle:
			// each request re-checks its chain against the current one.
			n.clientChainCheck = store.CheckClientChain
			n.gateway().Authenticator().SetClientChainCheck(store.CheckClientChain)
		}
		n.wg.Add(1)
		go func() { defer n.wg.Done(); store.Run(runCtx) }()
		n.clientCerts = store
	} else {
		n.clientSrv.Protocols = cleartextProtocols() // HTTP/2 with prior knowledge too (h2.go)
	}
	n.serve(n.clientSrv, n.admission.listener(n.clientLn, clientTLS), clientTLS)
	if n.opsLn != nil {
		n.opsSrv = &http.Server{Handler: n.opsHandler(), ReadHeaderTimeout: defaultReadHeaderTimeout, IdleTimeout: 120 * time.Second, ErrorLog: errLog}
		n.serve(n.opsSrv, n.opsLn, false)
	}
	n.serve(n.linkSrv, n.linkLn, n.linkStore != nil)
	if n.linkStore != nil {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.linkStore.Run(runCtx) }()
	}
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.link.Run(runCtx) }()
	if n.cfg.Quota.Store == "redis" {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.syncCooldowns(runCtx) }()
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.syncProfilesLoop(runCtx) }()
	}
	n.ready.Store(true)
	n.log.Info("node started", "listen", n.ClientAddr(), "link", n.LinkAddr(), "deployments", len(n.current().backends))
	return nil
}

func (n *Node) serve(srv *http.Server, ln net.Listener, useTLS bool) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		var err error
		if useTLS {
			err = srv.ServeTLS(ln, "", "") // certificates come from the link or serving store
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("listener stopped", telemetry.AttrAddr, ln.Addr().String(), telemetry.AttrError, err)
		}
	}()
}

// Shutdown drains the node: /readyz turns 503, listeners stop accepting,
// in-flight requests (streams included) may finish until ctx ends, then
// remaining connections are closed.
func (n *Node) Shutdown(ctx context.Context) error {
	n.stopReloads()
	n.log.Info("node draining")
	var errs []error
	if n.clientSrv != nil {
		if err := n.drainServer(ctx, "client", n.clientSrv); err != nil {
			errs = append(errs, err)
		}
	}
	if n.linkSrv != nil {
		if err := n.drainServer(ctx, "link", n.linkSrv); err != nil {
			errs = append(errs, err)
		}
	}
	if n.opsSrv != nil {
		// Probes and scrapes hold nothing to settle or audit: one still
		// running at the deadline is closed.
		if err := n.opsSrv.Shutdown(ctx); err != nil {
			n.opsSrv.Close()
		}
	}
	if n.cancel != nil {
		n.cancel()
	}
	n.endLife()
	n.wg.Wait()
	n.link.Close()
	n.closeBackends()
	// The handlers have returned. The quota's last settlements, then the
	// observations and the telemetry's last export, end by ctx; after a
	// drain that ran to its timeout (and cut what was left), by
	// drainCutWait of their own. The quota's settlements get at most half
	// of drainCutWait (a hung store takes all it is given), so that the
	// observers and the export are not left an expired context; if ctx has
	// passed when they start, they get drainCutWait again, as a hang guard.
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), drainCutWait)
		defer cancel()
	}
	qctx, qcancel := context.WithTimeout(ctx, drainCutWait/2)
	defer qcancel()
	if err := n.limiter.Shutdown(qctx); err != nil {
		errs = append(errs, fmt.Errorf("close quota store: %w", err))
	}
	if n.audit != nil {
		// Everything answered is flushed and covered by a final digest.
		if err := n.audit.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close audit trail: %w", err))
		}
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), drainCutWait)
		defer cancel()
	}
	if err := n.observing.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("wait for observers: %w", err))
	}
	if err := n.otel.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("flush telemetry: %w", err))
	}
	n.log.Info("node stopped")
	return errors.Join(errs...)
}

// drainCutWait bounds how long Shutdown waits, once the drain timeout
// has passed and the requests still in flight were cut, for their
// handlers to end (each records and settles as a response does). It is a
// hang guard: a cut request ends as soon as its backend call sees the
// cancellation.
const drainCutWait = 5 * time.Second

// errorCodeShutdown is the audit event's errorCode of a request that the
// node cut because server.drain_timeout passed while it was in flight.
const errorCodeShutdown = inference.CodeShutdown

// drainCut is the base context of every request on the client and link
// listeners: Shutdown cancels it when the drain timeout passes, so that
// the requests still in flight end through their normal path (a stream
// commits and records what it delivered, as when its caller hangs up)
// instead of being dropped with the connections.
type drainCut struct {
	ctx    context.Context
	cancel context.CancelCauseFunc // with inference.ErrShutdown
	done   atomic.Bool
}

func newDrainCut() *drainCut {
	ctx, cancel := context.WithCancelCause(context.Background())
	d := &drainCut{cancel: cancel}
	d.ctx = inference.WithShutdownFlag(ctx, &d.done)
	return d
}

// shutdownMarker is the first of the node's recorders: once the drain has
// cut the requests in flight, a request that ended as its caller going
// away (client_closed, which is how the gateway sees a cancelled request)
// was cut by the shutdown, and is recorded as such.
type shutdownMarker struct{ cut *drainCut }

func (m shutdownMarker) Record(_ context.Context, rec *gateway.Record) error {
	if m.cut.done.Load() && rec.ErrorCode == "client_closed" {
		rec.ErrorCode = errorCodeShutdown
		if rec.Status >= 400 {
			// Cut before its answer: the caller gets the shutdown answer
			// (cutAnswers), whatever the backend call reported when it
			// saw the cancellation (a time-out, "request cancelled").
			rec.Status = http.StatusServiceUnavailable
			if i := len(rec.Attempts) - 1; i >= 0 && rec.Attempts[i].Outcome != "ok" {
				rec.Attempts[i].Outcome = errorCodeShutdown
			}
		}
	}
	return nil
}

// cutAnswers makes the answer of a request that the drain cut before its
// first byte say so, the same way on every API: 503 with Retry-After and
// code shutdown, in the caller's dialect (the same 503 a load balancer
// and the APIs' SDKs retry). The backend call sees the cut as a
// cancellation and the front end would answer what it made of it (a
// time-out 408 for a stream, "request cancelled" 503 for a plain call).
// A stream already answering keeps its status and stops, as documented.
func (n *Node) cutAnswers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&cutWriter{ResponseWriter: w, r: r, n: n}, r)
	})
}

// cutWriter replaces an error answer written after the drain cut its
// request by the shutdown answer; everything else passes through.
type cutWriter struct {
	http.ResponseWriter
	r        *http.Request
	n        *Node
	wrote    bool // the status line is decided
	answered bool // the shutdown answer replaced the handler's
}

func (w *cutWriter) WriteHeader(code int) {
	switch {
	case w.answered:
		return
	case w.wrote || code < 200:
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.wrote = true
	if code >= 400 && w.n.cut.done.Load() && w.r.Context().Err() != nil {
		w.answered = true
		writeShutdown(w.ResponseWriter, w.r, w.n.clock.Now())
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.answered {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// FlushError flushes for http.ResponseController.
func (w *cutWriter) FlushError() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.answered {
		return nil
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher for handlers that assert it.
func (w *cutWriter) Flush() { w.FlushError() }

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *cutWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeShutdown writes the shutdown answer in r's dialect, keeping the
// headers already set that name the request (x-meridian-*, request ids).
func writeShutdown(w http.ResponseWriter, r *http.Request, now time.Time) {
	h := w.Header()
	for _, k := range []string{"Content-Length", "Content-Type", "Content-Encoding", "Retry-After", "X-Amzn-Errortype"} {
		h.Del(k)
	}
	h.Set("Connection", "close")
	e := inference.ShutdownError(nil)
	switch dialectOf(r) {
	case dialectAnthropic:
		anthropic.WriteError(w, e, now)
	case dialectOpenAI:
		e.SetRetryAfter(h)
		writeAPIError(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]any{"message": e.Message, "type": "server_error", "param": nil, "code": errorCodeShutdown}})
	case dialectMeridian:
		e.SetRetryAfter(h)
		writeOpsError(w, http.StatusServiceUnavailable, e.Message)
	default:
		// Bedrock's answer when the service cannot take a request.
		h.Set("X-Amzn-Errortype", "ServiceUnavailableException")
		e.SetRetryAfter(h)
		writeAPIError(w, http.StatusServiceUnavailable, map[string]string{"message": e.Message})
	}
}

// drainServer shuts srv down within ctx (the drain timeout). When ctx ends
// with requests still in flight, they are cut (see drainCut) and srv
// waits, for at most drainCutWait, until their handlers have recorded
// them and returned: a drain that cut at its deadline did its job and
// returns nil (docs/operations.md, Draining); one whose cut requests do not
// end returns an error.
func (n *Node) drainServer(ctx context.Context, name string, srv *http.Server) error {
	err := srv.Shutdown(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil {
		srv.Close()
		return fmt.Errorf("drain %s listener: %w", name, err)
	}
	if !n.cut.done.Swap(true) {
		n.log.Warn("drain timeout passed with requests in flight: cutting them (each is settled and audited with errorCode shutdown and the usage it delivered)",
			"drain_timeout", n.config().Server.DrainTimeout.Or(30*time.Second).String())
		n.cut.cancel(inference.ErrShutdown)
	}
	wctx, cancel := context.WithTimeout(context.Background(), drainCutWait)
	defer cancel()
	if err := srv.Shutdown(wctx); err != nil {
		srv.Close()
		return fmt.Errorf("drain %s listener: requests cut at the drain timeout were still running %v later: %w", name, drainCutWait, err)
	}
	return nil
}

// regionQuota returns q as the node of region reads it: "{region}" in the
// Redis URL and key prefix replaced by the region id, as in the link's
// files (pki.ExpandRegion), so that one topology can give each region its
// own Redis server or its own keys (docs/quotas.md).
func regionQuota(q topology.Quota, region string) topology.Quota {
	q.Redis.URL = pki.ExpandRegion(q.Redis.URL, region)
	q.Redis.KeyPrefix = pki.ExpandRegion(q.Redis.KeyPrefix, region)
	return q
}

// quotaConfig maps the topology's quota section, putting the Redis
// password from its environment variable into the URL.
func quotaConfig(q topology.Quota, getenv func(string) string) (quota.Config, error) {
	u := q.Redis.URL
	if q.Redis.PasswordEnv != "" {
		pw := getenv(q.Redis.PasswordEnv)
		if pw == "" {
			return quota.Config{}, fmt.Errorf("password_env: environment variable %s is empty or not set (fix: export it, or remove password_env)", q.Redis.PasswordEnv)
		}
		parsed, err := url.Parse(u)
		if err != nil {
			return quota.Config{}, fmt.Errorf("url: %w", err)
		}
		user := ""
		if parsed.User != nil {
			user = parsed.User.Username()
		}
		parsed.User = url.UserPassword(user, pw)
		u = parsed.String()
	}
	return quota.Config{Store: q.Store, Redis: quota.RedisConfig{URL: u, KeyPrefix: q.Redis.KeyPrefix, Cluster: q.Redis.Cluster},
		OnStoreError: q.OnStoreError, DefaultMaxTokens: q.DefaultMaxTokens, LeaseTTL: q.LeaseTTL.D(), DailyDefault: q.DailyDefault}, nil
}

// auditConfig maps the topology's audit section.
func auditConfig(a topology.Audit) audit.Config {
	dir := a.Dir
	if dir == "" {
		dir = "./audit"
	}
	return audit.Config{Dir: dir, RecordContent: a.RecordContent, Fsync: audit.SyncPolicy(a.Fsync),
		FsyncInterval: a.FsyncInterval.D(), DigestInterval: a.DigestInterval.D(), RotateBytes: a.RotateBytes,
		RotateInterval: a.RotateInterval.D(), KeyFile: a.KeyFile, QueueSize: a.QueueSize}
}

// registerAuditMetrics exports the audit writer's counters.
func (n *Node) registerAuditMetrics() {
	w := n.audit
	n.metrics.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "meridian_audit_events_written_total", Help: "Audit events written.",
			ConstLabels: prometheus.Labels{"region": n.region.ID}}, func() float64 { return float64(w.Stats().Written) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "meridian_audit_events_rejected_total", Help: "Audit events refused because the queue was full (the request got 429).",
			ConstLabels: prometheus.Labels{"region": n.region.ID}}, func() float64 { return float64(w.Stats().Rejected) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "meridian_audit_events_failed_total", Help: "Audit events that could not be written (I/O errors).",
			ConstLabels: prometheus.Labels{"region": n.region.ID}}, func() float64 { return float64(w.Stats().Failed) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "meridian_audit_queue_depth", Help: "Audit events waiting to be written.",
			ConstLabels: prometheus.Labels{"region": n.region.ID}}, func() float64 { return float64(w.Stats().Queued) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "meridian_audit_available", Help: "1 while the audit trail can be written; 0 while it cannot (the node refuses requests with 503).",
			ConstLabels: prometheus.Labels{"region": n.region.ID}}, func() float64 {
			if w.Err() != nil {
				return 0
			}
			return 1
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "meridian_audit_events_lost_total", Help: "Requests left without an audit event because the trail could not be written (each gap marker counts them).",
			ConstLabels: prometheus.Labels{"region": n.region.ID}}, func() float64 { return float64(w.Stats().Lost) }),
	)
}

// closeOpened releases what New opened before it failed.
func (n *Node) closeOpened() {
	if n.audit != nil {
		n.audit.Close()
	}
	if n.limiter != nil {
		n.limiter.Close()
	}
	if n.otel != nil {
		n.otel.Shutdown(context.Background())
	}
	n.closeBackends()
}

// FlushTelemetry exports the spans and metrics pending now (tests, and
// embedding programs before they read their collector).
// It first waits for the requests whose answers are out and whose
// observations are still running (see gateway.Observing).
func (n *Node) FlushTelemetry(ctx context.Context) error {
	n.observing.Wait()
	return n.otel.ForceFlush(ctx)
}

// Run starts the node and serves until ctx ends, then drains for at most
// the configured drain timeout.
func (n *Node) Run(ctx context.Context) error {
	if err := n.Start(ctx); err != nil {
		n.closeBackends()
		return err
	}
	<-ctx.Done()
	// Readiness turns 503 first while the listeners keep serving, so
	// load balancers stop sending work before connections are refused.
	n.BeginDrain()
	srv := n.config().Server
	if grace := srv.DrainGraceOrDefault(); grace > 0 {
		_, fired := n.clock.NewTimer(grace)
		<-fired
	}
	dctx, cancel := context.WithTimeout(context.Background(), srv.DrainTimeout.Or(30*time.Second))
	defer cancel()
	return n.Shutdown(dctx)
}

func regionIDs(cfg *topology.Config) string {
	s := ""
	for i, r := range cfg.Regions {
		if i > 0 {
			s += ", "
		}
		s += r.ID
	}
	return s
}

// clientHandler builds the client listener's routes for generation g.
func (n *Node) clientHandler(g *generation) http.Handler {
	mux := http.NewServeMux()
	openai.New(g.gw, openai.Options{MaxRequestBytes: g.cfg.Server.MaxRequestBytesOrDefault(), Clock: n.clock}).Register(mux)
	g.bedrock.Register(mux)
	anthropic.New(g.gw, anthropic.Options{MaxRequestBytes: g.cfg.Server.MaxRequestBytesOrDefault(), Clock: n.clock}).Register(mux)
	record := n.recordUnrouted(g.gw)
	registerNotFound(mux, record)
	// Probes stay open; metrics and the regions view need a principal
	// here (the ops listener serves them without one).
	n.registerOps(mux, n.requirePrincipal)
	ui.NewHandler(ui.Options{Live: n.live, Clock: n.clock, Auth: g.gw.Authenticator(), State: func() any { return n.regionsView() },
		Demo: n.opts.Demo, Closing: n.draining.Load, MaySee: n.mayViewTraffic,
		Audit: func(w http.ResponseWriter, r *http.Request, c ui.Call) error {
			return n.auditControl(w, r, c.Operation, c.Principal, c.Status, c.Reason)
		},
		Logger: n.log.With(telemetry.AttrComponent, "ui")}).Register(mux)
	return n.cutAnswers(n.admission.wrap(recordRedirects(mux, record)))
}

func (n *Node) linkHandler() http.Handler {
	var verifier interregion.Verifier
	var connection func(*tls.ConnectionState) error
	if n.linkStore != nil {
		verifier = interregion.EnvelopeVerifier{Rejections: n.rejections, Clock: n.clock, Logger: n.log.With(telemetry.AttrComponent, "link"),
			Verifier: envelope.NewVerifier(envelope.VerifierOptions{Region: n.region.ID, Window: n.cfg.Link.EnvelopeWindow.D(),
				Checker: interregion.TopologyChecker(func() *profile.Catalog { return n.gateway().Catalog() }), VerifySigner: n.linkStore.VerifyPeer})}
		// Every link route (forwards, state fetches and pushes) is
		// refused on a connection whose certificates expired, counted
		// as unauthenticated.
		connection = func(cs *tls.ConnectionState) error {
			err := n.linkStore.CheckConnection(cs)
			if err != nil && n.rejections != nil {
				n.rejections.Envelope(&envelope.Error{Reason: envelope.ReasonUnauthenticated, Err: err})
			}
			return err
		}
	}
	return interregion.NewServer(interregion.ServerOptions{Local: forwardedLocal{n}, State: n.state, Verifier: verifier, OnPush: n.onPush, Connection: connection,
		MaxRequestBytes: 2 * max(n.cfg.Server.MaxRequestBytesOrDefault(), 4<<20), Logger: n.log.With(telemetry.AttrComponent, "link")})
}

// regionDataDir is this region's directory under the node's data directory
// (the layout the Bedrock profile store uses too), so that nodes of several
// regions sharing one data directory keep apart; "" stays "" (no state kept).
func regionDataDir(dataDir, region string) string {
	if dataDir == "" {
		return ""
	}
	return filepath.Join(dataDir, region)
}
