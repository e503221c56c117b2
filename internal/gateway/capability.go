package gateway

import (
	"cmp"
	"slices"
	"strings"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// deploymentFeatures returns the features the deployment of model in
// region has (its declared or default capabilities), and whether it can
// serve a body of dialect d at all.
func deploymentFeatures(cfg *topology.Config, region, model string, d inference.Dialect) (inference.Features, bool) {
	dep, ok := cfg.Deployment(region, model)
	if !ok {
		return 0, false
	}
	speaksBedrock := dep.Backend.Type == topology.BackendBedrock || dep.Backend.Type == topology.BackendMock && dep.Backend.API == topology.BackendBedrock
	if d == inference.DialectInvoke && !speaksBedrock {
		// Another family's InvokeModel body goes through unchanged; only
		// Bedrock's InvokeModel can take it.
		return 0, false
	}
	caps := dep.EffectiveCapabilities()
	if !topology.Generates(caps) && !generationFree(d) {
		return 0, false
	}
	// A Bedrock deployment embeds only with a Titan or Cohere embedding
	// model (internal/backend/embeddings.go calls no other): one that
	// declares embeddings for another model id is excluded for them, with
	// routing's reason, rather than tried and refused.
	bedrockEmbeds := !speaksBedrock || topology.BedrockEmbeddingFamily(cmp.Or(dep.Backend.Model, dep.Model)) != topology.EmbeddingNone
	var f inference.Features
	for _, c := range caps {
		if feat, ok := inference.ParseFeature(c); ok && (feat != inference.FeatureEmbeddings || bedrockEmbeds) {
			f = f.With(feat)
		}
	}
	if speaksBedrock || f.Has(inference.FeatureReasoning) {
		// reasoning_effort "none": a Bedrock deployment's translation
		// sends nothing for it (or refuses it by name for gpt-oss); an
		// OpenAI-compatible one passes it through, so it needs reasoning.
		f = f.With(inference.FeatureReasoningNone)
	}
	return f, true
}

// generationFree reports whether a body of dialect d may be served by an
// embeddings-only deployment: an embeddings request, or an InvokeModel body
// of another family, which may be an embedding model's own (Titan, Cohere)
// and goes to the upstream unread.
func generationFree(d inference.Dialect) bool {
	return d == inference.DialectOpenAIEmbeddings || d == inference.DialectInvoke
}

// embeddingsOnly reports whether some deployment of model serves
// embeddings only, so that a request for text generation must be kept
// from it.
func embeddingsOnly(cfg *topology.Config, model string) bool {
	for _, d := range cfg.Deployments {
		if d.Model == model && !d.Generates() {
			return true
		}
	}
	return false
}

// capable returns the routing filter for req's features on model, or nil
// when the request uses none (every deployment serves it).
func (g *Gateway) capable(req *inference.Request, model string) func(region string) bool {
	cfg := g.Config()
	if req.Features == 0 && req.Dialect != inference.DialectInvoke && (generationFree(req.Dialect) || !embeddingsOnly(cfg, model)) {
		return nil
	}
	return func(region string) bool {
		have, ok := deploymentFeatures(cfg, region, model, req.Dialect)
		return ok && req.Features.Missing(have) == 0
	}
}

// checkCapabilities refuses, with a 400 naming the field, a request that
// no destination it may use can honour: routing would otherwise report
// "no capacity" for what is the request's own limit.
func (g *Gateway) checkCapabilities(req *inference.Request, model string, allowed []string) *inference.Error {
	if len(allowed) == 0 {
		return nil // the authorizer's refusal is the answer
	}
	capable := g.capable(req, model)
	if capable == nil || slices.ContainsFunc(allowed, capable) {
		return nil
	}
	cfg := g.Config()
	if !generationFree(req.Dialect) && embeddingsOnlyIn(cfg, model, allowed) {
		return inference.Invalid("model", "model "+inference.Clip(model, inference.EchoLimit)+" is an embedding model: its deployments in the regions this request may use ("+
			strings.Join(allowed, ", ")+") declare embeddings without chat, so they generate no text; send embeddings requests to it, or use a model that generates text")
	}
	if req.Dialect == inference.DialectInvoke {
		return inference.Invalid("", "this InvokeModel body is not an Anthropic Messages body (it has no anthropic_version) and only an Amazon Bedrock deployment can serve it as is; "+
			"no region this request may use has one of model "+model)
	}
	// Name the first feature that no allowed deployment has.
	for _, f := range req.Features.List() {
		if slices.ContainsFunc(allowed, func(region string) bool {
			have, _ := deploymentFeatures(cfg, region, model, req.Dialect)
			return have.Has(f)
		}) {
			continue
		}
		field := req.FeatureField(f)
		return inference.Invalid(field, inference.Clip(field, inference.EchoLimit)+" uses "+f.String()+", which no deployment of model "+model+
			" in the regions this request may use ("+strings.Join(allowed, ", ")+") supports; remove it or use a profile whose deployments declare the "+
			f.String()+" capability")
	}
	if req.Features == 0 {
		// No region it may use has a deployment of the model: routing
		// says so.
		return nil
	}
	field := req.FeatureField(req.Features.List()[0])
	return inference.Invalid(field, "no deployment of model "+model+" in the regions this request may use supports all of "+req.Features.String())
}

// embeddingsOnlyIn reports whether model has deployments in the regions
// allowed and every one of them serves embeddings only.
func embeddingsOnlyIn(cfg *topology.Config, model string, allowed []string) bool {
	deployed := false
	for _, region := range allowed {
		d, ok := cfg.Deployment(region, model)
		if !ok {
			continue
		}
		if d.Generates() {
			return false
		}
		deployed = true
	}
	return deployed
}

// capabilityNote explains, for x-meridian-route, the destinations routing
// excluded because their deployment lacks a capability the request uses:
// " (eu-west-1 lacks-capability)", or "".
func capabilityNote(plan *routing.Plan) string {
	var regions []string
	for _, c := range plan.Excluded() {
		if c.Exclusion == routing.ExcludedIncapable {
			regions = append(regions, c.Region+" "+c.Exclusion.String())
		}
	}
	if len(regions) == 0 {
		return ""
	}
	return " (" + strings.Join(regions, ", ") + ")"
}
