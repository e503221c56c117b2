package openai

import (
	"net/http"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// embeddings serves POST /v1/embeddings: routed through profiles,
// residency, authorization (bedrock:InvokeModel), quotas (input tokens)
// and audit like a chat completion, to deployments with the embeddings
// capability only. The answer is OpenAI's embeddings list as the backend
// produced it (an OpenAI upstream's as received, a Bedrock model's
// translated), with the model the caller named.
func (h *Handler) embeddings(w http.ResponseWriter, r *http.Request) {
	call := h.call(r, OpEmbeddings)
	w.Header().Set(gateway.HeaderRequestID, call.RequestID)
	w.Header().Set(gateway.HeaderSourceRegion, h.g.Region())
	p, err := h.authenticate(r)
	if err != nil {
		writeError(w, h.g.Reject(r.Context(), call, err))
		return
	}
	call.Principal = p
	body, rerr := gateway.ReadBody(w, r, h.opts.MaxRequestBytes)
	if rerr != nil {
		if rerr.Kind == inference.KindPayloadTooLarge {
			rerr.Code = "request_too_large"
		}
		writeError(w, h.g.Reject(r.Context(), call, rerr))
		return
	}
	req, err := inference.Peek(inference.DialectOpenAIEmbeddings, "", body, false)
	call.Request = req
	if err != nil {
		writeError(w, h.g.Reject(r.Context(), call, err))
		return
	}
	out, err := h.g.Invoke(r.Context(), call)
	if err != nil {
		writeError(w, inference.AsError(err))
		return
	}
	out.Route.SetHeaders(w.Header())
	for k, v := range out.Header {
		w.Header()[k] = v
	}
	if out.Stream != nil {
		out.Stream.Close()
		writeError(w, &inference.Error{Kind: inference.KindInternal, Message: "internal error"})
		return
	}
	resp := out.Response
	if resp.Dialect != inference.DialectOpenAIEmbeddings || resp.Body == nil {
		writeError(w, &inference.Error{Kind: inference.KindUpstream, Message: "the deployment answered an embeddings request with something else; is it an embedding model?"})
		return
	}
	writeRaw(w, inference.AppendSetString(nil, resp.Body, "model", req.Model))
}
