package node

import (
	"container/list"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/quota"
	"github.com/meridian-gateway/meridian/internal/telemetry"
	"github.com/meridian-gateway/meridian/internal/topology"
	"github.com/meridian-gateway/meridian/internal/ui"
)

// Defaults of server.limits.
const (
	defaultMaxUnauthenticatedBytes = 64 << 20
	defaultMaxUnauthenticatedConns = 256
	defaultReadHeaderTimeout       = 10 * time.Second
	defaultBodyReadTimeout         = 60 * time.Second
	// connectionGrace is how long a new connection may stay
	// unauthenticated before it counts against its address.
	connectionGrace = time.Second
	// connectionBurst bounds the unauthenticated connections of an
	// address, young ones included, at this multiple of
	// max_unauthenticated_connections_per_ip.
	connectionBurst = 16
)

// admission bounds the work the client listener does for callers that
// have not authenticated, per client address.
//
// Bodies: front ends authenticate from headers and the connection before
// they read a body; the one exception is a SigV4 signature over the body's
// hash, which verifies only once the body is read. A request's first body
// read before it authenticates charges its declared length (or
// max_request_bytes) to its address's MaxUnauthenticatedBytesPerIP, and
// authentication (auth.Authenticated) or the end of the request gives it
// back. A read that does not fit fails with auth.ErrUnauthenticatedLimit,
// which front ends answer with 429. Every request body must arrive within
// BodyReadTimeout, and a request with a body that never authenticates is
// answered with "Connection: close", so that its unread body is not
// drained.
//
// Connections: each costs a socket and a goroutine while it sends headers
// slowly or idles, and ReadHeaderTimeout bounds only for how long. A new
// connection is refused when its address already has
// MaxUnauthenticatedConnectionsPerIP connections open for more than
// connectionGrace on which no request has authenticated. Younger ones do
// not count, so that a burst of new connections that authenticate at once
// is not refused, up to connectionBurst times the limit.
//
// It is safe for concurrent use.
type admission struct {
	maxBytes    int64 // per address
	maxBody     int64 // what a body of unknown or excessive length counts
	maxConns    int
	grace       time.Duration
	bodyTimeout time.Duration
	now         func() time.Time

	mu      sync.Mutex
	reading map[string]int64      // address -> bytes of unauthenticated body reads
	conns   map[string]*list.List // address -> its unauthenticated *admittedConn, in opening order
	// changed, when set (tests), is signalled after every change of
	// reading or conns.
	changed chan struct{}

	readingBytes prometheus.Gauge
	pendingConns prometheus.Gauge
	// refused counts refusals by reason: "body_bytes" or "connections".
	refused *prometheus.CounterVec
}

func newAdmission(l topology.ClientLimits, maxRequestBytes int64, reg prometheus.Registerer) (*admission, error) {
	a := &admission{maxBytes: l.MaxUnauthenticatedBytesPerIP, maxBody: maxRequestBytes, maxConns: l.MaxUnauthenticatedConnectionsPerIP,
		grace: connectionGrace, bodyTimeout: l.BodyReadTimeout.Or(defaultBodyReadTimeout), now: time.Now,
		reading: map[string]int64{}, conns: map[string]*list.List{},
		readingBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "meridian_unauthenticated_body_bytes",
			Help: "Declared bytes of the request bodies being read before their request authenticated (SigV4 over the body's hash)."}),
		pendingConns: prometheus.NewGauge(prometheus.GaugeOpts{Name: "meridian_unauthenticated_connections",
			Help: "Open client connections on which no request has authenticated yet."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_unauthenticated_refused_total",
			Help: "Refused for too much unauthenticated work from one client address: reason body_bytes (429, server.limits.max_unauthenticated_bytes_per_ip) or connections (server.limits.max_unauthenticated_connections_per_ip)."},
			[]string{"reason"}),
	}
	if a.maxBody <= 0 {
		a.maxBody = 4 << 20
	}
	if a.maxBytes == 0 {
		a.maxBytes = max(defaultMaxUnauthenticatedBytes, a.maxBody)
	}
	if a.maxConns == 0 {
		a.maxConns = defaultMaxUnauthenticatedConns
	}
	a.refused.WithLabelValues("body_bytes")
	a.refused.WithLabelValues("connections")
	for _, c := range []prometheus.Collector{a.readingBytes, a.pendingConns, a.refused} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register admission metrics: %w", err)
		}
	}
	return a, nil
}

// charge is what a body counts against its address while it is read
// unauthenticated: its declared length, or max_request_bytes when it
// declares none or more (the front end reads no more than that).
func (a *admission) charge(contentLength int64) int64 {
	if contentLength < 0 || contentLength > a.maxBody {
		return a.maxBody
	}
	return contentLength
}

// acquire charges n bytes to ip; false when they do not fit.
func (a *admission) acquire(ip string, n int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reading[ip]+n > a.maxBytes {
		a.refused.WithLabelValues("body_bytes").Inc()
		return false
	}
	a.reading[ip] += n
	a.readingBytes.Add(float64(n))
	a.signalLocked()
	return true
}

func (a *admission) release(ip string, n int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reading[ip] -= n; a.reading[ip] <= 0 {
		delete(a.reading, ip)
	}
	a.readingBytes.Sub(float64(n))
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

// wrap applies admission to next. A request that authenticates marks its
// connection authenticated. Requests without a body are not limited
// further: they do no work before authentication beyond their headers,
// which ReadHeaderTimeout bounds.
func (a *admission) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _ := r.Context().Value(connKey{}).(*admittedConn)
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			if conn != nil {
				r = r.WithContext(auth.OnAuthenticated(r.Context(), conn.authenticated))
			}
			next.ServeHTTP(w, r)
			return
		}
		// The request's admission state, its body and its response
		// controller in one allocation.
		st := &admitted{rc: *http.NewResponseController(w)}
		rc := &st.rc
		if a.bodyTimeout > 0 {
			// Not every ResponseWriter supports deadlines (tests' recorders);
			// without one the body is still bounded by its size.
			_ = rc.SetReadDeadline(a.now().Add(a.bodyTimeout))
		}
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		p := &st.p
		*p = pending{a: a, ip: ip, charge: a.charge(r.ContentLength), header: w.Header(), conn: conn}
		// Until the request authenticates, its answer closes the
		// connection: net/http would otherwise drain up to 256 KiB of an
		// unread body to reuse it.
		p.header.Set("Connection", "close")
		r = r.WithContext(auth.OnAuthenticated(r.Context(), p.authenticated))
		st.body = admittedBody{ReadCloser: r.Body, p: p, rc: rc}
		r.Body = &st.body
		defer p.done()
		next.ServeHTTP(w, r)
	})
}

// admitted is what admission keeps for a request with a body.
type admitted struct {
	p    pending
	body admittedBody
	rc   http.ResponseController
}

// pending is the admission state of one request.
type pending struct {
	a      *admission
	ip     string
	charge int64
	header http.Header
	conn   *admittedConn // nil when the listener is not admission's

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
	if p.conn != nil {
		p.conn.authenticated()
	}
}

// admit reports whether the body may be read now.
func (p *pending) admit() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.authed || p.holding {
		return true
	}
	if p.ended || !p.a.acquire(p.ip, p.charge) {
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
		p.a.release(p.ip, p.charge)
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
// key or a client certificate; viewers included), and records each call,
// and each refusal for want of credentials, as operation op before its
// answer (docs/audit.md). The client listener guards the operational
// views with it; the ops listener does not (nor records its calls).
func (n *Node) requirePrincipal(op string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := n.gateway().Authenticator().Request(r)
		if err != nil {
			if n.recordControl(w, r, op, nil, http.StatusUnauthorized, "") {
				w.Header().Set("WWW-Authenticate", `Bearer realm="meridian"`)
				writeOpsError(w, http.StatusUnauthorized, "authentication required: send an API key as \"Authorization: Bearer <key>\" (a viewer's is enough), or scrape the ops listener (server.ops_listen)")
			}
			return
		}
		if n.recordControl(w, r, op, &p, http.StatusOK, "") {
			next.ServeHTTP(w, r)
		}
	})
}

// Operations of the node's own endpoints, as audit events name them
// (eventName; the console's are ui.Op*).
const (
	opGetMetrics       = "GetMetrics"
	opGetRegions       = "GetRegions"
	opUnknownOperation = "UnknownOperation"
	opRedirect         = "Redirect"
)

// recordControl writes the audit event of a request to one of the node's
// own endpoints before its answer: op by p (nil: not authenticated, status
// 401), answered status; reason explains a 403. It sets the request id on
// w. The event goes to the node's recorders (the audit trail) only: the
// console's feed and the request metrics keep to the API's requests. When
// the event cannot be written it answers 503 itself and returns false: a
// request that cannot be recorded is not served.
func (n *Node) recordControl(w http.ResponseWriter, r *http.Request, op string, p *auth.Principal, status int, reason string) bool {
	if err := n.auditControl(w, r, op, p, status, reason); err != nil {
		w.Header().Set("Retry-After", "1")
		writeOpsError(w, http.StatusServiceUnavailable, "the audit trail cannot be written; retry later")
		return false
	}
	return true
}

// controlErrorCodes are the audit events' errorCode of refused requests
// to the node's own endpoints (the gateway's error kinds, and one of
// their own for 405).
var controlErrorCodes = map[int]string{
	http.StatusBadRequest:       inference.KindInvalidRequest.String(),
	http.StatusUnauthorized:     inference.KindUnauthenticated.String(),
	http.StatusForbidden:        inference.KindPermissionDenied.String(),
	http.StatusNotFound:         inference.KindNotFound.String(),
	http.StatusMethodNotAllowed: "method_not_allowed",
}

// auditControl is recordControl without the 503: the console answers it
// in its own shape (ui.Options.Audit).
func (n *Node) auditControl(w http.ResponseWriter, r *http.Request, op string, p *auth.Principal, status int, reason string) error {
	now := n.clock.Now()
	rec := &gateway.Record{RequestID: telemetry.NewRequestID(), Operation: op, Side: "source", SourceIP: gateway.ClientIP(r),
		UserAgent: gateway.UserAgent(r), SourceRegion: n.region.ID, Allowed: status != http.StatusForbidden, Started: now,
		Status: status, ErrorCode: controlErrorCodes[status], AuthMethod: auth.Principal{}.Method.String()}
	if p != nil {
		rec.PrincipalID, rec.AuthMethod, rec.KeyID = p.ID, p.Method.String(), p.KeyID
	}
	if !rec.Allowed {
		rec.DenyReason = inference.Clip(reason, inference.EchoLimit)
	}
	rec.RequestMetadata = controlAsked(r, op)
	w.Header().Set(gateway.HeaderRequestID, rec.RequestID)
	rec.Latency = n.clock.Now().Sub(now)
	return n.recorders.Record(context.WithoutCancel(r.Context()), rec)
}

// Bounds of what controlAsked keeps of the caller's request line.
const (
	maxAskedMethod    = 32
	maxAskedPath      = 256
	maxAskedRequestID = 128
)

// controlAsked is what a control event records of what was asked, as its
// requestMetadata (docs/audit.md): the request id a GetRequest read, the
// method and path (without the query) of an UnknownOperation or a
// Redirect, each in askedText's form; nil for the other operations, whose
// route says it all.
func controlAsked(r *http.Request, op string) map[string]string {
	switch op {
	case ui.OpGetRequest:
		return map[string]string{"requestId": askedText(r.PathValue("id"), maxAskedRequestID)}
	case opUnknownOperation, opRedirect:
		p := r.URL.EscapedPath()
		if r.RequestURI == "*" {
			p = "*"
		}
		return map[string]string{"method": askedText(r.Method, maxAskedMethod), "path": askedText(p, maxAskedPath)}
	}
	return nil
}

// askedText is s as the audit trail's request metadata may hold it
// (inference.ValidateMetadata's characters): every other byte, and "$",
// written as "$" and two hex digits; at most n bytes (n > 3), a longer
// text cut and ended with "...".
func askedText(s string, n int) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, min(3*len(s), n+3))
	for i := 0; i < len(s) && len(b) <= n; i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte(":_@#=/+,-.", c) >= 0:
			b = append(b, c)
		default:
			b = append(b, '$', hex[c>>4], hex[c&15])
		}
	}
	if len(b) > n {
		b = append(b[:n-3], "..."...)
	}
	return string(b)
}

// recordUnrouted records a request no route serves (404, 405, and the
// mux's 307 to a cleaned path) when it authenticates; a request without
// valid credentials is anonymous noise (scanners) and leaves no event
// (docs/audit.md). False when it could not be recorded and was answered
// 503.
func (n *Node) recordUnrouted(gw *gateway.Gateway) func(w http.ResponseWriter, r *http.Request, status int) bool {
	return func(w http.ResponseWriter, r *http.Request, status int) bool {
		p, err := gw.Authenticator().Request(r)
		if err != nil {
			return true
		}
		op := opUnknownOperation
		if status/100 == 3 {
			op = opRedirect
		}
		return n.recordControl(w, r, op, &p, status, "")
	}
}

// recordRedirects records the requests mux answers with a redirect to the
// cleaned path (a path with "//", "." or ".." segments): ServeMux answers
// them before any handler of it runs.
func recordRedirects(mux *http.ServeMux, record func(w http.ResponseWriter, r *http.Request, status int) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// "*" (OPTIONS * and its kin) the mux answers 400, not with a
		// redirect: it is left to the mux's own answer.
		if r.Method != http.MethodConnect && r.RequestURI != "*" {
			// The decoded path has every "//" and "/." its escaped form
			// (which the mux cleans) has: a cheap filter first.
			if mayNeedClean(r.URL.Path) {
				if p := r.URL.EscapedPath(); cleanPath(p) != p && !record(w, r, http.StatusTemporaryRedirect) {
					return
				}
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// mayNeedClean is a cheap test that cleanPath(p) == p unless it is true:
// a path that starts with "/" changes only with an empty, "." or ".."
// segment, each of which needs "//" or "/.".
func mayNeedClean(p string) bool {
	return p == "" || p[0] != '/' || strings.Contains(p, "//") || strings.Contains(p, "/.")
}

// cleanPath is net/http's: the path ServeMux redirects a request to when
// it differs from the request's.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// mayViewTraffic is the console's ui.Options.MaySee: a viewer (the
// operator's read-only role) sees every principal's traffic; any other
// principal needs a policy allowing ui.ActionViewTraffic on owner's
// traffic (ui.TrafficARN). Everyone's traffic (owner "*", the live
// stream's) needs both traffic/* and traffic/**: a pattern that matches
// strings of two lengths has a "*" and, matching "*" in first place, is
// one written for every owner, so a grant meant for some owners
// (traffic/?, traffic/app*) does not open the stream. In a topology
// without policies every principal may (policies.AllowsAll).
//
// It decides against the generation in force, not the one the console's
// handler was built with: the request's key is authenticated again there
// and must still name p, and that generation's compiled policies decide,
// so a reload that rotates the key or changes the grant takes effect on a
// live stream at its next frame.
func (n *Node) mayViewTraffic(r *http.Request, p auth.Principal, owner string) bool {
	g := n.current()
	// The key, as the console authenticates (ui.Authenticator).
	cur, err := g.gw.Authenticator().APIKey(auth.BearerKey(r))
	if err != nil || cur.ID != p.ID {
		return false
	}
	if cur.Viewer {
		return true
	}
	cat := g.gw.Catalog()
	in := gateway.AuthzInput{Principal: cur, Source: n.region.ID, SourceIP: gateway.ClientIP(r), SecureTransport: r.TLS != nil, Now: n.clock.Now()}
	allows := func(who string) bool {
		return g.policies.Decide(in, ui.ActionViewTraffic, ui.TrafficARN(cat.Partition(), n.region.ID, cat.Account(), who)) == nil
	}
	if owner == "*" {
		return allows("*") && allows("**")
	}
	return allows(owner)
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
func (n *Node) registerOps(mux *http.ServeMux, guard func(op string, h http.Handler) http.Handler) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", n.readyz)
	mux.Handle("GET /metrics", guard(opGetMetrics, n.metrics.Handler()))
	mux.Handle("GET /meridian/v1/regions", guard(opGetRegions, http.HandlerFunc(n.regions)))
	mux.HandleFunc("GET /meridian/v1/trust", n.trust) // public: what verifies receipts (trust.go)
}

// opsHandler serves the ops listener: metrics, probes and the regions
// view, without authentication. It is meant for localhost or a private
// network (server.ops_listen).
func (n *Node) opsHandler() http.Handler {
	mux := http.NewServeMux()
	n.registerOps(mux, func(_ string, h http.Handler) http.Handler { return h })
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
// its audit trail cannot be written, or while its quota store is away
// (unless quota.on_store_error is fail_open).
func (n *Node) readyz(w http.ResponseWriter, r *http.Request) {
	if !n.Ready() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	if n.audit != nil && n.audit.Err() != nil {
		// Every request would be refused: it could not be recorded.
		http.Error(w, "not ready: audit trail cannot be written", http.StatusServiceUnavailable)
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
	if n.opsLn == nil && addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s (%s: server.ops_listen): %w", addr, n.cfg.File, err)
		}
		n.opsLn = ln
	}
	if n.opsLn != nil {
		n.log.Info("ops listener serves metrics, probes and the regions view without authentication", "ops", n.OpsAddr())
	}
	return nil
}

// connKey is the context key of a request's *admittedConn.
type connKey struct{}

// connContext is the client server's ConnContext: it makes the
// connection's admission state reachable from its requests.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if ac, ok := c.(*admittedConn); ok {
		return context.WithValue(ctx, connKey{}, ac)
	}
	return ctx
}

// listener returns ln bounded by admission's per-address limit on
// connections not yet authenticated. A connection beyond it is answered
// 429 in the shape of Meridian's own API and closed; on a TLS listener
// (useTLS), where no plain answer is possible, it is closed at once. Both
// are counted in meridian_unauthenticated_refused_total{reason="connections"}.
func (a *admission) listener(ln net.Listener, useTLS bool) net.Listener {
	return &admittedListener{Listener: ln, a: a, tls: useTLS}
}

type admittedListener struct {
	net.Listener
	a   *admission
	tls bool
}

func (l *admittedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip, _, err := net.SplitHostPort(c.RemoteAddr().String())
		if err != nil {
			ip = c.RemoteAddr().String()
		}
		if ac := (&admittedConn{Conn: c, a: l.a, ip: ip}); l.a.openConn(ac) {
			return ac, nil
		}
		refuseConn(c, l.tls)
	}
}

// refusedBody is the answer to a connection beyond the limit.
var refusedBody = []byte(`{"error":{"code":429,"message":"too many connections from this address have not authenticated (server.limits.max_unauthenticated_connections_per_ip); authenticate on the connections you have, or retry later"}}` + "\n")

// refuseConn answers c 429 (unless it is to speak TLS) and closes it,
// without reading anything from it. The answer fits in a fresh socket's
// send buffer; the short deadline keeps the accept loop from waiting on a
// peer that does not read.
func refuseConn(c net.Conn, useTLS bool) {
	defer c.Close()
	if useTLS {
		return
	}
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	fmt.Fprintf(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n", len(refusedBody))
	c.Write(refusedBody)
}

// openConn counts c; false when its address already has maxConns
// connections older than the grace period, or connectionBurst times as
// many in all, that have not authenticated. Connections are kept in
// opening order, so the old ones are a prefix: at most maxConns of them
// are looked at.
func (a *admission) openConn(c *admittedConn) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	conns := a.conns[c.ip]
	if conns == nil {
		conns = list.New()
	}
	old := 0
	for e := conns.Front(); e != nil && old < a.maxConns; e = e.Next() {
		if now.Sub(e.Value.(*admittedConn).opened) < a.grace {
			break
		}
		old++
	}
	if old >= a.maxConns || conns.Len() >= connectionBurst*a.maxConns {
		a.refused.WithLabelValues("connections").Inc()
		return false
	}
	c.opened = now
	c.elem = conns.PushBack(c)
	a.conns[c.ip] = conns
	a.pendingConns.Inc()
	a.signalLocked()
	return true
}

// forgetConn stops counting c.
func (a *admission) forgetConn(c *admittedConn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	conns := a.conns[c.ip]
	conns.Remove(c.elem)
	if conns.Len() == 0 {
		delete(a.conns, c.ip)
	}
	a.pendingConns.Dec()
	a.signalLocked()
}

// admittedConn is a client connection counted until a request on it
// authenticates or it closes.
type admittedConn struct {
	net.Conn
	a  *admission
	ip string
	// opened and elem are set by openConn and guarded by a.mu.
	opened time.Time
	elem   *list.Element
	// uncounted is set once the connection no longer counts: a request on
	// it authenticated, or it closed.
	uncounted atomic.Bool
}

// authenticated stops counting the connection: a request on it proved
// who it is.
func (c *admittedConn) authenticated() {
	if c.uncounted.CompareAndSwap(false, true) {
		c.a.forgetConn(c)
	}
}

func (c *admittedConn) Close() error {
	c.authenticated() // a closed connection no longer counts either way
	return c.Conn.Close()
}
