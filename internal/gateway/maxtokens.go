package gateway

import (
	"strconv"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// MaxTokensBound is the largest max_tokens accepted for a model whose
// topology entry sets no context_window. No model answers more than this in
// one completion, and it keeps every token sum of admission and routing far
// from overflow.
const MaxTokensBound = 2 << 20

// maxTokensLimit returns the largest max_tokens model accepts, and
// whether that limit is its context_window (else MaxTokensBound, when that
// is unset).
func (g *Gateway) maxTokensLimit(model string) (limit int, contextWindow bool) {
	if m, ok := g.cfg.Model(model); ok && m.ContextWindow > 0 {
		return m.ContextWindow, true
	}
	return MaxTokensBound, false
}

// checkMaxTokens refuses a max_tokens that is negative or above what model
// can produce, with a 400 naming the caller's field. Every front end gets
// the check here, and so does a forwarded job: a reservation of input plus
// max_tokens must stay a meaningful, non-negative number.
func (g *Gateway) checkMaxTokens(operation string, req *inference.Request, model string) *inference.Error {
	if req == nil {
		return nil
	}
	limit, contextWindow := g.maxTokensLimit(model)
	if req.MaxTokens >= 0 && req.MaxTokens <= limit {
		return nil
	}
	param := maxTokensParam(operation, req)
	msg := param + " must not be negative"
	if req.MaxTokens > limit {
		what := "the gateway's limit for " + model
		if contextWindow {
			what = "the context window of " + model
		}
		msg = param + " is " + strconv.Itoa(req.MaxTokens) + ", above " + what + " (" + strconv.Itoa(limit) + " tokens); lower it or leave it out"
	}
	return &inference.Error{Kind: inference.KindInvalidRequest, Code: "invalid_max_tokens", Param: param, Message: msg}
}

// maxTokensParam names the field that carried max_tokens in the caller's
// dialect.
func maxTokensParam(operation string, req *inference.Request) string {
	if req.MaxTokensParam != "" {
		return req.MaxTokensParam
	}
	switch operation {
	case OpConverse, OpConverseStream:
		return "inferenceConfig.maxTokens"
	}
	return "max_tokens"
}
