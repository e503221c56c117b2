package anthropic_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// TestRoundTrip decodes realistic bodies (from the Messages API reference,
// with unknown members added at several depths) and checks the re-encoding
// is equivalent.
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
			var v any
			switch {
			case strings.HasPrefix(name, "request_"):
				v = new(anthropic.Request)
			case strings.HasPrefix(name, "response_"):
				v = new(anthropic.Response)
			case strings.HasPrefix(name, "event_"):
				v = new(anthropic.Event)
			default:
				v = new(anthropic.ErrorResponse)
			}
			if err := json.Unmarshal(in, v); err != nil {
				t.Fatalf("Unmarshal(%s): %v", name, err)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if eq, err := jsonx.Equivalent(in, out); err != nil || !eq {
				t.Errorf("round trip of %s:\n in  %s\n out %s", name, in, out)
			}
		})
	}
}

func TestDecodedFields(t *testing.T) {
	t.Parallel()
	in, _ := os.ReadFile("testdata/roundtrip/request_bedrock.json")
	var r anthropic.Request
	if err := json.Unmarshal(in, &r); err != nil {
		t.Fatal(err)
	}
	if r.AnthropicVersion != anthropic.BedrockVersion || r.Thinking.BudgetTokens != 1024 || *r.TopK != 250 {
		t.Errorf("decoded fields wrong: %+v", r)
	}
	if r.Tools[1].IsCustom() || string(r.Tools[1].Extra["max_uses"]) != "5" {
		t.Errorf("server tool not kept: %+v", r.Tools[1])
	}
	if tr := r.Messages[2].Content.Blocks[1]; tr.Content.Text != "plain string result" {
		t.Errorf("string tool_result content = %+v", tr.Content)
	}
	if got := r.System.Blocks[0].CacheControl.Extra.Keys(); len(got) != 1 || got[0] != "x_cc" {
		t.Errorf("cache_control extra = %v", got)
	}
}

func TestPeek(t *testing.T) {
	t.Parallel()
	bedrock, _ := os.ReadFile("testdata/roundtrip/request_bedrock.json")
	v1, _ := os.ReadFile("testdata/roundtrip/request_v1.json")
	tests := []struct {
		name string
		in   []byte
		want anthropic.Peeked
	}{
		{"bedrock", bedrock, anthropic.Peeked{AnthropicVersion: anthropic.BedrockVersion, MaxTokens: 2048,
			Features: anthropic.FeatureTools | anthropic.FeatureServerTools | anthropic.FeatureImages | anthropic.FeatureDocuments | anthropic.FeatureThinking | anthropic.FeatureCache}},
		{"v1", v1, anthropic.Peeked{Model: "claude-sonnet-4-5", Stream: true, MaxTokens: 1024, Features: anthropic.FeatureTools}},
		{"text mentions image", []byte(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"image"}]}]}`), anthropic.Peeked{Model: "m", MaxTokens: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := anthropic.Peek(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Peek = %+v %v, want %+v %v", got, got.Features.Names(), tc.want, tc.want.Features.Names())
			}
		})
	}
}

func BenchmarkPeek(b *testing.B) {
	full, _ := os.ReadFile("testdata/roundtrip/request_bedrock.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(full)))
	for b.Loop() {
		anthropic.Peek(full)
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/roundtrip/*.json")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		anthropic.PeekUsage(data)
		p, perr := anthropic.Peek(data)
		var req anthropic.Request
		if json.Unmarshal(data, &req) == nil && len(req.Extra) == 0 && perr == nil {
			// Peek reads what a full decode reads.
			if p.Model != req.Model || p.Stream != (req.Stream != nil && *req.Stream) || p.MaxTokens != req.MaxTokens {
				t.Fatalf("Peek(%q) = %+v, decode = model %q stream %v max %d", data, p, req.Model, req.Stream, req.MaxTokens)
			}
		}
		for _, v := range []any{new(anthropic.Request), new(anthropic.Response), new(anthropic.Event)} {
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
			t.Errorf("anthropic depends on %s; it may import only the standard library and schema/jsonx", p)
		}
	}
}
