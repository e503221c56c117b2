package openai_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// newFor returns a value of the schema type a roundtrip file name starts with.
func newFor(name string) any {
	switch {
	case strings.HasPrefix(name, "request_"):
		return new(openai.ChatCompletionRequest)
	case strings.HasPrefix(name, "response_"):
		return new(openai.ChatCompletion)
	case strings.HasPrefix(name, "chunk_"):
		return new(openai.ChatCompletionChunk)
	case strings.HasPrefix(name, "error_"):
		return new(openai.ErrorResponse)
	}
	return nil
}

// TestRoundTrip decodes realistic bodies (from the API reference, with
// unknown members added at several depths) and checks the re-encoding is
// equivalent.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/roundtrip/*.json")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			v := newFor(name)
			if err := json.Unmarshal(in, v); err != nil {
				t.Fatalf("Unmarshal(%s): %v", name, err)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if eq, err := jsonx.Equivalent(in, out); err != nil || !eq {
				t.Errorf("round trip of %s:\n in  %s\n out %s", name, in, out)
			}
		})
	}
}

func TestDecodedFields(t *testing.T) {
	t.Parallel()
	in, _ := os.ReadFile("testdata/roundtrip/request_full.json")
	var r openai.ChatCompletionRequest
	if err := json.Unmarshal(in, &r); err != nil {
		t.Fatal(err)
	}
	if got := r.Messages[1].Content.Parts[1].ImageURL.Extra.Keys(); !cmp.Equal(got, []string{"x_img"}) {
		t.Errorf("image_url extra keys = %v", got)
	}
	if got := r.Extra.Keys(); !cmp.Equal(got, []string{"x_num", "x_top"}) {
		t.Errorf("top extra keys = %v", got)
	}
	if r.ToolChoice.Function.Name != "get_weather" || r.Stop.Sequences()[1] != "STOP" || *r.MaxCompletionTokens != 1024 {
		t.Errorf("decoded fields wrong: %+v", r)
	}
	if string(r.Messages[2].ToolCalls[0].Function.Extra["x_fn"]) != "null" {
		t.Errorf("null unknown member lost")
	}
}

func TestPeek(t *testing.T) {
	t.Parallel()
	full, _ := os.ReadFile("testdata/roundtrip/request_full.json")
	tests := []struct {
		name string
		in   string
		want openai.Peeked
	}{
		{"full", string(full), openai.Peeked{Model: "gpt-4o", Stream: true, IncludeUsage: true, MaxTokens: 1024,
			Features: openai.FeatureTools | openai.FeatureImages | openai.FeatureAudio | openai.FeatureFiles | openai.FeatureJSONSchema | openai.FeatureReasoning | openai.FeatureLogprobs | openai.FeatureLogitBias | openai.FeaturePrediction | openai.FeatureWebSearch}},
		{"minimal", `{"model":"m","messages":[{"role":"user","content":"image_url"}]}`, openai.Peeked{Model: "m"}},
		{"escaped and duplicate", `{"model":"a","\u006dodel":"b","stream":false,"max_tokens":5,"n":2}`, openai.Peeked{Model: "b", MaxTokens: 5, Features: openai.FeatureMultipleChoices}},
		{"invalid utf-8 model", "{\"model\":\"a\xffb\"}", openai.Peeked{Model: "a\ufffdb"}},
		{"json object", `{"model":"m","response_format":{"type":"json_object"},"stream":true}`, openai.Peeked{Model: "m", Stream: true, Features: openai.FeatureJSONObject}},
		{"audio out", `{"model":"m","modalities":["text","audio"],"stream_options":{"include_usage":false}}`, openai.Peeked{Model: "m", Features: openai.FeatureAudio}},
		{"reasoning_effort none", `{"model":"m","reasoning_effort":"none"}`, openai.Peeked{Model: "m"}},
		{"reasoning_effort low", `{"model":"m","reasoning_effort":"low"}`, openai.Peeked{Model: "m", Features: openai.FeatureReasoning}},
		{"reasoning_effort null", `{"model":"m","reasoning_effort":null}`, openai.Peeked{Model: "m"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := openai.Peek([]byte(tc.in))
			if err != nil {
				t.Fatalf("Peek: %v", err)
			}
			if got != tc.want {
				t.Errorf("Peek = %+v (%v), want %+v (%v)", got, got.Features.Names(), tc.want, tc.want.Features.Names())
			}
		})
	}
	if _, err := openai.Peek([]byte(`{"model":`)); err == nil {
		t.Error("Peek(truncated) = nil error")
	}
}

func TestPeekAllocs(t *testing.T) {
	full, _ := os.ReadFile("testdata/roundtrip/request_full.json")
	if n := testing.AllocsPerRun(100, func() { openai.Peek(full) }); n > 3 {
		t.Errorf("Peek allocates %v times, want at most 3 (model string and scan closures)", n)
	}
}

func BenchmarkPeek(b *testing.B) {
	full, _ := os.ReadFile("testdata/roundtrip/request_full.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(full)))
	for b.Loop() {
		openai.Peek(full)
	}
}

func BenchmarkDecode(b *testing.B) {
	full, _ := os.ReadFile("testdata/roundtrip/request_full.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(full)))
	for b.Loop() {
		var r openai.ChatCompletionRequest
		json.Unmarshal(full, &r)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	files, _ := filepath.Glob("testdata/roundtrip/*.json")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		openai.PeekUsage(data)
		p, perr := openai.Peek(data)
		var req openai.ChatCompletionRequest
		if json.Unmarshal(data, &req) == nil && len(req.Extra) == 0 && perr == nil {
			// Peek reads what a full decode reads.
			max := req.MaxTokens
			if req.MaxCompletionTokens != nil && *req.MaxCompletionTokens > 0 {
				max = req.MaxCompletionTokens
			}
			if p.Model != req.Model || p.Stream != (req.Stream != nil && *req.Stream) || (max != nil && p.MaxTokens != *max && *max > 0) {
				t.Fatalf("Peek(%q) = %+v, decode = model %q stream %v max %v", data, p, req.Model, req.Stream, max)
			}
		}
		for _, v := range []any{new(openai.ChatCompletionRequest), new(openai.ChatCompletion), new(openai.ChatCompletionChunk)} {
			if json.Unmarshal(data, v) != nil {
				continue
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("Marshal after Unmarshal(%q): %v", data, err)
			}
			if err := json.Unmarshal(out, v); err != nil {
				t.Fatalf("re-decode of %s: %v", out, err)
			}
		}
	})
}

func TestDeps(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, "github.com/meridian-gateway/meridian/internal/schema/") {
			t.Errorf("openai depends on %s; it may import only the standard library and schema/jsonx", p)
		}
	}
}

func TestSetModel(t *testing.T) {
	t.Parallel()
	in := `{"model":"alias", "messages":[{"role":"user","content":"model"}],"x_vendor":{"a":1.50e3}}`
	got, err := openai.SetModel([]byte(in), "gpt-4o-2024-08-06")
	want := `{"model":"gpt-4o-2024-08-06", "messages":[{"role":"user","content":"model"}],"x_vendor":{"a":1.50e3}}`
	if err != nil || string(got) != want {
		t.Errorf("SetModel = %s, %v; want %s", got, err, want)
	}
}

func TestNewErrorResponse(t *testing.T) {
	t.Parallel()
	b, _ := json.Marshal(openai.NewErrorResponse("bad", "invalid_request_error", "", ""))
	if want := `{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}`; string(b) != want {
		t.Errorf("NewErrorResponse = %s, want %s", b, want)
	}
	b, _ = json.Marshal(openai.NewErrorResponse("bad", "invalid_request_error", "n", "unsupported_parameter"))
	if want := `{"error":{"message":"bad","type":"invalid_request_error","param":"n","code":"unsupported_parameter"}}`; string(b) != want {
		t.Errorf("NewErrorResponse = %s, want %s", b, want)
	}
}

// BenchmarkPeekLargeImage peeks a request carrying a 1 MiB base64 image:
// the scan must not cost more than a pass over the bytes.
func BenchmarkPeekLargeImage(b *testing.B) {
	img := strings.Repeat("iVBORw0KGgoAAAANSUhEUgAA", 1<<20/24)
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"what?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,` + img + `"}}]}],"stream":true}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if p, err := openai.Peek(body); err != nil || p.Features&openai.FeatureImages == 0 {
			b.Fatal(p, err)
		}
	}
}
