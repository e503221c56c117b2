package bedrock_test

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/meridian-gateway/meridian/internal/audit"
)

// TestOpenAISDKEmbeddings: the embeddings API with the official openai-go
// client, served locally and forwarded over the link: a string and an
// array input, float and base64 encodings, dimensions; vectors are
// deterministic unit vectors and usage counts input tokens.
func TestOpenAISDKEmbeddings(t *testing.T) {
	c := wholeCluster(t)
	client := c.openaiClient("eu-west-1")
	for _, sv := range served {
		t.Run(sv.name+"/float", func(t *testing.T) {
			var hr *http.Response
			out, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: sv.model,
				Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello", "world", "hello"}}}, option.WithResponseInto(&hr))
			if err != nil {
				t.Fatalf("Embeddings.New: %v", err)
			}
			if region := hr.Header.Get("X-Meridian-Inference-Region"); region != sv.region {
				t.Errorf("served in %q, want %q", region, sv.region)
			}
			if len(out.Data) != 3 || out.Model != sv.model || out.Usage.PromptTokens <= 0 {
				t.Fatalf("answer = %d vectors, model %q, usage %+v", len(out.Data), out.Model, out.Usage)
			}
			for i, d := range out.Data {
				if d.Index != int64(i) || len(d.Embedding) != 1536 || math.Abs(norm(d.Embedding)-1) > 1e-3 {
					t.Errorf("vector %d: index %d, %d dimensions, norm %v", i, d.Index, len(d.Embedding), norm(d.Embedding))
				}
			}
			if out.Data[0].Embedding[0] != out.Data[2].Embedding[0] || out.Data[0].Embedding[0] == out.Data[1].Embedding[0] {
				t.Error("vectors are not a function of the input")
			}
		})
		t.Run(sv.name+"/base64 with dimensions", func(t *testing.T) {
			var hr *http.Response
			out, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: sv.model, Dimensions: openai.Int(256),
				EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64,
				Input:          openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}}, option.WithResponseInto(&hr))
			if err != nil {
				t.Fatalf("Embeddings.New: %v", err)
			}
			if len(out.Data) != 1 {
				t.Fatalf("answer = %d vectors", len(out.Data))
			}
			// openai-go decodes base64 into Embedding; check the raw form too.
			raw := out.Data[0].JSON.Embedding.Raw()
			var s string
			if len(raw) > 2 && raw[0] == '"' {
				s = raw[1 : len(raw)-1]
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil || len(b) != 4*256 {
				t.Fatalf("embedding %.40q is not base64 of 256 float32 (%v)", raw, err)
			}
			v := make([]float64, 256)
			for i := range v {
				v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
			}
			if math.Abs(norm(v)-1) > 1e-3 {
				t.Errorf("norm %v, want 1", norm(v))
			}
		})
	}
	t.Run("empty input refused", func(t *testing.T) {
		_, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: "eu.demo.chat-small",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{}}})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "input" {
			t.Fatalf("err = %v, want a 400 naming input", err)
		}
	})
	t.Run("not an embedding deployment", func(t *testing.T) {
		_, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: "eu.demo.plain",
			Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
			t.Fatalf("err = %v, want a 400: no deployment has the embeddings capability", err)
		}
	})
}

func norm(v []float64) float64 {
	var s float64
	for _, f := range v {
		s += f * f
	}
	return math.Sqrt(s)
}

// TestAuditNamesTheAPI: a Responses and an Embeddings call are audited at
// the source under their API's eventName, with the request's id and the
// input tokens an embeddings call used.
func TestAuditNamesTheAPI(t *testing.T) {
	c := wholeCluster(t)
	client := c.openaiClient("eu-west-1")
	var hr *http.Response
	if _, err := client.Responses.New(t.Context(), responses.ResponseNewParams{Model: "eu.demo.far",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}}, option.WithResponseInto(&hr)); err != nil {
		t.Fatal(err)
	}
	respID := hr.Header.Get("X-Meridian-Request-Id")
	emb, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: "eu.demo.chat-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello world")}}, option.WithResponseInto(&hr))
	if err != nil {
		t.Fatal(err)
	}
	embID := hr.Header.Get("X-Meridian-Request-Id")
	events := map[string]*audit.Event{}
	err = audit.Query(c.auditDir, audit.Filter{Side: audit.SideSource}, func(e *audit.Event) error {
		events[e.EventID] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if e := events[respID]; e == nil || e.EventName != "Responses" || e.InferenceRegion != "eu-central-1" || e.Usage.OutputTokens <= 0 {
		t.Errorf("event of the Responses call %s = %+v", respID, e)
	}
	if e := events[embID]; e == nil || e.EventName != "Embeddings" || e.Usage.InputTokens != emb.Usage.PromptTokens || e.Usage.OutputTokens != 0 {
		t.Errorf("event of the Embeddings call %s = %+v, want %d input tokens", embID, e, emb.Usage.PromptTokens)
	}
}

// TestEmbeddingsNeedTheCapability: a simulated model reached through the
// Bedrock adapter is no embedding model, so routing refuses an embeddings
// request for it with a 400 naming input, before any upstream call.
func TestEmbeddingsNeedTheCapability(t *testing.T) {
	c := bedrockCluster(t)
	client := c.openaiClient("eu-west-1")
	_, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: "eu.demo.br",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "input" {
		t.Fatalf("err = %v, want a 400 naming input", err)
	}
}
