package ui

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/clock"
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
	// AuditDir is the node's audit.dir, named in the console's audit
	// query hint. May be empty.
	AuditDir string
	// Interval is how often a frame is built and sent. If zero, 1s.
	Interval time.Duration
	Logger   *slog.Logger
	// Clock paces the live stream and dates frames. If nil, clock.Wall.
	Clock clock.Clock
}

// Handler serves the console and its API.
type Handler struct {
	opts Options

	mu      sync.Mutex
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

// authenticate answers 401 unless the request carries a valid API key.
// Viewers may read; the console never needs inference permission.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	p, err := h.opts.Auth.APIKey(auth.BearerKey(r))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meridian"`)
		writeError(w, http.StatusUnauthorized, "a valid API key is required (Authorization: Bearer <key>)")
		return auth.Principal{}, false
	}
	auth.Authenticated(r.Context())
	return p, true
}

// currentFrame returns the encoded frame, rebuilt at most once per
// interval however many consoles are open.
func (h *Handler) currentFrame() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.opts.Clock.Now()
	if h.frame != nil && now.Sub(h.builtAt) < h.opts.Interval*9/10 {
		return h.frame
	}
	var state any
	if h.opts.State != nil {
		state = h.opts.State()
	}
	f := h.opts.Live.Frame(state)
	if h.opts.Demo != nil {
		f.Demo = h.opts.Demo.Actions()
	}
	b, err := json.Marshal(f)
	if err != nil {
		// Every field marshals; this is a programmer error.
		panic(fmt.Sprintf("encode console frame: %v", err))
	}
	h.frame, h.builtAt = b, now
	return b
}

// live streams a frame a second as Server-Sent Events (event "frame").
// The console reads it with fetch(), so the API key travels in the
// Authorization header, never in the URL.
func (h *Handler) live(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.authenticate(w, r); !ok {
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
		if _, err := fmt.Fprintf(w, "event: frame\ndata: %s\n\n", h.currentFrame()); err != nil {
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
		if h.opts.Closing() {
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
	// AuditQuery is the CLI command that finds the event in the trail.
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
	if _, ok := h.authenticate(w, r); !ok {
		return
	}
	id := r.PathValue("id")
	rec, ok := h.opts.Live.Lookup(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("request %q is not among this node's recent requests", auth.Truncate(id, 64)))
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
	dir := h.opts.AuditDir
	if dir == "" {
		dir = "<audit dir>"
	}
	writeJSON(w, http.StatusOK, RequestView{Summary: summaryOf(&rec), Attempts: attempts, AuditEvent: ev,
		AuditQuery: fmt.Sprintf("meridian audit query --event-id %s %s", rec.RequestID, filepath.Join(dir, h.opts.Live.region))})
}

// operate applies a demo operator action: POST {"action":"down"}.
func (h *Handler) operate(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	if h.opts.Demo == nil {
		writeError(w, http.StatusNotFound, "operator actions exist only in `meridian demo`")
		return
	}
	if p.Viewer {
		writeError(w, http.StatusForbidden, "viewers may not act on regions")
		return
	}
	var body struct {
		Action string `json:"action"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "body must be JSON like {\"action\":\"down\"}")
		return
	}
	a, err := ParseAction(body.Action)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	region := r.PathValue("region")
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
