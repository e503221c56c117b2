package openai

import (
	"net/http"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// model serves GET /v1/models/{id}: the entry GET /v1/models lists for
// id, or a 404 in OpenAI's shape for an id that is unknown or not
// callable from this region.
func (h *Handler) model(w http.ResponseWriter, r *http.Request) {
	call := h.call(r, gateway.OpListModels)
	w.Header().Set(gateway.HeaderRequestID, call.RequestID)
	if _, err := h.authenticate(r); err != nil {
		writeError(w, h.g.Reject(r.Context(), call, err))
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
