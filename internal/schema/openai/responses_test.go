package openai_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// newResponsesFor returns a value of the schema type a file under
// testdata/responses or testdata/embeddings is named for.
func newResponsesFor(dir, name string) any {
	switch {
	case dir == "embeddings" && strings.HasPrefix(name, "request_"):
		return new(openai.EmbeddingRequest)
	case dir == "embeddings":
		return new(openai.EmbeddingResponse)
	case strings.HasPrefix(name, "request_"):
		return new(openai.ResponsesRequest)
	case strings.HasPrefix(name, "response_"):
		return new(openai.Response)
	}
	return new(openai.ResponseStreamEvent)
}

// TestResponsesRoundTrip decodes Responses and Embeddings bodies (with
// unknown members and built-in tool items) and checks the re-encoding is
// equivalent.
func TestResponsesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"responses", "embeddings"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		if len(files) == 0 {
			t.Fatalf("no testdata in %s", dir)
		}
		for _, f := range files {
			name := filepath.Base(f)
			t.Run(dir+"/"+name, func(t *testing.T) {
				t.Parallel()
				in, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				v := newResponsesFor(dir, name)
				if err := json.Unmarshal(in, v); err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
				out, err := json.Marshal(v)
				if err != nil {
					t.Fatalf("Marshal: %v", err)
				}
				if eq, err := jsonx.Equivalent(in, out); err != nil || !eq {
					t.Errorf("round trip:\n in  %s\n out %s", in, out)
				}
			})
		}
	}
}

func TestResponsesDecodedFields(t *testing.T) {
	t.Parallel()
	in, _ := os.ReadFile("testdata/responses/request_full.json")
	var r openai.ResponsesRequest
	if err := json.Unmarshal(in, &r); err != nil {
		t.Fatal(err)
	}
	items := r.Input.Items
	if got := r.Extra.Keys(); !cmp.Equal(got, []string{"x_top"}) {
		t.Errorf("top extra keys = %v", got)
	}
	if items[0].Content.Parts[1].ImageURL != "https://e.com/a.png" || items[0].Content.Parts[0].Extra.Keys()[0] != "x_part" {
		t.Errorf("message parts decoded wrong: %+v", items[0].Content.Parts)
	}
	if items[1].Type != "web_search_call" || items[1].Extra.Keys()[0] != "action" {
		t.Errorf("built-in item decoded wrong: %+v", items[1])
	}
	if r.ToolChoice.Type != "allowed_tools" || r.Text.Format.Name != "n" || r.Reasoning.Effort != "high" || *r.MaxOutputTokens != 1000 {
		t.Errorf("decoded fields wrong: %+v", r)
	}
	var s openai.ResponsesRequest
	if err := json.Unmarshal([]byte(`{"model":"m","input":"hi","tool_choice":"required"}`), &s); err != nil || s.Input.Text != "hi" || s.Input.Items != nil || s.ToolChoice.Mode != "required" {
		t.Errorf("string input = %+v, %v", s, err)
	}
}

// TestItemRequiredMembers checks members the API always sends are present
// even when empty.
func TestItemRequiredMembers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    any
		want string
	}{
		{openai.Item{Type: openai.ItemMessage, ID: "m", Role: "assistant"}, `{"type":"message","id":"m","role":"assistant","content":[]}`},
		{openai.Item{Type: openai.ItemFunctionCall, CallID: "c", Name: "f"}, `{"type":"function_call","call_id":"c","name":"f","arguments":""}`},
		{openai.Item{Type: openai.ItemReasoning, ID: "r"}, `{"type":"reasoning","id":"r","summary":[]}`},
		{openai.ItemPart{Type: openai.PartOutputText}, `{"type":"output_text","text":"","annotations":[]}`},
		{openai.ItemPart{Type: openai.PartOutputRefusal}, `{"type":"refusal","refusal":""}`},
		{openai.ItemPart{Type: openai.PartInputImage, ImageURL: "u"}, `{"type":"input_image","image_url":"u"}`},
	}
	for _, tc := range tests {
		b, err := json.Marshal(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tc.v, b, err, tc.want)
		}
	}
}

func TestEmbeddingInputForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   openai.EmbeddingInput
		tokens bool
	}{
		{`"a"`, openai.EmbeddingInput{Strings: []string{"a"}, Single: true}, false},
		{`["a","b"]`, openai.EmbeddingInput{Strings: []string{"a", "b"}}, false},
		{`[]`, openai.EmbeddingInput{Strings: []string{}}, false},
		{`[1,2]`, openai.EmbeddingInput{Tokens: [][]int64{{1, 2}}, Single: true}, true},
		{`[[1],[2,3]]`, openai.EmbeddingInput{Tokens: [][]int64{{1}, {2, 3}}}, true},
	}
	for _, tc := range tests {
		var got openai.EmbeddingInput
		if err := json.Unmarshal([]byte(tc.in), &got); err != nil || !cmp.Equal(got, tc.want) || got.IsTokens() != tc.tokens {
			t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if b, _ := json.Marshal(got); string(b) != tc.in {
			t.Errorf("Marshal(%+v) = %s, want %s", got, b, tc.in)
		}
	}
	for _, bad := range []string{`1`, `{}`, `[true]`, `["a",1]`, `[1,"a"]`} {
		var got openai.EmbeddingInput
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Errorf("Unmarshal(%s) = %+v, want error", bad, got)
		}
	}
}

func TestFloat32Base64(t *testing.T) {
	t.Parallel()
	in := []float64{0.5, -0.25, 1, 0}
	s := openai.EncodeFloat32Base64(in)
	if s != "AAAAPwAAgL4AAIA/AAAAAA==" {
		t.Errorf("EncodeFloat32Base64 = %s", s)
	}
	got, err := openai.DecodeFloat32Base64(s)
	if err != nil || !cmp.Equal(got, in) {
		t.Errorf("DecodeFloat32Base64 = %v, %v", got, err)
	}
	if got, _ := openai.DecodeFloat32Base64(openai.EncodeFloat32Base64([]float64{0.1})); math.Abs(got[0]-0.1) > 1e-7 {
		t.Errorf("float32 rounding lost more than float32 precision: %v", got)
	}
	if _, err := openai.DecodeFloat32Base64("AAA="); err == nil {
		t.Error("DecodeFloat32Base64(2 bytes) = nil error")
	}
}

func TestPeekResponses(t *testing.T) {
	t.Parallel()
	full, _ := os.ReadFile("testdata/responses/request_full.json")
	items, _ := os.ReadFile("testdata/responses/request_items.json")
	tests := []struct {
		name string
		in   string
		want openai.ResponsesPeeked
	}{
		{"full", string(full), openai.ResponsesPeeked{Peeked: openai.Peeked{Model: "gpt-4.1", Stream: true, IncludeUsage: true, MaxTokens: 1000,
			Features: openai.FeatureTools | openai.FeatureImages | openai.FeatureFiles | openai.FeatureJSONSchema | openai.FeatureReasoning | openai.FeatureLogprobs}, PreviousResponseID: true}},
		{"items", string(items), openai.ResponsesPeeked{Peeked: openai.Peeked{Model: "gpt-4.1",
			Features: openai.FeatureTools | openai.FeatureImages | openai.FeatureFiles | openai.FeatureJSONSchema | openai.FeatureReasoning | openai.FeatureLogprobs}}},
		{"string input naming a part type", `{"model":"m","input":"input_image","reasoning":{"effort":"none"},"previous_response_id":null}`, openai.ResponsesPeeked{Peeked: openai.Peeked{Model: "m"}}},
		{"json object", `{"model":"m","text":{"format":{"type":"json_object"}},"max_output_tokens":5}`, openai.ResponsesPeeked{Peeked: openai.Peeked{Model: "m", MaxTokens: 5, Features: openai.FeatureJSONObject}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := openai.PeekResponses([]byte(tc.in))
			if err != nil || got != tc.want {
				t.Errorf("PeekResponses = %+v (%v), %v; want %+v (%v)", got, got.Features.Names(), err, tc.want, tc.want.Features.Names())
			}
		})
	}
	if _, err := openai.PeekResponses([]byte(`{"model":`)); err == nil {
		t.Error("PeekResponses(truncated) = nil error")
	}
}

func TestPeekResponsesUsage(t *testing.T) {
	t.Parallel()
	want := openai.Tokens{Prompt: 120, Completion: 40, Cached: 100, Reasoning: 12}
	resp, _ := os.ReadFile("testdata/responses/response_tools.json")
	if got, ok, err := openai.PeekResponsesUsage(resp); err != nil || !ok || got != want {
		t.Errorf("PeekResponsesUsage(response) = %+v, %v, %v", got, ok, err)
	}
	ev := `{"type":"response.completed","sequence_number":9,"response":{"id":"r","usage":{"input_tokens":120,"input_tokens_details":{"cached_tokens":100},"output_tokens":40,"output_tokens_details":{"reasoning_tokens":12},"total_tokens":160}}}`
	if got, ok, err := openai.PeekResponsesUsage([]byte(ev)); err != nil || !ok || got != want {
		t.Errorf("PeekResponsesUsage(event) = %+v, %v, %v", got, ok, err)
	}
	if _, ok, err := openai.PeekResponsesUsage([]byte(`{"type":"response.output_text.delta","delta":"usage"}`)); ok || err != nil {
		t.Errorf("PeekResponsesUsage(delta) = %v, %v; want no usage", ok, err)
	}
}

func TestPeekEmbeddings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want openai.EmbeddingsPeeked
	}{
		{`{"model":"e","input":"abcdefgh"}`, openai.EmbeddingsPeeked{Model: "e", Inputs: 1, Tokens: 2}},
		{`{"model":"e","input":["abcde","x"],"dimensions":256,"encoding_format":"base64"}`, openai.EmbeddingsPeeked{Model: "e", Inputs: 2, Tokens: 3, Dimensions: 256, Base64: true}},
		{`{"model":"e","input":[1,2,3]}`, openai.EmbeddingsPeeked{Model: "e", Inputs: 1, Tokens: 3}},
		{`{"model":"e","input":[[1,2],[3],[]]}`, openai.EmbeddingsPeeked{Model: "e", Inputs: 3, Tokens: 3}},
		{`{"input":["a"],"input":[],"model":"e"}`, openai.EmbeddingsPeeked{Model: "e"}},
	}
	for _, tc := range tests {
		got, err := openai.PeekEmbeddings([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("PeekEmbeddings(%s) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzDecodeResponses(f *testing.F) {
	for _, dir := range []string{"responses", "embeddings"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, p := range files {
			b, _ := os.ReadFile(p)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		openai.PeekResponses(data)
		openai.PeekResponsesUsage(data)
		p, perr := openai.PeekEmbeddings(data)
		var er openai.EmbeddingRequest
		if json.Unmarshal(data, &er) == nil && perr == nil && len(er.Extra) == 0 && p.Model == er.Model && p.Inputs != er.Input.Len() {
			t.Fatalf("PeekEmbeddings(%q) inputs = %d, decode = %d", data, p.Inputs, er.Input.Len())
		}
		for _, v := range []any{new(openai.ResponsesRequest), new(openai.Response), new(openai.ResponseStreamEvent), new(openai.EmbeddingRequest), new(openai.EmbeddingResponse)} {
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

func TestPeekResponsesAllocs(t *testing.T) {
	full, _ := os.ReadFile("testdata/responses/request_full.json")
	if n := testing.AllocsPerRun(100, func() { openai.PeekResponses(full) }); n > 4 {
		t.Errorf("PeekResponses allocates %v times, want at most 4 (model string and scan closures)", n)
	}
	emb, _ := os.ReadFile("testdata/embeddings/request_strings.json")
	if n := testing.AllocsPerRun(100, func() { openai.PeekEmbeddings(emb) }); n > 4 {
		t.Errorf("PeekEmbeddings allocates %v times, want at most 4", n)
	}
}
