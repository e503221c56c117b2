package openai

import (
	"net/http"
	"strings"

	"github.com/meridian-gateway/meridian/internal/api/anthropic"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// beginListing starts a request of the model list (GET /v1/models and
// /v1/models/{id}, no body): it creates the call, sets the request id
// header and authenticates the caller. It renders the error and returns
// false on failure.
//
// An Anthropic client (anthropic.WantsModelShape: it sends
// anthropic-version) is answered here, in Anthropic's shape, and
// beginListing returns false: its SDK cannot read OpenAI's list. Both
// shapes list the same entries (callable).
func (h *Handler) beginListing(w http.ResponseWriter, r *http.Request) bool {
	call := gateway.NewCall(r, gateway.OpListModels, h.opts.Clock.Now())
	w.Header().Set(gateway.HeaderRequestID, call.RequestID)
	if anthropic.WantsModelShape(r) {
		h.anthropicListing(w, r, call)
		return false
	}
	if err := h.g.Authenticate(r, call); err != nil {
		h.reject(w, r, call, doorError(err))
		return false
	}
	return true
}

// anthropicListing serves a model list request in Anthropic's shape: the
// page GET /v1/models asks for, or the entry of GET /v1/models/{id}.
func (h *Handler) anthropicListing(w http.ResponseWriter, r *http.Request, call *gateway.Call) {
	anthropic.SetRequestID(w.Header(), call.RequestID)
	if err := h.g.Authenticate(r, call); err != nil {
		anthropic.WriteError(w, h.g.Reject(r.Context(), call, err), h.opts.Clock.Now())
		return
	}
	models := h.callable()
	var err *inference.Error
	if strings.HasPrefix(r.URL.Path, "/v1/models/") {
		err = anthropic.WriteModel(w, r.PathValue("id"), h.g.Region(), models)
	} else {
		err = anthropic.WriteModelList(w, r, models)
	}
	if err != nil {
		anthropic.WriteError(w, err, h.opts.Clock.Now())
	}
}

// callable lists what GET /v1/models lists: the inference profiles
// callable from this region, then the models deployed in it.
func (h *Handler) callable() []anthropic.Model {
	var out []anthropic.Model
	for _, pr := range h.g.Catalog().CallableFrom(h.g.Region()) {
		out = append(out, anthropic.Model{ID: pr.ID, CreatedAt: pr.CreatedAt})
	}
	for _, d := range h.g.Config().DeploymentsIn(h.g.Region()) {
		out = append(out, anthropic.Model{ID: d.Model})
	}
	return out
}

// model serves GET /v1/models/{id}: the entry GET /v1/models lists for
// id, or a 404 in OpenAI's shape for an id that is unknown or not
// callable from this region.
func (h *Handler) model(w http.ResponseWriter, r *http.Request) {
	if !h.beginListing(w, r) {
		return
	}
	id := r.PathValue("id")
	for _, m := range h.callable() {
		if m.ID == id {
			// A profile without a creation time (zero time) reports 0.
			writeJSON(w, http.StatusOK, modelEntry{ID: m.ID, Object: "model", Created: max(m.CreatedAt.Unix(), 0), OwnedBy: "meridian"})
			return
		}
	}
	writeError(w, &inference.Error{Kind: inference.KindNotFound, Code: "model_not_found", Param: "model",
		Message: "The model '" + inference.Clip(id, inference.EchoLimit) + "' does not exist or is not callable from " + h.g.Region()})
}
