package anthropic

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// InferenceGeo applies Meridian's one rule for Anthropic's inference_geo
// member to body, an Anthropic Messages body in the InvokeModel form whose
// model (the caller's profile id, profile ARN or model id) is invoked from
// source and resolved in cat. Both front ends that take such a body apply
// it before the body is peeked: /v1/messages (decode, below) and Bedrock
// InvokeModel (internal/api/bedrock, geo.go), whatever the deployment
// (Claude on Bedrock, or a translated one).
//
// Where a request runs is its profile's geography (docs/architecture.md,
// invariant 1), so inference_geo may never name a wider one, nor be taken
// for a place the request is kept to when it is not:
//
//   - absent: body is returned unchanged;
//   - named twice, or with an escape or in another case: a 400 naming
//     inference_geo (as jsonx.CheckAmbiguous refuses), since Bedrock and Anthropic
//     decode a key's escapes and a reader that compared raw bytes would
//     let such a member through unchecked;
//   - null or "global" (Anthropic's default, no constraint): accepted;
//   - the geography of the system-defined geographic profile that model
//     resolves to from source ("eu" for eu.<model>, named by id or ARN):
//     accepted. The decision is on the resolved profile, never on the
//     model name's text: a model id that merely starts with "eu." is a
//     model id, served in the region it is called in;
//   - anything else (another string, a non-string, any value with an
//     application profile, a global profile or a model id, a model that
//     does not resolve): a 400 naming inference_geo.
//
// An accepted member is removed (jsonx.DeleteMember: the member and one
// comma beside it, every other byte kept; docs/receipts.md, "Request
// bodies the front end rewrites"): Bedrock places a request by its
// profile, not by this member. A nil cat refuses every value but null and
// "global" (fail closed).
func InferenceGeo(cat *profile.Catalog, source, model string, body []byte) ([]byte, error) {
	if !mayNameGeo(body) {
		return body, nil
	}
	raw, err := geoMember(body)
	if err != nil || raw == nil {
		return body, err
	}
	var geo *string
	if json.Unmarshal(raw, &geo) != nil {
		return nil, inference.Invalid("inference_geo", "inference_geo: a string")
	}
	if geo != nil && *geo != profile.Global {
		if err := geoOf(cat, source, model, *geo); err != nil {
			return nil, err
		}
	}
	out, err := jsonx.DeleteMember(body, "inference_geo")
	if err != nil {
		return nil, inference.Invalid("", "the request body is not a valid JSON object")
	}
	return out, nil
}

// geoMember returns the value of body's inference_geo member, nil when it
// has none: a member named twice or with an escape or in another case
// (jsonx.Ambiguous) is refused with the 400 of jsonx.AmbiguousError.
func geoMember(body []byte) ([]byte, error) {
	const name = "inference_geo"
	if err := jsonx.CheckAmbiguous(body, name); err != nil {
		return nil, inference.Invalid(name, err.Error())
	}
	var raw []byte
	_ = jsonx.Members(body, func(k, v []byte) error {
		if jsonx.KeyIs(k, name) {
			raw = v
		}
		return nil
	})
	return raw, nil
}

// mayNameGeo reports whether body may name inference_geo in some
// spelling: it has an escape, or "_geo" in some case ('_' has no other
// case). Most bodies have neither and skip the member scan.
func mayNameGeo(body []byte) bool {
	if bytes.IndexByte(body, '\\') >= 0 {
		return true
	}
	for i := 0; ; {
		j := bytes.IndexByte(body[i:], '_')
		if j < 0 {
			return false
		}
		i += j + 1
		if i+3 <= len(body) && body[i]|0x20 == 'g' && body[i+1]|0x20 == 'e' && body[i+2]|0x20 == 'o' {
			return true
		}
	}
}

// geoOf is nil when model, invoked from source, resolves in cat to a
// system-defined profile of geography geo, else the 400 saying what model
// is.
func geoOf(cat *profile.Catalog, source, model, geo string) error {
	var what string
	var res *profile.Resolution
	var err error
	if cat != nil {
		res, err = cat.Resolve(source, model)
	}
	name := strconv.Quote(inference.Clip(model, inference.EchoLimit))
	switch {
	case cat == nil || err != nil:
		what = name + " is not a profile callable from " + source
	case res.Profile == nil:
		what = name + " is a model id, served only in " + source
	case res.Profile.Type != profile.SystemDefined:
		what = name + " is an application profile"
	case res.Profile.Scope == profile.Global:
		what = name + " is a global profile"
	case res.Profile.Scope != geo:
		what = name + " is a " + res.Profile.Scope + " profile"
	default:
		return nil
	}
	return inference.Invalid("inference_geo", "inference_geo: "+inference.Clip(strconv.Quote(geo), inference.EchoLimit)+
		" cannot be honoured: Meridian serves a request within its profile's geography, and "+what+
		"; name the system profile of that geography (such as "+inference.Clip(geo, inference.EchoLimit)+".<model>) and send inference_geo global, its geography or nothing")
}
