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
	call, body, ok := h.begin(w, r, OpEmbeddings)
	if !ok {
		return
	}
	// The tier is read as for every other API (OpenAI's embeddings body
	// has no service_tier; the Bedrock header applies to any invocation).
	call.ServiceTier = gateway.ReadServiceTier(r.Header, body)
	req, err := inference.Peek(inference.DialectOpenAIEmbeddings, "", body, false)
	out := h.invoke(w, r, call, req, err)
	if out == nil {
		return
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
