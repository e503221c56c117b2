package mockllm_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/mockllm"
)

func postEmbeddings(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url+"/v1/embeddings", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestEmbeddings: vectors are deterministic unit vectors seeded by the
// input, of the requested dimensions, as floats or little-endian float32
// base64; malformed requests get a 400 in OpenAI's shape naming the field.
func TestEmbeddings(t *testing.T) {
	cfg := mockllm.Default()
	cfg.Models = []string{"embed"}
	_, url := start(t, cfg)
	status, b := postEmbeddings(t, url, `{"model":"embed","input":["a","b","a"],"dimensions":16}`)
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
	if status != 200 || json.Unmarshal(b, &out) != nil || out.Object != "list" || out.Model != "embed" || len(out.Data) != 3 || out.Usage.PromptTokens != 3 {
		t.Fatalf("%d %s", status, b)
	}
	for i, d := range out.Data {
		var n float64
		for _, f := range d.Embedding {
			n += f * f
		}
		if d.Index != i || len(d.Embedding) != 16 || math.Abs(math.Sqrt(n)-1) > 1e-5 {
			t.Errorf("vector %d: index %d, %d dimensions, norm %v", i, d.Index, len(d.Embedding), math.Sqrt(n))
		}
	}
	if out.Data[0].Embedding[3] != out.Data[2].Embedding[3] || out.Data[0].Embedding[3] == out.Data[1].Embedding[3] {
		t.Error("vectors are not a function of the input")
	}

	status, b = postEmbeddings(t, url, `{"model":"embed","input":"a","dimensions":16,"encoding_format":"base64"}`)
	var b64 struct{ Data []struct{ Embedding string } }
	if status != 200 || json.Unmarshal(b, &b64) != nil || len(b64.Data) != 1 {
		t.Fatalf("%d %s", status, b)
	}
	raw, err := base64.StdEncoding.DecodeString(b64.Data[0].Embedding)
	if err != nil || len(raw) != 64 {
		t.Fatalf("base64 %q: %v", b64.Data[0].Embedding, err)
	}
	if f := math.Float32frombits(binary.LittleEndian.Uint32(raw[12:])); f != float32(out.Data[0].Embedding[3]) {
		t.Errorf("base64 vector's [3] = %v, float one %v", f, out.Data[0].Embedding[3])
	}

	for _, tc := range []struct{ body, param string }{
		{`{"model":"embed","input":[]}`, "input"},
		{`{"model":"embed","input":{"a":1}}`, "input"},
		{`{"model":"embed","input":"a","dimensions":0}`, "dimensions"},
		{`{"model":"embed","input":"a","encoding_format":"int8"}`, "encoding_format"},
	} {
		status, b := postEmbeddings(t, url, tc.body)
		if e := parseError(t, b); status != 400 || deref(e.Error.Param) != tc.param {
			t.Errorf("%s: %d %s, want a 400 naming %s", tc.body, status, b, tc.param)
		}
	}
	if status, _ := postEmbeddings(t, url, `{"model":"other","input":"a"}`); status != 404 {
		t.Errorf("unknown model: %d, want 404", status)
	}
}

// TestEmbeddingsThrottled: a model server throttles embeddings as it
// throttles chat, so /v1/embeddings and Titan's InvokeModel get the same
// 429 with Retry-After from the operator's throttle, the RPM and TPM
// windows (which chat and embeddings share, charged the input tokens) and
// the concurrency limit's sibling, injected 429s.
func TestEmbeddingsThrottled(t *testing.T) {
	t.Parallel()
	const body = `{"model":"embed","input":"hello"}`
	const titan = `{"inputText":"hello"}`
	for _, tc := range []struct {
		name       string
		cfg        mockllm.Config
		throttle   time.Duration
		ok         int // requests served before the 429
		retryAfter string
		reason     string
	}{
		{"operator throttle", mockllm.Config{}, 3 * time.Second, 0, "3", mockllm.ReasonManual},
		{"rpm", mockllm.Config{RPM: 2}, 0, 2, "", mockllm.ReasonRequests},
		{"tpm", mockllm.Config{TPM: 4}, 0, 2, "", mockllm.ReasonTokens},
		{"injected 429", mockllm.Config{FailRate: 1, FailStatus: 429}, 0, 0, "1", mockllm.ReasonInjected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.Clock = clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) // the windows never slide
			s, url := start(t, tc.cfg)
			if tc.throttle > 0 {
				s.SetThrottled(tc.throttle)
			}
			for i := range tc.ok {
				if status, b := postEmbeddings(t, url, body); status != 200 {
					t.Fatalf("request %d: %d %s, want 200", i, status, b)
				}
			}
			resp, err := http.Post(url+"/v1/embeddings", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if e := parseError(t, b); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" ||
				(tc.retryAfter != "" && resp.Header.Get("Retry-After") != tc.retryAfter) ||
				resp.Header.Get(mockllm.HeaderThrottleReason) != tc.reason || e.Error.Code == nil {
				t.Fatalf("embeddings: %d %v %s, want a 429 (%s) with Retry-After", resp.StatusCode, resp.Header, b, tc.reason)
			}
			// Titan's InvokeModel, in Bedrock's shape, and chat are refused too.
			status, h, b := invoke(t, url, "amazon.titan-embed-text-v2:0", "invoke", []byte(titan))
			if status != 429 || h.Get("X-Amzn-Errortype") != "ThrottlingException" || h.Get("Retry-After") == "" {
				t.Fatalf("titan: %d %v %s, want Bedrock's 429 with Retry-After", status, h, b)
			}
			if resp, b := post(t, t.Context(), url, `{"model":"embed","messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != 429 {
				t.Fatalf("chat: %d %s, want 429", resp.StatusCode, b)
			}
			if tc.throttle > 0 {
				s.SetThrottled(0)
				if status, b := postEmbeddings(t, url, body); status != 200 {
					t.Fatalf("after the throttle: %d %s", status, b)
				}
			}
		})
	}
}
