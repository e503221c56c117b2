package converse_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// TestRoundTrip decodes realistic bodies (from the API reference, with
// unknown members added at several depths, and the "p" padding member real
// stream events carry) and checks the re-encoding is equivalent.
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
			var out []byte
			switch {
			case strings.HasPrefix(name, "event_"):
				typ, _, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(name, "event_"), ".json"), "_")
				e, err := converse.DecodeEvent(typ, in)
				if err != nil {
					t.Fatalf("DecodeEvent(%s): %v", typ, err)
				}
				out, err = e.Payload()
				if err != nil {
					t.Fatal(err)
				}
			default:
				var v any
				switch {
				case strings.HasPrefix(name, "request_"):
					v = new(converse.Request)
				case strings.HasPrefix(name, "response_"):
					v = new(converse.Response)
				default:
					v = new(converse.ErrorResponse)
				}
				if err := json.Unmarshal(in, v); err != nil {
					t.Fatalf("Unmarshal(%s): %v", name, err)
				}
				if out, err = json.Marshal(v); err != nil {
					t.Fatal(err)
				}
			}
			if eq, err := jsonx.Equivalent(in, out); err != nil || !eq {
				t.Errorf("round trip of %s:\n in  %s\n out %s", name, in, out)
			}
		})
	}
}

func TestUnionMembers(t *testing.T) {
	t.Parallel()
	in, _ := os.ReadFile("testdata/roundtrip/request_full.json")
	var r converse.Request
	if err := json.Unmarshal(in, &r); err != nil {
		t.Fatal(err)
	}
	if b := r.Messages[0].Content[1].Image; b == nil || string(b.Source.Bytes[:4]) != "\x89PNG" {
		t.Errorf("image bytes not decoded from base64: %+v", b)
	}
	if tb := r.Messages[1].Content[1].Text; tb == nil || *tb != "" {
		t.Errorf("empty text block lost its member")
	}
	if r.ToolConfig.ToolChoice.Tool.Name != "top_song" || r.System[1].CachePoint.TTL != "1h" {
		t.Errorf("decoded fields wrong")
	}
	if _, err := converse.DecodeEvent("bogus", []byte(`{}`)); err == nil {
		t.Error("DecodeEvent(bogus) = nil error")
	}
}

func TestPeek(t *testing.T) {
	t.Parallel()
	full, _ := os.ReadFile("testdata/roundtrip/request_full.json")
	got, err := converse.Peek(full)
	if err != nil {
		t.Fatal(err)
	}
	want := converse.Peeked{MaxTokens: 2048, Features: converse.FeatureTools | converse.FeatureImages | converse.FeatureDocuments | converse.FeatureVideo |
		converse.FeatureJSONSchema | converse.FeatureReasoning | converse.FeatureCache | converse.FeatureGuardrail | converse.FeatureAdditionalFields}
	if got != want {
		t.Errorf("Peek = %+v %v, want %+v %v", got, got.Features.Names(), want, want.Features.Names())
	}
	got, _ = converse.Peek([]byte(`{"messages":[{"role":"user","content":[{"text":"image"}]}],"inferenceConfig":{"maxTokens":10}}`))
	if got != (converse.Peeked{MaxTokens: 10}) {
		t.Errorf("Peek(plain) = %+v", got)
	}
	// gpt-oss's reasoning member is reasoning, as Claude's and Nova's are.
	got, _ = converse.Peek([]byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"additionalModelRequestFields":{"reasoning_effort":"high"}}`))
	if want := converse.FeatureReasoning | converse.FeatureAdditionalFields; got.Features != want {
		t.Errorf("Peek(reasoning_effort) features %v, want %v", got.Features.Names(), want.Names())
	}
}

func BenchmarkPeek(b *testing.B) {
	full, _ := os.ReadFile("testdata/roundtrip/request_full.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(full)))
	for b.Loop() {
		converse.Peek(full)
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/roundtrip/*.json")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		converse.Peek(data)
		converse.PeekUsage(data)
		for _, v := range []any{new(converse.Request), new(converse.Response), new(converse.ContentBlockDelta), new(converse.Metadata)} {
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
			t.Errorf("converse depends on %s; it may import only the standard library and schema/jsonx", p)
		}
	}
}
