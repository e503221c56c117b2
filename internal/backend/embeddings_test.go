package backend

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestBedrockEmbeddings: an OpenAI embeddings request to a Bedrock
// embedding deployment is sent to InvokeModel in the model family's body
// (Titan: one call per input; Cohere: one batch) and answered in OpenAI's
// shape with the upstream's token count; a model of no known embedding
// family gets a 400 and no call.
func TestBedrockEmbeddings(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var paths, bodies []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths, bodies = append(paths, r.URL.Path), append(bodies, string(b))
		mu.Unlock()
		if strings.Contains(r.URL.Path, "cohere") {
			io.WriteString(w, `{"id":"c1","response_type":"embeddings_floats","embeddings":[[0.6,0.8],[1,0]],"texts":["a","b"]}`)
			return
		}
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", "3")
		io.WriteString(w, `{"embedding":[0.6,0.8],"inputTextTokenCount":3}`)
	}))
	defer up.Close()
	tests := []struct {
		name, model, body string
		calls             int
		wantBody          string // first upstream body, whole
		status            int
		param             string // the refusal's field
	}{
		{"titan v2", "amazon.titan-embed-text-v2:0", `{"model":"eu.e","input":["a","b"],"dimensions":256}`, 2,
			`{"inputText":"a","dimensions":256,"normalize":true,"embeddingTypes":["float"]}`, 0, ""},
		{"titan v1", "amazon.titan-embed-text-v1", `{"model":"eu.e","input":["a","b"]}`, 2, `{"inputText":"a"}`, 0, ""},
		{"titan v1 dimensions", "amazon.titan-embed-text-v1", `{"model":"eu.e","input":["a","b"],"dimensions":1536}`, 2, `{"inputText":"a"}`, 0, ""},
		{"titan v1 other dimensions", "amazon.titan-embed-text-v1", `{"model":"eu.e","input":"a","dimensions":256}`, 0, "", 400, "dimensions"},
		{"titan multimodal", "amazon.titan-embed-image-v1", `{"model":"eu.e","input":["a","b"]}`, 2, `{"inputText":"a"}`, 0, ""},
		{"titan multimodal dimensions", "amazon.titan-embed-image-v1", `{"model":"eu.e","input":["a","b"],"dimensions":384}`, 2,
			`{"inputText":"a","embeddingConfig":{"outputEmbeddingLength":384}}`, 0, ""},
		{"titan multimodal profile", "eu.amazon.titan-embed-image-v1:0", `{"model":"eu.e","input":["a","b"],"dimensions":256}`, 2,
			`{"inputText":"a","embeddingConfig":{"outputEmbeddingLength":256}}`, 0, ""},
		{"titan multimodal other dimensions", "amazon.titan-embed-image-v1", `{"model":"eu.e","input":"a","dimensions":512}`, 0, "", 400, "dimensions"},
		{"cohere v3", "cohere.embed-english-v3", `{"model":"eu.e","input":["a","b"]}`, 1, `{"texts":["a","b"],"input_type":"search_document"}`, 0, ""},
		{"cohere v4", "cohere.embed-v4:0", `{"model":"eu.e","input":["a","b"],"dimensions":512}`, 1,
			`{"texts":["a","b"],"input_type":"search_document","embedding_types":["float"],"output_dimension":512}`, 0, ""},
		{"not an embedding model", "amazon.nova-pro-v1:0", `{"model":"eu.e","input":"a"}`, 0, "", 400, "model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			paths, bodies = nil, nil
			mu.Unlock()
			b, err := NewBedrock(t.Context(), BedrockConfig{Region: "eu-west-1", Model: tc.model, Endpoint: up.URL,
				Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			req, err := inference.Peek(inference.DialectOpenAIEmbeddings, "", []byte(tc.body), false)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := b.Complete(t.Context(), req)
			mu.Lock()
			defer mu.Unlock()
			if tc.status != 0 {
				// Each is this deployment's limit, known without asking
				// the upstream (the model's dimensions, a model id that
				// names no embedding model): Unfit, so the gateway tries
				// a deployment that embeds, and answers this 400 only when
				// none can (docs/api.md, "Embeddings API").
				if e := inference.AsError(err); err == nil || e.Kind.Status() != tc.status || e.Param != tc.param || !e.Unfit || len(paths) != 0 {
					t.Fatalf("err = %v (unfit %v) after %d calls, want a deployment's %d naming %s and no call", err, e.Unfit, len(paths), tc.status, tc.param)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(paths) != tc.calls || !strings.HasSuffix(paths[0], "/invoke") || bodies[0] != tc.wantBody {
				t.Fatalf("upstream calls %v %v", paths, bodies)
			}
			var out struct {
				Object string
				Model  string
				Data   []struct {
					Index     int
					Embedding []float64
				}
				Usage struct {
					PromptTokens int `json:"prompt_tokens"`
				}
			}
			if err := json.Unmarshal(resp.Body, &out); err != nil || resp.Dialect != inference.DialectOpenAIEmbeddings {
				t.Fatalf("answer %s (%v)", resp.Body, err)
			}
			if out.Object != "list" || out.Model != "eu.e" || len(out.Data) != 2 || out.Data[1].Index != 1 || len(out.Data[0].Embedding) != 2 ||
				out.Usage.PromptTokens <= 0 || resp.Usage.InputTokens != out.Usage.PromptTokens {
				t.Errorf("answer %s, usage %+v", resp.Body, resp.Usage)
			}
		})
	}
}

// TestOpenAIEmbeddings: an OpenAI upstream receives the client's body on
// /embeddings with the deployment's model, and its answer passes through.
func TestOpenAIEmbeddings(t *testing.T) {
	t.Parallel()
	const answer = `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1,0]}],"model":"up-embed","usage":{"prompt_tokens":5,"total_tokens":5},"x_vendor":1}`
	got := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.URL.Path + " " + string(b)
		io.WriteString(w, answer)
	}))
	defer up.Close()
	o := NewOpenAI(OpenAIConfig{BaseURL: up.URL + "/v1", Model: "up-embed"})
	defer o.Close()
	req, err := inference.Peek(inference.DialectOpenAIEmbeddings, "", []byte(`{"model":"eu.e","input":"hello","x_client":true}`), false)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := o.Complete(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if sent := <-got; sent != `/v1/embeddings {"model":"up-embed","input":"hello","x_client":true}` {
		t.Errorf("upstream received %s", sent)
	}
	if string(resp.Body) != answer || resp.Usage.InputTokens != 5 || resp.Dialect != inference.DialectOpenAIEmbeddings {
		t.Errorf("answer %s usage %+v", resp.Body, resp.Usage)
	}
}
