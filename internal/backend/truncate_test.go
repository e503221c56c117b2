package backend

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// bedrockThinkingMessage is Bedrock's validation message for a Claude
// tool-use turn sent back without its thinking, as a trial saw it cut to
// "We recommend you includ…".
const bedrockThinkingMessage = "Malformed input request: messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"

// TestTruncateKeepsWords: an upstream's message that fits the bound is
// kept whole (Bedrock's thinking message among them); a longer one is cut
// at a sentence end or a space, with an ellipsis, never inside a word or
// a character.
func TestTruncateKeepsWords(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("Every word stays whole here. ", 60)
	for _, tc := range []struct {
		name, in string
		n        int
		want     string
	}{
		{"fits", "max_tokens is too large", maxUpstreamMessage, "max_tokens is too large"},
		{"bedrock thinking message", bedrockThinkingMessage, maxUpstreamMessage, bedrockThinkingMessage},
		{"sentence end", "One sentence. Two sentences here", 20, "One sentence. …"},
		{"word", "alpha beta gamma delta", 14, "alpha beta …"},
		{"one long word", "abcdefghij", 4, "abcd…"},
		{"no half character", "ééééé", 3, "é…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := truncate(tc.in, tc.n); got != tc.want {
				t.Errorf("truncate(%.40q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
	got := truncate(long, maxUpstreamMessage)
	if len(got) > maxUpstreamMessage+len(" …") || !strings.HasSuffix(got, "here. …") || !utf8.ValidString(got) {
		t.Errorf("truncate(long) = %.80q… (%d bytes), want whole sentences within %d bytes", got, len(got), maxUpstreamMessage)
	}
}

// TestUpstreamRefusalWhole: a deployment's 400 with Bedrock's thinking
// message reaches the caller whole, not cut inside a word at 300 bytes.
func TestUpstreamRefusalWhole(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"message": bedrockThinkingMessage})
	}))
	t.Cleanup(srv.Close)
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m"})
	defer b.Close()
	_, err := b.Complete(t.Context(), req())
	var e *inference.Error
	if !errors.As(err, &e) || e.Message != "the model rejected the request: "+bedrockThinkingMessage {
		t.Fatalf("error %v, want the model's whole message", err)
	}
}
