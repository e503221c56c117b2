package bedrock

import (
	"errors"
	"log/slog"
	"net/http"
	"os"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/profilestore"
	"github.com/meridian-gateway/meridian/internal/telemetry"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// HeaderRequestID is the request id header the AWS SDK reads
// (aws/middleware/request_id_retriever.go).
const HeaderRequestID = "X-Amzn-Requestid"

// Options configure the front end. With the zero value, New accepts the
// topology's access keys (secrets from the environment and files) and API
// keys, stores created profiles under ./data, authorizes profile management
// with the topology's policies, and distributes nothing.
type Options struct {
	// MaxRequestBytes bounds request bodies (413 beyond). If zero,
	// topology.DefaultMaxRequestBytes.
	MaxRequestBytes int64
	// SigV4 verifies signed requests. If nil, New builds one from the
	// topology's access keys (secrets read with Getenv and ReadFile).
	SigV4 *auth.SigV4
	// SigV4Options tune the verifier New builds (skew window, presigned
	// URLs, unsigned payloads); Region, Getenv and ReadFile are filled in.
	SigV4Options auth.SigV4Options
	// Profiles is the node's application-profile registry: the handler
	// translates the control-plane API to its calls, and whoever owns it
	// (the node) keeps the gateway's catalog in step with it. If nil, New
	// opens one on Store (or DataDir) and keeps g's catalog in step itself,
	// for a handler used without a node.
	Profiles *profilestore.Registry
	// DataDir is the data directory of the registry New opens when
	// Profiles is nil; created application profiles persist in
	// DataDir/<region>/profiles.json. If empty, "./data".
	DataDir string
	// Store overrides the profile store built from DataDir (Profiles nil).
	Store *profilestore.Store
	// Peers distributes profile changes to other regions. May be nil.
	Peers Peers
	// Authorizer decides control-plane actions. If nil, the topology's
	// policies decide (PolicyAuthorizer); without policies, everything
	// authenticated is allowed.
	Authorizer Authorizer
	// Getenv and ReadFile load SigV4 secrets. If nil, os.Getenv and
	// os.ReadFile.
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	Logger   *slog.Logger
	// Clock tells the time (request receipt, latencies, profile records,
	// SigV4 skew unless SigV4Options.Clock is set). If nil, clock.Wall.
	Clock clock.Clock
}

// Handler serves the Bedrock Runtime API and the inference-profile control
// plane for one gateway. It is safe for concurrent use.
type Handler struct {
	g     *gateway.Gateway
	opts  Options
	sigv4 *auth.SigV4
	log   *slog.Logger
	// profiles holds the API-created application profiles.
	profiles *profilestore.Registry
}

// New returns the front end for g. It loads the access keys' secrets,
// compiles the topology's policies for the control plane and, without
// opts.Profiles, opens the persisted application profiles and keeps g's
// catalog in step with them.
// Problems are logged, never fatal: a key whose secret cannot be read is
// not accepted, and a store that cannot be read refuses changes.
func New(g *gateway.Gateway, opts Options) *Handler {
	if opts.MaxRequestBytes == 0 {
		opts.MaxRequestBytes = topology.DefaultMaxRequestBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Clock = clock.Or(opts.Clock)
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	if opts.DataDir == "" {
		opts.DataDir = "./data"
	}
	h := &Handler{g: g, opts: opts, log: opts.Logger, sigv4: opts.SigV4, profiles: opts.Profiles}
	if h.opts.Authorizer == nil {
		p, err := gateway.NewPolicyAuthorizer(g.Config())
		if err != nil {
			h.log.Error("policies do not compile; profile management is refused", telemetry.AttrError, err)
			h.opts.Authorizer = denyAll{err: err}
		} else {
			h.opts.Authorizer = PolicyAuthorizer{P: p}
		}
	}
	if h.sigv4 == nil {
		so := opts.SigV4Options
		so.Region, so.Getenv, so.ReadFile = g.Region(), opts.Getenv, opts.ReadFile
		if so.Clock == nil {
			so.Clock = opts.Clock
		}
		v, err := auth.NewSigV4(g.Config(), so)
		if err != nil {
			h.log.Error("some SigV4 access keys are disabled", telemetry.AttrError, err)
		}
		h.sigv4 = v
	}
	if h.profiles == nil {
		h.profiles = h.openProfiles()
	}
	return h
}

// openProfiles opens the registry of a handler used without a node, and
// keeps g's catalog (its base plus the registry's profiles) in step with
// it, as a node does for its gateways.
func (h *Handler) openProfiles() *profilestore.Registry {
	store := h.opts.Store
	if store == nil {
		store = profilestore.Open(h.opts.DataDir, h.g.Region())
	}
	reg := profilestore.NewRegistry(store)
	if err := reg.Err(); err != nil {
		h.log.Error("application profile store unreadable; profile changes are refused until it is fixed", "path", store.Path(), telemetry.AttrError, err)
	}
	base := h.g.Catalog()
	reg.Subscribe(func(r *profile.Registry) {
		cat, skipped := r.Catalog(base)
		for _, e := range skipped {
			h.log.Warn("application profile not applied", telemetry.AttrProfile, e.ID, telemetry.AttrError, e.Err)
		}
		h.g.SetCatalog(cat)
	})
	return reg
}

// Register adds the front end's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /model/{modelId}/converse", h.converse)
	mux.HandleFunc("POST /model/{modelId}/converse-stream", h.converseStream)
	mux.HandleFunc("POST /model/{modelId}/invoke", h.invoke)
	mux.HandleFunc("POST /model/{modelId}/invoke-with-response-stream", h.invokeStream)
	mux.HandleFunc("POST /model/{modelId}/count-tokens", h.countTokens)
	mux.HandleFunc("GET /inference-profiles", h.listProfiles)
	mux.HandleFunc("POST /inference-profiles", h.createProfile)
	mux.HandleFunc("GET /inference-profiles/{id}", h.getProfile)
	mux.HandleFunc("DELETE /inference-profiles/{id}", h.deleteProfile)
}

// begin creates the call of a request and sets the headers every answer
// carries: the AWS request id (= the Meridian request id) and the source.
func (h *Handler) begin(w http.ResponseWriter, r *http.Request, op string) *gateway.Call {
	call := gateway.NewCall(r, op, h.opts.Clock.Now())
	hd := w.Header()
	hd.Set(HeaderRequestID, call.RequestID)
	hd.Set(gateway.HeaderRequestID, call.RequestID)
	hd.Set(gateway.HeaderSourceRegion, h.g.Region())
	return call
}

// readAuthenticated authenticates the request, then reads its body. Every
// check that needs no body runs first (API key, client certificate, and
// SigV4's format, scope, access key and clock skew), so that a request that
// cannot authenticate is refused before a byte of its body is read. A
// SigV4 signature over the body's hash (no signed X-Amz-Content-Sha256)
// is verified after a read bounded by MaxRequestBytes; until then the
// request counts as unauthenticated against its address's limits.
func (h *Handler) readAuthenticated(w http.ResponseWriter, r *http.Request, call *gateway.Call) ([]byte, error) {
	check, err := h.authenticate(r, call)
	if err != nil {
		// The unread body is not drained for the next request: the
		// connection closes after the answer.
		w.Header().Set("Connection", "close")
		return nil, err
	}
	body, rerr := gateway.ReadBody(w, r, h.opts.MaxRequestBytes)
	if rerr != nil {
		if errors.Is(rerr, auth.ErrUnauthenticatedLimit) {
			w.Header().Set("Connection", "close")
			return nil, unauthenticatedLimit()
		}
		return nil, rerr
	}
	if check != nil {
		p, err := check.Verify(body)
		if err != nil {
			return nil, authError(err)
		}
		call.Principal = p
		auth.Authenticated(r.Context())
	}
	call.ServiceTier = gateway.ReadServiceTier(r.Header, body)
	return body, nil
}

// authenticate checks the request's credentials from its headers and
// connection: SigV4 when it is signed, else an API key as "Authorization:
// Bearer" (the form Bedrock API keys take) or a verified client
// certificate. It returns the pending SigV4 check when the signature can
// only be verified with the body; call.Principal is set otherwise.
func (h *Handler) authenticate(r *http.Request, call *gateway.Call) (*auth.SigV4Check, error) {
	if auth.IsSigV4(r) {
		c, err := h.sigv4.Check(r)
		if err != nil {
			return nil, authError(err)
		}
		if c.Signed() {
			auth.Authenticated(r.Context())
		}
		return c, nil
	}
	p, err := h.g.Authenticator().Request(r)
	if errors.Is(err, auth.ErrMissingCredentials) {
		err = auth.ErrSigV4Missing
	}
	if err != nil {
		return nil, authError(err)
	}
	call.Principal = p
	return nil, nil
}

// reject records a request refused before the gateway's path and renders it.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request, call *gateway.Call, err error) {
	writeError(w, h.g.Reject(r.Context(), call, err))
}
