package ui

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/policy"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

//go:embed static
var static embed.FS

// Paths the console serves.
const (
	PathConsole = "/ui/"
	PathLive    = "/meridian/v1/live"
	// PathRequest is followed by a request id.
	PathRequest = "/meridian/v1/requests/"
	// PathDemoRegion is followed by a region id (demo only).
	PathDemoRegion = "/meridian/v1/demo/regions/"
)

// Authenticator checks the API key a console call presents.
type Authenticator interface {
	APIKey(key string) (auth.Principal, error)
}

// Options configure a [Handler].
type Options struct {
	Live *Live
	Auth Authenticator
	// State returns the node's view of every region (GET
	// /meridian/v1/regions' body); it is called at most once a second.
	State func() any
	// Demo is set only in demo mode; it enables the operator actions.
	Demo DemoControl
	// Closing reports that the node is draining; live streams then end so
	// that shutdown does not wait for them. May be nil.
	Closing func() bool
	// Interval is how often a frame is built and sent. If zero, 1s.
	Interval time.Duration
	Logger   *slog.Logger
	// Clock paces the live stream and dates frames. If nil, clock.Wall.
	Clock clock.Clock
	// Audit records each console API call (the live stream, a request
	// record, an operator action) before it is answered, once: the
	// authenticated ones and the ones refused for want of a valid key
	// (docs/audit.md). It sets the call's request id on w. An error
	// refuses the call with 503: it could not be recorded. May be nil
	// (tests of the page alone).
	Audit func(w http.ResponseWriter, r *http.Request, c Call) error
	// MaySee reports whether p may see the traffic of principal owner
	// ("*": of every principal: the live stream's flows and totals). A
	// principal always reads its own requests' records. The live stream
	// asks it again before every frame, against the topology then in force
	// (a reload that revokes the key or the grant ends the stream), and
	// shows only the recent requests of owners it allows. Nil: every
	// principal may see everything.
	MaySee func(r *http.Request, p auth.Principal, owner string) bool
}

// Console API operations, as audit events name them (eventName).
const (
	OpStreamLive    = "StreamLive"
	OpGetRequest    = "GetRequest"
	OpOperateRegion = "OperateRegion"
)

// Call is one console API call as [Options.Audit] records it.
type Call struct {
	// Operation is one of the Op* constants.
	Operation string
	// Principal is nil when the caller did not authenticate (status 401).
	Principal *auth.Principal
	// Status is the HTTP status answered.
	Status int
	// Reason explains a refusal (403), as the audit event's decision.
	Reason string
}

// ActionViewTraffic is the policy action that lets a principal see every
// principal's traffic in the console (docs/policies.md). Its resource is
// TrafficARN's.
const ActionViewTraffic = policy.ActionViewTraffic

// TrafficARN is the resource of ActionViewTraffic: the traffic of one
// principal, or of all ("*": the live stream), entering region.
func TrafficARN(partition, region, account, principal string) string {
	return "arn:" + partition + ":meridian:" + region + ":" + account + ":traffic/" + principal
}

// errUnrecordedMsg answers a console call that could not be recorded.
const errUnrecordedMsg = "the audit trail cannot be written; retry later"

// Handler serves the console and its API.
type Handler struct {
	opts Options

	mu      sync.Mutex
	built   *Frame
	frame   []byte
	builtAt time.Time
}

// NewHandler returns the console's handler.
func NewHandler(opts Options) *Handler {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	opts.Clock = clock.Or(opts.Clock)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Closing == nil {
		opts.Closing = func() bool { return false }
	}
	return &Handler{opts: opts}
}

// Register adds the console's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	sub, _ := fs.Sub(static, "static")
	files := http.StripPrefix("/ui", http.FileServerFS(sub))
	mux.Handle("GET "+PathConsole, securityHeaders(files))
	mux.Handle("GET /ui", http.RedirectHandler(PathConsole, http.StatusMovedPermanently))
	mux.HandleFunc("GET "+PathLive, h.live)
	mux.HandleFunc("GET "+PathRequest+"{id}", h.request)
	mux.HandleFunc("POST "+PathDemoRegion+"{region}", h.operate)
}

// securityHeaders keeps the console to its own origin: no external
// scripts, styles, fonts or connections, and no framing.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// authenticate answers 401 (recorded as op) unless the request carries a
// valid API key. Viewers may read; the console never needs inference
// permission.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, op string) (auth.Principal, bool) {
	p, err := h.opts.Auth.APIKey(auth.BearerKey(r))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meridian"`)
		if h.record(w, r, Call{Operation: op, Status: http.StatusUnauthorized}) {
			writeError(w, http.StatusUnauthorized, "a valid API key is required (Authorization: Bearer <key>)")
		}
		return auth.Principal{}, false
	}
	auth.Authenticated(r.Context())
	return p, true
}

// record records c with Options.Audit before its answer; false when it
// could not be, and the caller was answered 503 instead.
func (h *Handler) record(w http.ResponseWriter, r *http.Request, c Call) bool {
	if h.opts.Audit == nil {
		return true
	}
	if err := h.opts.Audit(w, r, c); err != nil {
		h.opts.Logger.Error("console call not recorded: refused", "operation", c.Operation, telemetry.AttrError, err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, errUnrecordedMsg)
		return false
	}
	return true
}

// answer records the call of p with status, then, if it was recorded,
// writes msg as its error (a status >= 400) or leaves the answer to the
// caller (true).
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, op string, p auth.Principal, status int, msg string) bool {
	c := Call{Operation: op, Principal: &p, Status: status}
	if status == http.StatusForbidden {
		c.Reason = msg
	}
	if !h.record(w, r, c) {
		return false
	}
	if status >= 400 {
		writeError(w, status, msg)
		return false
	}
	return true
}

// maySee reports whether p may see owner's traffic ("*": everyone's).
func (h *Handler) maySee(r *http.Request, p auth.Principal, owner string) bool {
	return h.opts.MaySee == nil || h.opts.MaySee(r, p, owner)
}

// currentFrame returns the frame and its encoding, rebuilt at most once
// per interval however many consoles are open.
func (h *Handler) currentFrame() (*Frame, []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.opts.Clock.Now()
	if h.frame != nil && now.Sub(h.builtAt) < h.opts.Interval*9/10 {
		return h.built, h.frame
	}
	var state any
	if h.opts.State != nil {
		state = h.opts.State()
	}
	f := h.opts.Live.Frame(state)
	if h.opts.Demo != nil {
		f.Demo = h.opts.Demo.Actions()
	}
	h.built, h.frame, h.builtAt = f, mustMarshal(f), now
	return f, h.frame
}

func mustMarshal(f *Frame) []byte {
	b, err := json.Marshal(f)
	if err != nil {
		// Every field marshals; this is a programmer error.
		panic(fmt.Sprintf("encode console frame: %v", err))
	}
	return b
}

// frameFor returns the current frame as p sees it: the recent requests of
// owners p may not see are left out (a Deny of one owner's traffic holds
// on the live stream too). The shared encoding is reused when p sees
// every row.
func (h *Handler) frameFor(r *http.Request, p auth.Principal) []byte {
	f, b := h.currentFrame()
	if h.opts.MaySee == nil {
		return b
	}
	seen := map[string]bool{}
	var keep []Summary
	hidden := false
	for i, s := range f.Recent {
		ok, asked := seen[s.Principal]
		if !asked {
			ok = s.Principal == p.ID || h.maySee(r, p, s.Principal)
			seen[s.Principal] = ok
		}
		if !ok && !hidden {
			hidden, keep = true, append([]Summary{}, f.Recent[:i]...)
		}
		if ok && hidden {
			keep = append(keep, s)
		}
	}
	if !hidden {
		return b
	}
	g := *f
	g.Recent = keep
	return mustMarshal(&g)
}

// liveDenied is the live stream's 403.
const liveDenied = "the live stream shows every principal's traffic: it needs viewer: true or a policy allowing " + ActionViewTraffic + " on every principal's traffic (docs/policies.md)"

// live streams a frame a second as Server-Sent Events (event "frame").
// The console reads it with fetch(), so the API key travels in the
// Authorization header, never in the URL.
func (h *Handler) live(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticate(w, r, OpStreamLive)
	if !ok {
		return
	}
	// The stream's flows and totals count every principal's requests.
	if !h.maySee(r, p, "*") {
		h.answer(w, r, OpStreamLive, p, http.StatusForbidden, liveDenied)
		return
	}
	if !h.answer(w, r, OpStreamLive, p, http.StatusOK, "") {
		return
	}
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	t := h.opts.Clock.NewTicker(h.opts.Interval)
	defer t.Stop()
	for {
		if _, err := fmt.Fprintf(w, "event: frame\ndata: %s\n\n", h.frameFor(r, p)); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C():
		}
		// Decided again for every frame: a reload that revoked the key
		// or the grant ends the stream (the console reconnects, and is
		// then asked for a key the topology in force accepts).
		if h.opts.Closing() || !h.maySee(r, p, "*") {
			return
		}
	}
}

// RequestView is the body of GET /meridian/v1/requests/{id}: one recent
// request as the console explains it.
type RequestView struct {
	Summary Summary `json:"summary"`
	// Attempts lists each destination tried, in order.
	Attempts []AttemptView `json:"attempts"`
	// AuditEvent is the event the audit trail wrote for this record (on
	// this node: the source side, or the destination side of a forwarded
	// request). Content is never included.
	AuditEvent *audit.Event `json:"audit_event"`
	// AuditQuery is the CLI command that finds the event in the trail
	// (the directory is a placeholder: the node's paths are not shown).
	AuditQuery string `json:"audit_query"`
}

// AttemptView is one destination tried for a request.
type AttemptView struct {
	Region string `json:"region"`
	// Outcome is "ok" or an error kind.
	Outcome    string `json:"outcome"`
	Status     int    `json:"status,omitempty"`
	DurationMs int64  `json:"duration_ms"`
}

func (h *Handler) request(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticate(w, r, OpGetRequest)
	if !ok {
		return
	}
	id := r.PathValue("id")
	rec, ok := h.opts.Live.Lookup(id)
	// Another principal's request is answered as one that is not here, so
	// that request ids (which are predictable) reveal nothing.
	if !ok || (rec.PrincipalID != p.ID && !h.maySee(r, p, rec.PrincipalID)) {
		h.answer(w, r, OpGetRequest, p, http.StatusNotFound, fmt.Sprintf("request %q is not among this node's recent requests of principals you may see", auth.Truncate(id, 64)))
		return
	}
	if !h.answer(w, r, OpGetRequest, p, http.StatusOK, "") {
		return
	}
	ev := audit.EventOf(&rec)
	// As the audit writer completes it; the hash-chain fields exist only
	// in the trail.
	ev.Content, ev.EventVersion, ev.RecordingRegion = nil, audit.EventVersion, h.opts.Live.region
	attempts := []AttemptView{}
	for _, a := range rec.Attempts {
		attempts = append(attempts, AttemptView{Region: a.Region, Outcome: a.Outcome, Status: a.Status, DurationMs: a.Duration.Milliseconds()})
	}
	// The node's audit.dir is not shown: a server path is none of the
	// caller's business; the operator knows it.
	writeJSON(w, http.StatusOK, RequestView{Summary: summaryOf(&rec), Attempts: attempts, AuditEvent: ev,
		AuditQuery: fmt.Sprintf("meridian audit query --event-id %s AUDIT_DIR/%s", rec.RequestID, h.opts.Live.region)})
}

// operate applies a demo operator action: POST {"action":"down"}.
func (h *Handler) operate(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticate(w, r, OpOperateRegion)
	if !ok {
		return
	}
	if h.opts.Demo == nil {
		h.answer(w, r, OpOperateRegion, p, http.StatusNotFound, "operator actions exist only in `meridian demo`")
		return
	}
	if p.Viewer {
		h.answer(w, r, OpOperateRegion, p, http.StatusForbidden, "viewers may not act on regions")
		return
	}
	var body struct {
		Action string `json:"action"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&body); err != nil {
		h.answer(w, r, OpOperateRegion, p, http.StatusBadRequest, "body must be JSON like {\"action\":\"down\"}")
		return
	}
	a, err := ParseAction(body.Action)
	if err != nil {
		h.answer(w, r, OpOperateRegion, p, http.StatusBadRequest, err.Error())
		return
	}
	region := r.PathValue("region")
	if _, known := h.opts.Demo.Actions()[region]; !known {
		h.answer(w, r, OpOperateRegion, p, http.StatusNotFound, fmt.Sprintf("unknown region %q: not in this demo", auth.Truncate(region, 64)))
		return
	}
	// Recorded before it acts.
	if !h.answer(w, r, OpOperateRegion, p, http.StatusOK, "") {
		return
	}
	if err := h.opts.Demo.Operate(region, a); err != nil {
		if errors.Is(err, ErrUnknownRegion) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("unknown region %q: not in this demo", auth.Truncate(region, 64)))
			return
		}
		h.opts.Logger.Error("demo operator action failed", telemetry.AttrRegion, auth.Truncate(region, 64), "action", a.String(), telemetry.AttrError, err)
		writeError(w, http.StatusInternalServerError, "the action could not be applied")
		return
	}
	h.opts.Logger.Info("demo operator action", telemetry.AttrRegion, region, "action", a.String(), telemetry.AttrPrincipal, p.ID)
	h.mu.Lock()
	h.frame = nil // the next frame shows the action at once
	h.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"region": region, "state": a.String()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}
