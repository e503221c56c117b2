package node

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestChatNeverReachesAnEmbeddingModel: with the official openai-go
// client, a chat request for a model whose local deployment declares
// embeddings only is served by the region whose deployment also generates
// text, and the route names the excluded region; for a model that only
// embeds, chat is refused with a 400 on model before any upstream call,
// and embeddings are served.
func TestChatNeverReachesAnEmbeddingModel(t *testing.T) {
	eu := []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}}
	c := startCluster(t, eu, "",
		withModel("demo.mixed", map[string]string{"eu-west-1": "[embeddings]", "eu-central-1": "[embeddings, chat]"}),
		withModel("demo.embed", map[string]string{"eu-west-1": "[embeddings]", "eu-central-1": "[embeddings]"}))
	client := c.client("eu-west-1")
	chat := func(model string, hr **http.Response) error {
		_, err := client.Chat.Completions.New(t.Context(), oa.ChatCompletionNewParams{Model: model,
			Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("hello")}}, option.WithResponseInto(hr))
		return err
	}

	var hr *http.Response
	if err := chat("eu.demo.mixed", &hr); err != nil {
		t.Fatalf("chat to eu.demo.mixed: %v", err)
	}
	if region := hr.Header.Get("X-Meridian-Inference-Region"); region != "eu-central-1" {
		t.Errorf("chat to eu.demo.mixed served in %q, want eu-central-1 (eu-west-1 only embeds)", region)
	}
	if route := hr.Header.Get("X-Meridian-Route"); !strings.Contains(route, "eu-west-1 lacks-capability") {
		t.Errorf("route %q does not say eu-west-1 was excluded for a missing capability", route)
	}

	before := c.mocks["eu-west-1"].Stats().Requests + c.mocks["eu-central-1"].Stats().Requests
	err := chat("eu.demo.embed", &hr)
	var apiErr *oa.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Param != "model" ||
		!strings.Contains(apiErr.Message, "is an embedding model") {
		t.Fatalf("chat to eu.demo.embed: err = %v, want a 400 on model saying it is an embedding model", err)
	}
	if after := c.mocks["eu-west-1"].Stats().Requests + c.mocks["eu-central-1"].Stats().Requests; after != before {
		t.Errorf("the refused chat reached an upstream (%d requests, %d before)", after, before)
	}

	emb, err := client.Embeddings.New(t.Context(), oa.EmbeddingNewParams{Model: "eu.demo.embed",
		Input: oa.EmbeddingNewParamsInputUnion{OfString: oa.String("hello")}}, option.WithResponseInto(&hr))
	if err != nil {
		t.Fatalf("embeddings for eu.demo.embed: %v", err)
	}
	if len(emb.Data) != 1 || hr.Header.Get("X-Meridian-Inference-Region") != "eu-west-1" {
		t.Errorf("embeddings: %d vectors served in %q, want 1 in eu-west-1", len(emb.Data), hr.Header.Get("X-Meridian-Inference-Region"))
	}
}
