package openai

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/api/anthropic"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/schema/bedrockmodel"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// beginListing starts a request of the model list (GET /v1/models and
// /v1/models/{id}, no body): it creates the call, sets the request id
// header and authenticates the caller. It returns the call, or renders
// the error (recorded) and returns nil on failure.
//
// An Anthropic client (anthropic.WantsModelShape: it sends
// anthropic-version) is answered here, in Anthropic's shape, and
// beginListing returns nil: its SDK cannot read OpenAI's list. Both
// shapes list the same entries (callable).
func (h *Handler) beginListing(w http.ResponseWriter, r *http.Request) *gateway.Call {
	call := gateway.NewCall(r, gateway.OpListModels, h.opts.Clock.Now())
	w.Header().Set(gateway.HeaderRequestID, call.RequestID)
	if anthropic.WantsModelShape(r) {
		h.anthropicListing(w, r, call)
		return nil
	}
	if err := h.g.Authenticate(r, call); err != nil {
		h.reject(w, r, call, doorError(err))
		return nil
	}
	return call
}

// anthropicListing serves a model list request in Anthropic's shape: the
// page GET /v1/models asks for, or the entry of GET /v1/models/{id}.
// Like every request, a refusal or an answer is recorded (invariant 4 in
// docs/architecture.md) before it is sent.
func (h *Handler) anthropicListing(w http.ResponseWriter, r *http.Request, call *gateway.Call) {
	anthropic.SetRequestID(w.Header(), call.RequestID)
	if err := h.g.Authenticate(r, call); err != nil {
		anthropic.WriteError(w, h.g.Reject(r.Context(), call, err), h.opts.Clock.Now())
		return
	}
	models := h.callable(call, true)
	var b []byte
	var err *inference.Error
	get := strings.HasPrefix(r.URL.Path, "/v1/models/")
	if get {
		b, err = anthropic.ModelEntry(r.PathValue("id"), h.g.Region(), models)
	} else {
		b, err = anthropic.ModelListPage(r, models)
	}
	if err != nil {
		anthropic.WriteError(w, h.g.Reject(r.Context(), call, err), h.opts.Clock.Now())
		return
	}
	if get {
		h.recordListing(r, call, r.PathValue("id"))
	} else {
		h.recordListing(r, call, "")
	}
	anthropic.WriteModelAnswer(w, b)
}

// recordListing records a model list request answered 200, as the Bedrock
// front end records ListInferenceProfiles and GetInferenceProfile
// (internal/api/bedrock/profiles.go): a get names the entry, by its id
// and the ARN the id resolves to.
func (h *Handler) recordListing(r *http.Request, call *gateway.Call, id string) {
	arn := ""
	if id != "" {
		if res, err := h.g.Catalog().Resolve(h.g.Region(), id); err == nil {
			arn = res.ProfileARN
		}
	}
	h.g.RecordControl(r.Context(), call, id, arn, http.StatusOK)
}

// callable lists what GET /v1/models lists to call's principal, in both
// shapes: the inference profiles callable from this region, then the
// models deployed in it, each id once, and of those only the ones the
// principal may invoke from here (gateway.Gateway.Invocable, with either
// invoke action), so that a caller restricted to some profiles learns the
// names of no others. An id that names both a profile and a deployed
// model (a model may be called eu.demo.oa, the id of the system profile
// of demo.oa) names the profile, as profile.Catalog.Resolve looks
// profiles up first (internal/profile/resolve.go): the profile is listed
// when it is callable from here, and the model never, since that id
// cannot call it. Listing an id twice would send a pager walking by
// after_id backwards, forever. withFeatures fills each entry's Features
// and AlwaysThinks, which only Anthropic's shape reports.
func (h *Handler) callable(call *gateway.Call, withFeatures bool) []anthropic.Model {
	cat, cfg, region := h.g.Catalog(), h.g.Config(), h.g.Region()
	window := make(map[string]int, len(cfg.Models)) // context windows, by model
	for _, m := range cfg.Models {
		if m.ContextWindow > 0 {
			window[m.ID] = m.ContextWindow
		}
	}
	var out []anthropic.Model
	// add lists the entry id, which calls model, when the principal may
	// invoke it: its limits are the model's context window, when its
	// topology entry sets one, and its features those of the model's
	// deployments in the destinations the principal may use.
	add := func(id string, created time.Time) {
		res, err := cat.Resolve(region, id)
		if err != nil {
			return
		}
		allowed := h.g.Invocable(call, res)
		if len(allowed) == 0 {
			return
		}
		m := anthropic.Model{ID: id, CreatedAt: created, MaxInputTokens: window[res.Model], MaxTokens: window[res.Model]}
		if withFeatures {
			m.Features, m.AlwaysThinks = features(cfg, res.Model, allowed)
		}
		out = append(out, m)
	}
	for _, pr := range cat.CallableFrom(region) { // each id once, sorted
		add(pr.ID, pr.CreatedAt)
	}
	var seen map[string]bool
	for _, d := range cfg.DeploymentsIn(region) {
		if _, ok := cat.Get(d.Model); ok || seen[d.Model] {
			continue
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		seen[d.Model] = true
		add(d.Model, time.Time{})
	}
	return out
}

// features returns the capabilities that some deployment of model has in
// one of regions, sorted, where the gateway routes a request that uses
// one (internal/gateway/capability.go), and whether one of them cannot
// turn thinking off: gpt-oss served through Bedrock's API, for which
// the translation refuses thinking of type disabled
// (internal/translate/anthropic_converse.go).
func features(cfg *topology.Config, model string, regions []string) (caps []string, alwaysThinks bool) {
	for _, r := range regions {
		d, ok := cfg.Deployment(r, model)
		if !ok {
			continue
		}
		for _, c := range d.EffectiveCapabilities() {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
		switch {
		case d.Backend.Type == topology.BackendBedrock:
			alwaysThinks = alwaysThinks || d.Backend.BedrockFamily() == bedrockmodel.GPTOSS
		case d.Backend.Type == topology.BackendMock && d.Backend.API == topology.BackendBedrock:
			alwaysThinks = alwaysThinks || bedrockmodel.SimulatorFamily(cmp.Or(d.Backend.Model, d.Model)) == bedrockmodel.GPTOSS
		}
	}
	slices.Sort(caps)
	return caps, alwaysThinks
}

// openAIEntry is m's entry in OpenAI's shape. A profile without a
// creation time (zero time) reports 0.
func openAIEntry(m anthropic.Model) modelEntry {
	return modelEntry{ID: m.ID, Object: "model", Created: max(m.CreatedAt.Unix(), 0), OwnedBy: "meridian"}
}

// model serves GET /v1/models/{id}: the entry GET /v1/models lists for
// id, or a 404 in OpenAI's shape (recorded) for an id that is unknown, not
// callable from this region or not one the caller may invoke: the three
// answer alike, as OpenAI answers model_not_found for a model the key has
// no access to, so that a get tells no more than the list.
func (h *Handler) model(w http.ResponseWriter, r *http.Request) {
	call := h.beginListing(w, r)
	if call == nil {
		return
	}
	id := r.PathValue("id")
	for _, m := range h.callable(call, false) {
		if m.ID == id {
			h.recordListing(r, call, id)
			writeJSON(w, http.StatusOK, openAIEntry(m))
			return
		}
	}
	h.reject(w, r, call, &inference.Error{Kind: inference.KindNotFound, Code: "model_not_found", Param: "model",
		Message: "The model '" + inference.Clip(id, inference.EchoLimit) + "' does not exist or is not callable from " + h.g.Region()})
}
