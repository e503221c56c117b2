package bedrock

import (
	apianthropic "github.com/meridian-gateway/meridian/internal/api/anthropic"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// inferenceGeo applies, to an InvokeModel body, the rule the /v1/messages
// front end applies to Anthropic's inference_geo
// (apianthropic.InferenceGeo, on the profile the modelId resolves to):
// null, "global" or the geography of the system profile invoked are
// accepted and removed from the body, whatever the deployment (Claude on
// Bedrock, or a translated one); anything else, and a member named twice,
// with an escape or in another case, is a ValidationException naming
// inference_geo. It applies to a body decode read as another family's
// too: the member is Anthropic's, and a body whose anthropic_version is
// written with an escape reads as another family's here but as Claude's
// to Bedrock. A request decode or serve refuses is left as it is.
func (h *Handler) inferenceGeo(decode decodeFunc) decodeFunc {
	return func(model string, body []byte, stream bool) (*inference.Request, error) {
		req, err := decode(model, body, stream)
		if err != nil || model == "" || len(model) > maxModelIDBytes {
			return req, err
		}
		out, err := apianthropic.InferenceGeo(h.g.Catalog(), h.g.Region(), model, req.Body)
		if err != nil {
			return req, bedrockInvalid(err)
		}
		// The peek reads no inference_geo: what it found holds for the
		// body without it.
		req.Body = out
		return req, nil
	}
}
