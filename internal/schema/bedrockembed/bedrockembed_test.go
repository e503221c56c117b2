package bedrockembed_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meridian-gateway/meridian/internal/schema/bedrockembed"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

func newFor(name string) any {
	switch {
	case strings.HasPrefix(name, "titan_multimodal_request"):
		return new(bedrockembed.TitanMultimodalRequest)
	case strings.HasPrefix(name, "titan_request"):
		return new(bedrockembed.TitanRequest)
	case strings.HasPrefix(name, "titan_response"):
		return new(bedrockembed.TitanResponse)
	case strings.HasPrefix(name, "cohere_request"):
		return new(bedrockembed.CohereRequest)
	}
	return new(bedrockembed.CohereResponse)
}

// TestRoundTrip decodes bodies with unknown members at several depths and
// checks the re-encoding is equivalent.
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

func TestVectors(t *testing.T) {
	t.Parallel()
	for name, want := range map[string][][]float64{
		"cohere_response_floats.json":  {{0.1, 0.2}, {0.3}},
		"cohere_response_by_type.json": {{0.5}},
	} {
		b, _ := os.ReadFile(filepath.Join("testdata/roundtrip", name))
		var r bedrockembed.CohereResponse
		if err := json.Unmarshal(b, &r); err != nil || !cmp.Equal(r.Embeddings.Vectors(), want) {
			t.Errorf("%s: Vectors = %v, %v; want %v", name, r.Embeddings.Vectors(), err, want)
		}
	}
	var tr bedrockembed.TitanResponse
	json.Unmarshal([]byte(`{"embeddingsByType":{"float":[1,2]},"inputTextTokenCount":1}`), &tr)
	if !cmp.Equal(tr.Floats(), []float64{1, 2}) {
		t.Errorf("Titan Floats = %v", tr.Floats())
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/roundtrip/*.json")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []any{new(bedrockembed.TitanRequest), new(bedrockembed.TitanResponse), new(bedrockembed.TitanMultimodalRequest), new(bedrockembed.CohereRequest), new(bedrockembed.CohereResponse)} {
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
			t.Errorf("bedrockembed depends on %s; it may import only the standard library and schema/jsonx", p)
		}
	}
}
