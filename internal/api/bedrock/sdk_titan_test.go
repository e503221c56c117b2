package bedrock_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// embedCluster starts eu-west-1 and eu-central-1 with mock deployments
// reached through the Bedrock adapter whose models are Amazon Titan Text
// Embeddings (v1 and v2), Amazon Titan Multimodal Embeddings and Cohere
// Embed (v3 and v4), in each region, and a mock
// reached through the OpenAI adapter (mockllm's OpenAI face) to compare
// vectors with.
func embedCluster(t *testing.T) *cluster {
	t.Helper()
	return dialectCluster(t, `models:
  - {id: demo.titan}
  - {id: demo.titanfar}
  - {id: demo.titanv1}
  - {id: demo.titanimg}
  - {id: demo.titanimgfar}
  - {id: demo.cohere}
  - {id: demo.coherefar}
  - {id: demo.cohere4far}
  - {id: demo.oai}
deployments:
  - {model: demo.titan, region: eu-west-1, backend: {type: mock, api: bedrock, model: "amazon.titan-embed-text-v2:0"}}
  - {model: demo.titanfar, region: eu-central-1, backend: {type: mock, api: bedrock, model: "amazon.titan-embed-text-v2:0"}}
  - {model: demo.titanv1, region: eu-west-1, backend: {type: mock, api: bedrock, model: amazon.titan-embed-text-v1}}
  - {model: demo.titanimg, region: eu-west-1, backend: {type: mock, api: bedrock, model: amazon.titan-embed-image-v1}}
  - {model: demo.titanimgfar, region: eu-central-1, backend: {type: mock, api: bedrock, model: amazon.titan-embed-image-v1}}
  - {model: demo.cohere, region: eu-west-1, backend: {type: mock, api: bedrock, model: cohere.embed-english-v3}}
  - {model: demo.coherefar, region: eu-central-1, backend: {type: mock, api: bedrock, model: cohere.embed-multilingual-v3}}
  - {model: demo.cohere4far, region: eu-central-1, backend: {type: mock, api: bedrock, model: "cohere.embed-v4:0"}}
  - {model: demo.oai, region: eu-west-1, backend: {type: mock}}
`)
}

// TestOpenAISDKBedrockEmbeddings: the embeddings API with the official
// openai-go client, served by Bedrock-speaking deployments of Titan Text
// Embeddings (v1, v2), Titan Multimodal Embeddings and Cohere Embed
// (simulated by mockllm's Bedrock face, which refuses a body its model
// does not take),
// locally and forwarded over the link to the other region. For each: an
// array input with a repeat, float and base64 encodings, dimensions where
// the model takes them. It checks
//   - the vectors: each equals, as float32, mockllm.Embedding of the same
//     text and dimensions (Titan v2: the requested dimensions, else 1024;
//     Titan v1: its fixed 1536; Titan Multimodal: outputEmbeddingLength,
//     else 1024;
//     Cohere v3: its fixed 1024; Cohere v4: output_dimension, else 1536,
//     answered by type), which is what mockllm's OpenAI face answers for
//     that text and dimensions, and that face is asked too and must agree;
//   - the calls: Titan makes one InvokeModel call per input, Cohere one per
//     request (mockllm's request count on the serving region's deployment);
//   - the usage: prompt_tokens equals the sum of the
//     X-Amzn-Bedrock-Input-Token-Count headers the calls were answered with
//     (mockllm's prompt token count, which adds the same numbers).
func TestOpenAISDKBedrockEmbeddings(t *testing.T) {
	c := embedCluster(t)
	client := c.openaiClient("eu-west-1")
	inputs := []string{"hello", "a longer text to embed", "hello"}
	tests := []struct {
		name, model, region, deployment string
		dims                            int64 // 0: the request names none
		wantDims                        int
		perInput                        bool // one InvokeModel call per input (Titan)
	}{
		{"titan/local", "eu.demo.titan", "eu-west-1", "demo.titan", 0, 1024, true},
		{"titan/local/256", "eu.demo.titan", "eu-west-1", "demo.titan", 256, 256, true},
		{"titan/forwarded/512", "eu.demo.titanfar", "eu-central-1", "demo.titanfar", 512, 512, true},
		{"titan v1/local", "eu.demo.titanv1", "eu-west-1", "demo.titanv1", 0, 1536, true},
		{"titan v1/local/1536", "eu.demo.titanv1", "eu-west-1", "demo.titanv1", 1536, 1536, true},
		{"titan multimodal/local", "eu.demo.titanimg", "eu-west-1", "demo.titanimg", 0, 1024, true},
		{"titan multimodal/local/384", "eu.demo.titanimg", "eu-west-1", "demo.titanimg", 384, 384, true},
		{"titan multimodal/forwarded/256", "eu.demo.titanimgfar", "eu-central-1", "demo.titanimgfar", 256, 256, true},
		{"cohere v3/local", "eu.demo.cohere", "eu-west-1", "demo.cohere", 0, 1024, false},
		{"cohere v3/forwarded", "eu.demo.coherefar", "eu-central-1", "demo.coherefar", 0, 1024, false},
		{"cohere v4/forwarded", "eu.demo.cohere4far", "eu-central-1", "demo.cohere4far", 0, 1536, false},
		{"cohere v4/forwarded/256", "eu.demo.cohere4far", "eu-central-1", "demo.cohere4far", 256, 256, false},
	}
	for _, tc := range tests {
		for _, enc := range []openai.EmbeddingNewParamsEncodingFormat{openai.EmbeddingNewParamsEncodingFormatFloat, openai.EmbeddingNewParamsEncodingFormatBase64} {
			t.Run(tc.name+"/"+string(enc), func(t *testing.T) {
				mock := c.nodes[tc.region].Backends()[tc.deployment].(*backend.Mock).Server()
				before := mock.Stats()
				params := openai.EmbeddingNewParams{Model: tc.model, EncodingFormat: enc,
					Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs}}
				if tc.dims != 0 {
					params.Dimensions = openai.Int(tc.dims)
				}
				var hr *http.Response
				out, err := client.Embeddings.New(t.Context(), params, option.WithResponseInto(&hr))
				if err != nil {
					t.Fatalf("Embeddings.New(%s, dimensions %d, %s): %v", tc.model, tc.dims, enc, err)
				}
				after := mock.Stats()
				if region := hr.Header.Get("X-Meridian-Inference-Region"); region != tc.region {
					t.Errorf("served in %q, want %q", region, tc.region)
				}
				if len(out.Data) != len(inputs) || out.Model != tc.model {
					t.Fatalf("answer = %d vectors, model %q; want %d, %q", len(out.Data), out.Model, len(inputs), tc.model)
				}
				for i, d := range out.Data {
					got := vectorOf(t, d, enc)
					want := mockllm.Embedding([]byte(inputs[i]), tc.wantDims)
					if d.Index != int64(i) || !slices.Equal(got, want) {
						t.Errorf("vector %d (%q): index %d, %d dimensions; want %d dimensions equal to mockllm.Embedding's", i, inputs[i], d.Index, len(got), tc.wantDims)
					}
				}
				calls := after.Requests - before.Requests
				if want := int64(1); tc.perInput && calls != int64(len(inputs)) || !tc.perInput && calls != want {
					t.Errorf("%d InvokeModel calls for %d inputs (one per input: %v)", calls, len(inputs), tc.perInput)
				}
				if headers := after.PromptTokens - before.PromptTokens; out.Usage.PromptTokens != headers || out.Usage.TotalTokens != headers || headers <= 0 {
					t.Errorf("usage %+v, want prompt and total tokens = %d, the input token headers' sum", out.Usage, headers)
				}
			})
		}
	}
	// mockllm's OpenAI face answers the same vectors for the same text and
	// dimensions: Titan's at 256, Cohere v3's fixed 1024.
	for _, tc := range []struct {
		model string
		dims  int64
	}{{"eu.demo.titan", 256}, {"eu.demo.cohere", 1024}, {"eu.demo.cohere4far", 512}} {
		t.Run("same as the OpenAI face/"+tc.model, func(t *testing.T) {
			in := openai.EmbeddingNewParamsInputUnion{OfString: openai.String("compare me")}
			oai, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: "eu.demo.oai", Input: in, Dimensions: openai.Int(tc.dims)})
			if err != nil {
				t.Fatal(err)
			}
			params := openai.EmbeddingNewParams{Model: tc.model, Input: in}
			if tc.model != "eu.demo.cohere" {
				params.Dimensions = openai.Int(tc.dims)
			}
			br, err := client.Embeddings.New(t.Context(), params)
			if err != nil {
				t.Fatal(err)
			}
			a, b := vectorOf(t, oai.Data[0], ""), vectorOf(t, br.Data[0], "")
			if len(a) != int(tc.dims) || !slices.Equal(a, b) {
				t.Errorf("%s: %d dimensions differ from the OpenAI face's %d", tc.model, len(b), len(a))
			}
		})
	}
}

// TestOpenAISDKBedrockEmbeddingsRefused: what a Bedrock embedding model
// cannot express is refused with a 400 naming the field, before any call.
func TestOpenAISDKBedrockEmbeddingsRefused(t *testing.T) {
	c := embedCluster(t)
	client := c.openaiClient("eu-west-1")
	for _, tc := range []struct {
		name, model, deployment, region string
		dims                            int64
	}{
		{"titan dimensions", "eu.demo.titan", "demo.titan", "eu-west-1", 1536},
		{"titan v1 dimensions", "eu.demo.titanv1", "demo.titanv1", "eu-west-1", 1024},
		{"titan multimodal dimensions", "eu.demo.titanimg", "demo.titanimg", "eu-west-1", 512},
		{"titan multimodal dimensions forwarded", "eu.demo.titanimgfar", "demo.titanimgfar", "eu-central-1", 1536},
		{"cohere v3 dimensions", "eu.demo.cohere", "demo.cohere", "eu-west-1", 256},
		{"cohere v4 dimensions forwarded", "eu.demo.cohere4far", "demo.cohere4far", "eu-central-1", 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mock := c.nodes[tc.region].Backends()[tc.deployment].(*backend.Mock).Server()
			before := mock.Stats().Requests
			_, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: tc.model, Dimensions: openai.Int(tc.dims),
				Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}})
			apiErr, ok := err.(*openai.Error)
			if !ok {
				t.Fatalf("dimensions %d: err = %v, want a 400 naming dimensions", tc.dims, err)
			}
			// Served locally or refused by the destination over the link,
			// the error names the field.
			if apiErr.StatusCode != 400 || apiErr.Code != "unsupported_field" || apiErr.Param != "dimensions" {
				t.Fatalf("dimensions %d: err = %v (%s), want a 400 naming dimensions", tc.dims, err, apiErr.RawJSON())
			}
			if n := mock.Stats().Requests - before; n != 0 {
				t.Errorf("%d upstream calls, want none", n)
			}
		})
	}
}

// vectorOf returns an answer's vector as float32: the floats, or the
// little-endian float32 of the base64 form as sent on the wire.
func vectorOf(t *testing.T, d openai.Embedding, enc openai.EmbeddingNewParamsEncodingFormat) []float32 {
	t.Helper()
	if enc != openai.EmbeddingNewParamsEncodingFormatBase64 {
		v := make([]float32, len(d.Embedding))
		for i, f := range d.Embedding {
			v[i] = float32(f)
		}
		return v
	}
	raw := d.JSON.Embedding.Raw()
	if len(raw) < 2 || raw[0] != '"' {
		t.Fatalf("embedding %.40q is not a base64 string", raw)
	}
	b, err := base64.StdEncoding.DecodeString(raw[1 : len(raw)-1])
	if err != nil || len(b)%4 != 0 {
		t.Fatalf("embedding %.40q is not base64 of float32s (%v)", raw, err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// TestBedrockSDKInvokeEmbeddingModel: the official Bedrock Runtime client's
// InvokeModel with a Titan or Cohere body on an embedding model's profile
// passes through to the model, locally and forwarded, and the model's own
// ValidationException comes back for a body it refuses.
func TestBedrockSDKInvokeEmbeddingModel(t *testing.T) {
	c := embedCluster(t)
	rt := c.runtimeClient("eu-west-1")
	for _, tc := range []struct{ name, model, body, region string }{
		{"titan/local", "eu.demo.titan", `{"inputText":"hello","dimensions":256}`, "eu-west-1"},
		{"titan/forwarded", "eu.demo.titanfar", `{"inputText":"hello","dimensions":256}`, "eu-central-1"},
		{"cohere v4/forwarded", "eu.demo.cohere4far", `{"texts":["hello"],"input_type":"search_query","output_dimension":256}`, "eu-central-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(tc.model), Body: []byte(tc.body),
				ContentType: aws.String("application/json")})
			if err != nil {
				t.Fatalf("InvokeModel(%s, %s): %v", tc.model, tc.body, err)
			}
			var titan struct{ Embedding []float32 }
			var cohere struct {
				Embeddings struct{ Float [][]float32 }
			}
			var got []float32
			if json.Unmarshal(out.Body, &titan) == nil && titan.Embedding != nil {
				got = titan.Embedding
			} else if json.Unmarshal(out.Body, &cohere) == nil && len(cohere.Embeddings.Float) == 1 {
				got = cohere.Embeddings.Float[0]
			}
			if !slices.Equal(got, mockllm.Embedding([]byte("hello"), 256)) {
				t.Errorf("InvokeModel(%s) answered %.200s, want mockllm.Embedding(hello, 256)", tc.model, out.Body)
			}
		})
	}
	t.Run("refused body", func(t *testing.T) {
		_, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String("eu.demo.titan"),
			Body: []byte(`{"inputText":"hello","dimensions":100}`), ContentType: aws.String("application/json")})
		var ve *types.ValidationException
		if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "#/dimensions: 100 is not a valid enum value") {
			t.Fatalf("err = %v, want the model's ValidationException naming dimensions", err)
		}
	})
}
