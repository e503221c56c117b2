package bedrock

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// OpCountTokens is the Bedrock Runtime operation that counts a request's
// input tokens (POST /model/{modelId}/count-tokens), as records, audit
// events and metrics name it.
const OpCountTokens = "CountTokens"

// ActionCountTokens is the IAM action Bedrock authorizes CountTokens with.
const ActionCountTokens = "bedrock:CountTokens"

// countTokensBody is CountTokens' request: exactly one of the two input
// forms (aws-sdk-go-v2 service/bedrockruntime, types.CountTokensInput).
type countTokensBody struct {
	Input *struct {
		// Converse is a Converse body (messages, system, toolConfig,
		// additionalModelRequestFields).
		Converse json.RawMessage `json:"converse"`
		// InvokeModel carries an InvokeModel body, base64 in JSON.
		InvokeModel *struct {
			Body *string `json:"body"`
		} `json:"invokeModel"`
	} `json:"input"`
}

// decodeCountTokens turns a CountTokens body into the request it counts:
// the Converse or InvokeModel request the caller would send for model.
func decodeCountTokens(model string, body []byte) (*inference.Request, error) {
	none := &inference.Request{Model: model}
	var in countTokensBody
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&in); err != nil {
		return none, invalid("the request body is not a CountTokens request ({\"input\": {\"converse\": {...}} or {\"invokeModel\": {\"body\": \"<base64>\"}}}): " + inference.Clip(err.Error(), 2*inference.EchoLimit))
	}
	switch {
	case in.Input == nil:
		return none, invalid("input is required")
	case len(in.Input.Converse) > 0 && in.Input.InvokeModel != nil:
		return none, invalid("input must name exactly one of converse and invokeModel")
	case len(in.Input.Converse) > 0:
		c := bytes.TrimSpace(in.Input.Converse)
		if len(c) == 0 || c[0] != '{' {
			return none, invalid("input.converse must be an object")
		}
		return peekConverse(model, c, false)
	case in.Input.InvokeModel != nil:
		if in.Input.InvokeModel.Body == nil {
			return none, invalid("input.invokeModel.body is required")
		}
		raw, err := base64.StdEncoding.DecodeString(*in.Input.InvokeModel.Body)
		if err != nil {
			return none, invalid("input.invokeModel.body is not base64: " + err.Error())
		}
		req, err := inference.PeekInvoke(model, raw, false)
		if err == nil {
			// What InvokeModel refuses for a member Meridian reads
			// ambiguously (internal/gateway/ambiguous.go), this refuses too.
			if e := gateway.CheckAmbiguous(req); e != nil {
				err = e
			}
		}
		return req, bedrockInvalid(err)
	}
	return none, invalid("input must name one of converse and invokeModel")
}

// countTokens serves CountTokens. It authenticates and validates like the
// inference operations, resolves modelId in this (the source) region,
// authorizes bedrock:CountTokens on the profile ARN and on the
// foundation-model ARN in every destination region, and answers
// {"inputTokens": N} with the gateway's estimate of the prompt (the
// length-based estimate quotas reserve, and the number Anthropic's
// /v1/messages/count_tokens answers), not a tokenizer's count. It reaches
// no backend, so no data leaves the source region and no quota is charged.
// Every answer, success or refusal, is recorded once.
func (h *Handler) countTokens(w http.ResponseWriter, r *http.Request) {
	call := h.begin(w, r, OpCountTokens)
	body, err := h.readAuthenticated(w, r, call)
	if err != nil {
		h.reject(w, r, call, err)
		return
	}
	model := r.PathValue("modelId")
	if err := checkInvokeContentType(r); err != nil {
		h.reject(w, r, call, err)
		return
	}
	req, err := decodeCountTokens(model, body)
	call.Request = req
	if err == nil {
		err = checkModelID(model)
	}
	if err != nil {
		h.reject(w, r, call, err)
		return
	}
	cat := h.g.Catalog()
	res, rerr := cat.Resolve(h.g.Region(), model)
	if rerr != nil {
		// The gateway words (with its "did you mean") and records the
		// refusal of a model it cannot resolve in this region.
		if e := h.g.Authorize(r.Context(), call); e != nil {
			writeError(w, e)
			return
		}
		h.reject(w, r, call, rerr)
		return
	}
	in := ControlInput{Principal: call.Principal, Action: ActionCountTokens, Region: h.g.Region(),
		SourceIP: call.SourceIP, SecureTransport: call.SecureTransport, Now: h.opts.Clock.Now()}
	if res.Profile != nil {
		in.Resource, in.ResourceTags = res.ProfileARN, res.Profile.Tags
		if err := h.opts.Authorizer.AuthorizeControl(r.Context(), in); err != nil {
			h.reject(w, r, call, err)
			return
		}
	}
	in.ResourceTags = nil
	for i := range res.Destinations {
		in.Resource = res.ModelARN(cat.Partition(), i)
		if err := h.opts.Authorizer.AuthorizeControl(r.Context(), in); err != nil {
			h.reject(w, r, call, err)
			return
		}
	}
	b, _ := json.Marshal(struct {
		InputTokens int `json:"inputTokens"`
	}{min(req.EstimatedInputTokens(), 1<<31-1)})
	h.g.RecordControl(r.Context(), call, res.ProfileID, res.ProfileARN, http.StatusOK)
	w.Header().Set(gateway.HeaderInferenceProfile, res.ProfileID)
	writeRawJSON(w, b)
}
