package gateway

import (
	"context"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profile"
)

// Authorize resolves call's model from this (the source) region and
// authorizes the principal as [Gateway.Invoke] does, for a call that
// reaches no backend (Anthropic's count_tokens): it admits nothing and
// charges no quota. A refusal is recorded like Invoke's and returned as an
// *inference.Error for the front end to render; a success is not recorded
// (nothing was served).
func (g *Gateway) Authorize(ctx context.Context, call *Call) *inference.Error {
	cat := g.Catalog()
	refuse := func(fill func(*Record), err error) *inference.Error {
		g.metrics.InFlight.Inc()
		rec := g.newRecord(call, "source")
		fill(rec)
		return g.fail(ctx, rec, err)
	}
	res, err := cat.Resolve(g.region, call.Request.Model)
	if err != nil {
		g.countNotCallable(cat, call.Request.Model, err)
		return refuse(func(rec *Record) { noteRefusal(rec, cat, err) }, resolveError(err, call.Request.Model))
	}
	if _, err := g.authz.AuthorizeInvoke(AuthzInput{Principal: call.Principal, Source: g.region, Resolution: res,
		Stream: call.Request.Stream, SourceIP: call.SourceIP, SecureTransport: call.SecureTransport, Now: g.now()}); err != nil {
		return refuse(func(rec *Record) {
			rec.ProfileID, rec.ProfileARN, rec.Model = res.ProfileID, sourceARN(cat, res, g.region), res.Model
			rec.Allowed, rec.DenyReason = false, inference.AsError(err).Message
		}, err)
	}
	return nil
}

// Invocable returns the destinations of res (resolved in this, the source
// region) that call's principal may invoke, as [Gateway.Invoke] would
// authorize them, with bedrock:InvokeModel or, failing that,
// bedrock:InvokeModelWithResponseStream: a caller allowed either can call
// the entry. It returns nil when the caller may invoke none. Model
// listings (GET /v1/models, ListInferenceProfiles) show only what it
// allows, so that a caller learns no profile it cannot use; the listing
// records itself, so Invocable records nothing.
func (g *Gateway) Invocable(call *Call, res *profile.Resolution) []string {
	in := AuthzInput{Principal: call.Principal, Source: g.region, Resolution: res,
		SourceIP: call.SourceIP, SecureTransport: call.SecureTransport, Now: g.now()}
	for _, stream := range [...]bool{false, true} {
		in.Stream = stream
		if allowed, err := g.authz.AuthorizeInvoke(in); err == nil && len(allowed) > 0 {
			return allowed
		}
	}
	return nil
}
