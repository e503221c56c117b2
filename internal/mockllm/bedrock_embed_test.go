package mockllm_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

var update = flag.Bool("update", false, "rewrite the response.golden files under testdata/")

// embedModels are the models the Bedrock embedding tests' server serves.
var embedModels = []string{"amazon.titan-embed-text-v2:0", "amazon.titan-embed-text-v1", "amazon.titan-embed-image-v1", "cohere.embed-english-v3",
	"cohere.embed-multilingual-v3", "cohere.embed-v4:0", "anthropic.claude-3-haiku"}

func startEmbed(t *testing.T) string {
	t.Helper()
	cfg := mockllm.Default()
	cfg.Models = embedModels
	cfg.Clock = newFakeClock()
	_, url := start(t, cfg)
	return url
}

// invoke posts body to a Bedrock runtime operation on model and returns the
// status, headers and body.
func invoke(t *testing.T, url, model, op string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Post(url+"/model/"+model+"/"+op, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// TestBedrockEmbedGolden: each testdata/bedrock-embed/<case> holds a
// request.http (the operation's request line, a blank line, the body) and
// the expected response.golden (status, Content-Type and X-Amzn-* headers,
// body). Run with -update to rewrite the golden files.
func TestBedrockEmbedGolden(t *testing.T) {
	url := startEmbed(t)
	dirs, _ := filepath.Glob("testdata/bedrock-embed/*")
	if len(dirs) == 0 {
		t.Fatal("no testdata/bedrock-embed cases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(dir, "request.http"))
			if err != nil {
				t.Fatal(err)
			}
			line, body, _ := bytes.Cut(in, []byte("\n\n"))
			var model, op string
			if _, err := fmt.Sscanf(string(line), "POST /model/%s", &model); err != nil {
				t.Fatalf("request line %q: %v", line, err)
			}
			model, op = model[:strings.LastIndexByte(model, '/')], model[strings.LastIndexByte(model, '/')+1:]
			status, h, b := invoke(t, url, model, op, bytes.TrimSuffix(body, []byte("\n")))
			var got strings.Builder
			fmt.Fprintf(&got, "%d\n", status)
			var keys []string
			for k := range h {
				if k == "Content-Type" || strings.HasPrefix(k, "X-Amzn-") {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				fmt.Fprintf(&got, "%s: %s\n", k, h.Get(k))
			}
			fmt.Fprintf(&got, "\n%s\n", b)
			compareGolden(t, filepath.Join(dir, "response.golden"), got.String(), "POST "+model+"/"+op+" "+string(body))
		})
	}
}

// TestBedrockEmbedVectors: Titan and Cohere models answer the OpenAI
// face's vector ([mockllm.Embedding]) for the same text and dimensions, in
// every form they offer; usage is in the input token header.
func TestBedrockEmbedVectors(t *testing.T) {
	url := startEmbed(t)
	unit := func(text string, dims int) []float32 { return mockllm.Embedding([]byte(text), dims) }
	tests := []struct {
		name, model, body string
		// vectors returns the answer's float vectors, one per input.
		vectors func(b []byte) [][]float32
		want    [][]float32
		tokens  string
	}{
		{"titan v2 default", "amazon.titan-embed-text-v2:0", `{"inputText":"hello world"}`, titanVectors, [][]float32{unit("hello world", 1024)}, "3"},
		{"titan v2 256", "amazon.titan-embed-text-v2:0", `{"inputText":"hello","dimensions":256,"normalize":true,"embeddingTypes":["float"]}`,
			titanVectors, [][]float32{unit("hello", 256)}, "2"},
		{"titan v1", "amazon.titan-embed-text-v1", `{"inputText":"hello"}`, titanVectors, [][]float32{unit("hello", 1536)}, "2"},
		{"titan multimodal text", "amazon.titan-embed-image-v1", `{"inputText":"hello","embeddingConfig":{"outputEmbeddingLength":384}}`,
			titanVectors, [][]float32{unit("hello", 384)}, "2"},
		{"cohere v3 list", "cohere.embed-english-v3", `{"texts":["hello","world","hello"],"input_type":"search_document"}`,
			cohereVectors, [][]float32{unit("hello", 1024), unit("world", 1024), unit("hello", 1024)}, "6"},
		{"cohere v3 by type", "cohere.embed-multilingual-v3", `{"texts":["a"],"input_type":"classification","embedding_types":["float","int8"],"truncate":"NONE"}`,
			cohereVectors, [][]float32{unit("a", 1024)}, "1"},
		{"cohere v4 default", "cohere.embed-v4:0", `{"texts":["a","b"],"input_type":"search_query"}`,
			cohereVectors, [][]float32{unit("a", 1536), unit("b", 1536)}, "2"},
		{"cohere v4 256", "cohere.embed-v4:0", `{"texts":["a"],"input_type":"search_query","output_dimension":256,"embedding_types":["float"]}`,
			cohereVectors, [][]float32{unit("a", 256)}, "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, h, b := invoke(t, url, tc.model, "invoke", []byte(tc.body))
			if status != 200 {
				t.Fatalf("POST %s %s = %d %s", tc.model, tc.body, status, b)
			}
			if got := tc.vectors(b); !cmp.Equal(got, tc.want) {
				t.Errorf("POST %s %s: vectors differ from mockllm.Embedding's: %s", tc.model, tc.body, cmp.Diff(tc.want, got))
			}
			if got := h.Get("X-Amzn-Bedrock-Input-Token-Count"); got != tc.tokens {
				t.Errorf("POST %s %s: input token header = %q, want %q", tc.model, tc.body, got, tc.tokens)
			}
		})
	}
}

func titanVectors(b []byte) [][]float32 {
	var r struct {
		Embedding        []float32
		EmbeddingsByType struct{ Float []float32 }
	}
	json.Unmarshal(b, &r)
	if r.EmbeddingsByType.Float != nil && !slices.Equal(r.EmbeddingsByType.Float, r.Embedding) {
		return nil
	}
	return [][]float32{r.Embedding}
}

func cohereVectors(b []byte) [][]float32 {
	var r struct {
		Embeddings   json.RawMessage
		ResponseType string `json:"response_type"`
	}
	json.Unmarshal(b, &r)
	var out [][]float32
	if r.ResponseType == "embeddings_by_type" {
		var byType struct{ Float [][]float32 }
		json.Unmarshal(r.Embeddings, &byType)
		return byType.Float
	}
	json.Unmarshal(r.Embeddings, &out)
	return out
}

// TestBedrockEmbedForms: Titan's normalize false keeps the direction, its
// binary form is the signs; Cohere's quantized forms agree with the float
// vector.
func TestBedrockEmbedForms(t *testing.T) {
	url := startEmbed(t)
	want := mockllm.Embedding([]byte("forms"), 256)
	_, _, b := invoke(t, url, "amazon.titan-embed-text-v2:0", "invoke", []byte(`{"inputText":"forms","dimensions":256,"normalize":false,"embeddingTypes":["binary","float"]}`))
	var titan struct {
		Embedding        []float64
		EmbeddingsByType struct {
			Float  []float64
			Binary []int
		}
	}
	if err := json.Unmarshal(b, &titan); err != nil || len(titan.EmbeddingsByType.Binary) != 256 || len(titan.EmbeddingsByType.Float) != 256 {
		t.Fatalf("titan answer %.200s (%v)", b, err)
	}
	var n float64
	for _, f := range titan.Embedding {
		n += f * f
	}
	n = math.Sqrt(n)
	if math.Abs(n-1) < 1e-3 {
		t.Errorf("normalize false answered a unit vector")
	}
	for i, f := range titan.Embedding {
		if math.Abs(f/n-float64(want[i])) > 1e-5 {
			t.Fatalf("normalize false: component %d is %v/%v, want direction %v", i, f, n, want[i])
		}
		if bit := titan.EmbeddingsByType.Binary[i]; (bit == 1) != (want[i] > 0) || bit > 1 {
			t.Fatalf("binary component %d = %d for %v", i, bit, want[i])
		}
	}

	_, _, b = invoke(t, url, "cohere.embed-v4:0", "invoke",
		[]byte(`{"texts":["forms"],"input_type":"clustering","output_dimension":256,"embedding_types":["float","int8","uint8","binary","ubinary"]}`))
	var cohere struct {
		Embeddings struct {
			Float           [][]float32
			Int8, Uint8     [][]int
			Binary, Ubinary [][]int
		}
		ResponseType string `json:"response_type"`
	}
	if err := json.Unmarshal(b, &cohere); err != nil || cohere.ResponseType != "embeddings_by_type" || !cmp.Equal(cohere.Embeddings.Float, [][]float32{want}) {
		t.Fatalf("cohere answer %.300s (%v)", b, err)
	}
	e := cohere.Embeddings
	if len(e.Int8[0]) != 256 || len(e.Uint8[0]) != 256 || len(e.Binary[0]) != 32 || len(e.Ubinary[0]) != 32 {
		t.Fatalf("quantized lengths %d %d %d %d, want 256 256 32 32", len(e.Int8[0]), len(e.Uint8[0]), len(e.Binary[0]), len(e.Ubinary[0]))
	}
	for i, f := range want {
		if q := e.Int8[0][i]; q < -128 || q > 127 || math.Abs(float64(q)-float64(f)*127) > 0.5 || e.Uint8[0][i] != q+128 {
			t.Fatalf("component %d = %v: int8 %d, uint8 %d", i, f, q, e.Uint8[0][i])
		}
		bit := e.Ubinary[0][i/8] >> (7 - i%8) & 1
		if (bit == 1) != (f > 0) || e.Binary[0][i/8] != e.Ubinary[0][i/8]-128 {
			t.Fatalf("component %d = %v: ubinary byte %d, binary byte %d", i, f, e.Ubinary[0][i/8], e.Binary[0][i/8])
		}
	}
}

// TestBedrockEmbedLimits: bodies over the models' documented limits are
// refused with a ValidationException naming the limit.
func TestBedrockEmbedLimits(t *testing.T) {
	url := startEmbed(t)
	many := make([]string, 97)
	for i := range many {
		many[i] = "t"
	}
	manyJSON, _ := json.Marshal(many)
	tests := []struct{ name, model, body, want string }{
		{"titan characters", "amazon.titan-embed-text-v2:0", `{"inputText":"` + strings.Repeat("a", 50001) + `"}`, "expected maxLength: 50000, actual: 50001"},
		{"titan tokens", "amazon.titan-embed-text-v2:0", `{"inputText":"` + strings.Repeat("a", 40000) + `"}`, "Too many input tokens. Max input tokens: 8192, request input token count: 10000"},
		{"cohere texts", "cohere.embed-english-v3", `{"input_type":"search_document","texts":` + string(manyJSON) + `}`, "#/texts: expected maximum item count: 96, found: 97"},
		{"cohere v3 text length", "cohere.embed-english-v3", `{"input_type":"search_document","texts":["` + strings.Repeat("a", 2049) + `"]}`, "#/texts/0: expected maxLength: 2048, actual: 2049"},
		{"long member name clipped", "amazon.titan-embed-text-v2:0", `{"inputText":"a","` + strings.Repeat("k", 500) + `":1}`, "[" + strings.Repeat("k", 64) + "…]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, h, b := invoke(t, url, tc.model, "invoke", []byte(tc.body))
			var e struct{ Message string }
			json.Unmarshal(b, &e)
			if status != 400 || h.Get("X-Amzn-Errortype") != "ValidationException" || !strings.Contains(e.Message, tc.want) || len(e.Message) > 300 {
				t.Errorf("POST %s %.60s… = %d %s %.300s, want a ValidationException containing %q", tc.model, tc.body, status, h.Get("X-Amzn-Errortype"), b, tc.want)
			}
		})
	}
}

// TestBedrockEmbedOperator: the operator's outage and throttle apply to
// embedding models as to chat models.
func TestBedrockEmbedOperator(t *testing.T) {
	cfg := mockllm.Default()
	cfg.Models = embedModels
	srv, url := start(t, cfg)
	body := []byte(`{"inputText":"a"}`)
	srv.SetDown(true)
	if status, h, _ := invoke(t, url, "amazon.titan-embed-text-v2:0", "invoke", body); status != 503 || h.Get("X-Amzn-Errortype") != "ServiceUnavailableException" {
		t.Errorf("down: %d %s", status, h.Get("X-Amzn-Errortype"))
	}
	srv.SetDown(false)
	if status, _, _ := invoke(t, url, "amazon.titan-embed-text-v2:0", "invoke", body); status != 200 {
		t.Errorf("up again: %d", status)
	}
}
