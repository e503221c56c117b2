package openai

import (
	"net/http"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// beginListing starts a request of the model list (GET /v1/models and
// /v1/models/{id}, no body): it creates the call, sets the request id
// header and authenticates the caller. It renders the error and returns
// false on failure.
func (h *Handler) beginListing(w http.ResponseWriter, r *http.Request) bool {
	call := gateway.NewCall(r, gateway.OpListModels, h.opts.Clock.Now())
	w.Header().Set(gateway.HeaderRequestID, call.RequestID)
	if err := h.g.Authenticate(r, call); err != nil {
		h.reject(w, r, call, doorError(err))
		return false
	}
	return true
}

// model serves GET /v1/models/{id}: the entry GET /v1/models lists for
// id, or a 404 in OpenAI's shape for an id that is unknown or not
// callable from this region.
func (h *Handler) model(w http.ResponseWriter, r *http.Request) {
	if !h.beginListing(w, r) {
		return
	}
	id := r.PathValue("id")
	for _, pr := range h.g.Catalog().CallableFrom(h.g.Region()) {
		if pr.ID == id {
			writeJSON(w, http.StatusOK, modelEntry{ID: pr.ID, Object: "model", Created: max(pr.CreatedAt.Unix(), 0), OwnedBy: "meridian"})
			return
		}
	}
	for _, d := range h.g.Config().DeploymentsIn(h.g.Region()) {
		if d.Model == id {
			writeJSON(w, http.StatusOK, modelEntry{ID: d.Model, Object: "model", OwnedBy: "meridian"})
			return
		}
	}
	writeError(w, &inference.Error{Kind: inference.KindNotFound, Code: "model_not_found", Param: "model",
		Message: "The model '" + inference.Clip(id, inference.EchoLimit) + "' does not exist or is not callable from " + h.g.Region()})
}
