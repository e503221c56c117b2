package gateway

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestCheckMaxTokens: a max_tokens within the model's limit passes without
// an allocation; one above it or negative is a 400 naming the caller's
// field and the limit (the context window, or the gateway's bound).
func TestCheckMaxTokens(t *testing.T) {
	cfg, err := topology.Parse([]byte(pathTopology), "path.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Region: "eu-west-1", Config: cfg, Authorizer: AllowAll{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, op, model string
		maxTokens       int
		want            string // "" when accepted
	}{
		{"within the context window", OpChatCompletions, "m", 8192, ""},
		{"unset", OpChatCompletions, "n", 0, ""},
		{"above the context window", OpChatCompletions, "m", 8193,
			"max_tokens is 8193, above the context window of m (8192 tokens); lower it or leave it out"},
		{"above the gateway's bound", OpConverse, "n", MaxTokensBound + 1,
			"inferenceConfig.maxTokens is 2097153, above the gateway's limit for n (2097152 tokens); lower it or leave it out"},
		{"negative", OpChatCompletions, "m", -1, "max_tokens must not be negative"},
	} {
		req := &inference.Request{MaxTokens: tc.maxTokens}
		e := g.checkMaxTokens(tc.op, req, tc.model)
		switch {
		case tc.want == "" && e != nil:
			t.Errorf("%s: refused: %v", tc.name, e)
		case tc.want != "" && (e == nil || e.Message != tc.want || e.Kind != inference.KindInvalidRequest):
			t.Errorf("%s: got %v, want a 400 saying %q", tc.name, e, tc.want)
		}
		if tc.want == "" {
			if n := testing.AllocsPerRun(100, func() { g.checkMaxTokens(tc.op, req, tc.model) }); n != 0 {
				t.Errorf("%s: %v allocations, want 0", tc.name, n)
			}
		}
	}
}
