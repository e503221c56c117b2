package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/quota"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// Defaults of server.limits.
const (
	defaultMaxUnauthenticatedPerIP = 64
	defaultReadHeaderTimeout       = 10 * time.Second
	defaultBodyReadTimeout         = 60 * time.Second
)

// admission bounds the work the client listener does for requests that
// have not authenticated, per client address. Front ends authenticate from
// headers and the connection before they read a body; the one exception is
// a SigV4 signature over the body's hash, which verifies only once the
// body is read. Such reads are what admission counts: a request's first
// body read before it authenticates takes one of its address's
// MaxUnauthenticatedPerIP slots, and authentication (auth.Authenticated)
// or the end of the request gives it back. A read that finds no free slot
// fails with auth.ErrUnauthenticatedLimit, which front ends answer with
// 429. Every request body must arrive within BodyReadTimeout, and a
// request with a body that never authenticates is answered with
// "Connection: close", so that its unread body is not drained.
//
// It is safe for concurrent use.
type admission struct {
	max         int
	bodyTimeout time.Duration
	now         func() time.Time

	mu       sync.Mutex
	inFlight map[string]int // client address -> unauthenticated body reads
	// changed, when set (tests), is signalled after every change of
	// inFlight.
	changed chan struct{}

	reading prometheus.Gauge
	refused prometheus.Counter
}

func newAdmission(l topology.ClientLimits, reg prometheus.Registerer) (*admission, error) {
	a := &admission{max: l.MaxUnauthenticatedPerIP, bodyTimeout: l.BodyReadTimeout.Or(defaultBodyReadTimeout), now: time.Now,
		inFlight: map[string]int{},
		reading: prometheus.NewGauge(prometheus.GaugeOpts{Name: "meridian_unauthenticated_body_reads",
			Help: "Request bodies being read before their request authenticated (SigV4 over the body's hash)."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "meridian_unauthenticated_refused_total",
			Help: "Requests refused with 429 because their client address had server.limits.max_unauthenticated_per_ip unauthenticated body reads in flight."}),
	}
	if a.max == 0 {
		a.max = defaultMaxUnauthenticatedPerIP
	}
	for _, c := range []prometheus.Collector{a.reading, a.refused} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register admission metrics: %w", err)
		}
	}
	return a, nil
}

// acquire takes a slot of ip; false when it has none left.
func (a *admission) acquire(ip string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inFlight[ip] >= a.max {
		a.refused.Inc()
		return false
	}
	a.inFlight[ip]++
	a.reading.Inc()
	a.signalLocked()
	return true
}

func (a *admission) release(ip string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inFlight[ip]--; a.inFlight[ip] <= 0 {
		delete(a.inFlight, ip)
	}
	a.reading.Dec()
	a.signalLocked()
}

func (a *admission) signalLocked() {
	if a.changed != nil {
		select {
		case a.changed <- struct{}{}:
		default:
		}
	}
}

// wrap applies admission to next. Requests without a body pass through
// untouched: they do no work before authentication beyond their headers,
// which ReadHeaderTimeout bounds.
func (a *admission) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if a.bodyTimeout > 0 {
			// Not every ResponseWriter supports deadlines (tests' recorders);
			// without one the body is still bounded by its size.
			_ = rc.SetReadDeadline(a.now().Add(a.bodyTimeout))
		}
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		p := &pending{a: a, ip: ip, header: w.Header()}
		// Until the request authenticates, its answer closes the
		// connection: net/http would otherwise drain up to 256 KiB of an
		// unread body to reuse it.
		p.header.Set("Connection", "close")
		r = r.WithContext(auth.OnAuthenticated(r.Context(), p.authenticated))
		r.Body = &admittedBody{ReadCloser: r.Body, p: p, rc: rc}
		defer p.done()
		next.ServeHTTP(w, r)
	})
}

// pending is the admission state of one request.
type pending struct {
	a      *admission
	ip     string
	header http.Header

	mu      sync.Mutex
	authed  bool
	holding bool
	ended   bool
}

// authenticated is the request's auth.OnAuthenticated hook. It runs on the
// handler's goroutine before the response is written.
func (p *pending) authenticated() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.authed {
		return
	}
	p.authed = true
	p.header.Del("Connection")
	p.releaseLocked()
}

// admit reports whether the body may be read now.
func (p *pending) admit() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.authed || p.holding {
		return true
	}
	if p.ended || !p.a.acquire(p.ip) {
		return false
	}
	p.holding = true
	return true
}

func (p *pending) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended = true
	p.releaseLocked()
}

func (p *pending) releaseLocked() {
	if p.holding {
		p.holding = false
		p.a.release(p.ip)
	}
}

// admittedBody is a request body read under admission.
type admittedBody struct {
	io.ReadCloser
	p    *pending
	rc   *http.ResponseController
	done bool
}

func (b *admittedBody) Read(q []byte) (int, error) {
	if !b.p.admit() {
		return 0, auth.ErrUnauthenticatedLimit
	}
	n, err := b.ReadCloser.Read(q)
	if err != nil && !b.done {
		// The body is read (or failed): lift its deadline, so that it
		// does not cut a long response that follows.
		b.done = true
		if errors.Is(err, io.EOF) {
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

// requirePrincipal serves next to authenticated principals only (an API
// key or a client certificate; viewers included). The client listener
// guards the operational views with it; the ops listener does not.
func (n *Node) requirePrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := n.gw.Authenticator().Request(r); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="meridian"`)
			writeOpsError(w, http.StatusUnauthorized, "authentication required: send an API key as \"Authorization: Bearer <key>\" (a viewer's is enough), or scrape the ops listener (server.ops_listen)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeOpsError answers in the shape of Meridian's own API (the console's).
func writeOpsError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// registerOps adds the operational endpoints to mux. guard wraps the ones
// that reveal the node's state (metrics, regions); probes stay open.
func (n *Node) registerOps(mux *http.ServeMux, guard func(http.Handler) http.Handler) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", n.readyz)
	mux.Handle("GET /metrics", guard(n.metrics.Handler()))
	mux.Handle("GET /meridian/v1/regions", guard(http.HandlerFunc(n.regions)))
}

// opsHandler serves the ops listener: metrics, probes and the regions
// view, without authentication. It is meant for localhost or a private
// network (server.ops_listen).
func (n *Node) opsHandler() http.Handler {
	mux := http.NewServeMux()
	n.registerOps(mux, func(h http.Handler) http.Handler { return h })
	return mux
}

// OpsAddr returns the bound ops listener address, or "" without one.
func (n *Node) OpsAddr() string {
	if n.opsLn == nil {
		return ""
	}
	return n.opsLn.Addr().String()
}

// readyz answers 200 while the node serves, 503 while it drains or while
// its quota store is away (unless quota.on_store_error is fail_open).
func (n *Node) readyz(w http.ResponseWriter, r *http.Request) {
	if !n.Ready() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	if !n.limiter.Healthy() && n.cfg.Quota.OnStoreError != quota.FailOpen {
		// Admission would refuse every request while the store is away.
		http.Error(w, "not ready: quota store unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

// listenOps binds the ops listener when server.ops_listen (or
// Options.OpsListen) names one.
func (n *Node) listenOps() error {
	n.opsLn = n.opts.OpsListener
	addr := n.opts.OpsListen
	if addr == "" {
		addr = n.cfg.Server.OpsListen
	}
	if n.opsLn != nil || addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (%s: server.ops_listen): %w", addr, n.cfg.File, err)
	}
	n.opsLn = ln
	return nil
}
