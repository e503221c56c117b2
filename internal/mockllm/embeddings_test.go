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
