package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/meridian-gateway/meridian/internal/dialect"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/topology"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// maxEmbeddingResponseBytes bounds an embeddings answer (2048 inputs of
// 3072 floats fit).
const maxEmbeddingResponseBytes = 256 << 20

// embed serves an OpenAI embeddings request on an OpenAI-compatible
// upstream's /embeddings: the client's body as received with the
// deployment's model, the answer as received.
func (o *OpenAI) embed(ctx context.Context, req *inference.Request) (*inference.Response, error) {
	start := o.cfg.Clock.Now()
	body := inference.AppendSetString(nil, req.Body, "model", o.cfg.Model)
	u := strings.TrimSuffix(o.cfg.BaseURL, "/") + "/embeddings"
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: err}
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	if o.cfg.APIKey != "" {
		hr.Header.Set("Authorization", "Bearer "+o.cfg.APIKey)
	}
	resp, err := doWithin(o.client, hr, o.cfg.Clock, o.cfg.FirstByteTimeout)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, StatusError(resp, o.cfg.Clock)
	}
	raw, err := readBounded(ctx, resp.Body)
	if err != nil {
		return nil, err
	}
	var head struct {
		Model string `json:"model"`
		Usage *struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, &inference.Error{Kind: inference.KindUpstream, Message: "the model sent a malformed answer", Err: err}
	}
	out := &inference.Response{Model: head.Model, Dialect: inference.DialectOpenAIEmbeddings, Body: raw, Latency: o.cfg.Clock.Now().Sub(start), StopReason: inference.StopEndTurn}
	if head.Usage != nil {
		out.Usage.InputTokens = head.Usage.PromptTokens
	} else {
		out.Usage.InputTokens = req.EstimatedInputTokens()
	}
	return out, nil
}

func readBounded(ctx context.Context, r io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxEmbeddingResponseBytes+1))
	if err != nil {
		return nil, readError(ctx, "read upstream response", err)
	}
	if len(raw) > maxEmbeddingResponseBytes {
		return nil, &inference.Error{Kind: inference.KindUpstream, Message: "the model's answer is larger than 256 MiB"}
	}
	return raw, nil
}

// embedFamily returns the translator's family of a Bedrock model id, and
// the options that tell its versions apart, or false. The model id's
// family is topology's (BedrockEmbeddingFamily), which also gives an
// embedding model its default capabilities.
func embedFamily(model string) (translate.EmbedFamily, translate.EmbedOptions, bool) {
	switch topology.BedrockEmbeddingFamily(model) {
	case topology.EmbeddingTitanTextV1:
		return translate.TitanV1, translate.EmbedOptions{}, true
	case topology.EmbeddingTitanTextV2:
		return translate.Titan, translate.EmbedOptions{}, true
	case topology.EmbeddingTitanMultimodal:
		return translate.TitanMultimodal, translate.EmbedOptions{}, true
	case topology.EmbeddingCohereV3:
		return translate.Cohere, translate.EmbedOptions{}, true
	case topology.EmbeddingCohereV4:
		return translate.Cohere, translate.EmbedOptions{CohereV4: true}, true
	}
	return 0, translate.EmbedOptions{}, false
}

// embed serves an OpenAI embeddings request with InvokeModel: the body is
// translated to the model family's (Titan Text v1 and v2 and Titan
// Multimodal take one text a call, Cohere a batch) and the answers back to
// OpenAI's.
func (b *Bedrock) embed(ctx context.Context, req *inference.Request) (*inference.Response, error) {
	start := b.cfg.Clock.Now()
	family, opts, ok := embedFamily(b.cfg.Model)
	if !ok {
		// The deployment declares embeddings (routing sent it here) but
		// its model id names no embedding model Meridian can call: this
		// deployment cannot carry the request, as a translator's refusal
		// says, and another deployment of the model may (Unfit: the
		// gateway tries it, and answers this 400 only when none embeds).
		e := inference.Invalid("model", "this deployment's model "+inference.Clip(b.cfg.Model, 128)+" is not a Titan or Cohere embedding model")
		e.Unfit = true
		return nil, e
	}
	ereq, err := translate.DecodeEmbeddingsRequest(req.Body)
	if err != nil {
		return nil, dialect.TranslateError(err)
	}
	bodies, err := translate.EmbeddingsRequest(family, ereq, opts)
	if err != nil {
		return nil, dialect.Refusal(err) // this model family's refusal: another deployment may carry it
	}
	answers := make([][]byte, len(bodies))
	var tokens int64
	for i, body := range bodies {
		resp, err := b.rawCallWith(ctx, "invoke", body, upstreamHeaders{tier: upstreamTier(req, b.cfg.ServiceTiers)}) // the admitted tier, as on every operation
		if err != nil {
			return nil, err
		}
		answers[i], err = readBounded(ctx, resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if n, err := strconv.ParseInt(resp.Header.Get("X-Amzn-Bedrock-Input-Token-Count"), 10, 64); err == nil && n > 0 {
			tokens += n
		}
	}
	out, err := translate.EmbeddingsResponse(family, ereq, answers, translate.EmbedMeta{Model: req.Model, InputTokens: tokens})
	if err != nil {
		return nil, dialect.AnswerError(err)
	}
	resp := &inference.Response{Model: b.cfg.Model, Dialect: inference.DialectOpenAIEmbeddings, Body: out, Latency: b.cfg.Clock.Now().Sub(start), StopReason: inference.StopEndTurn}
	var head struct {
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(out, &head) == nil && head.Usage.PromptTokens > 0 {
		resp.Usage.InputTokens = head.Usage.PromptTokens
	} else {
		resp.Usage.InputTokens = req.EstimatedInputTokens()
	}
	return resp, nil
}
