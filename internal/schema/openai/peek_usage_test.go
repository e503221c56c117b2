package openai_test

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

func TestPeekUsage(t *testing.T) {
	got, ok, err := openai.PeekUsage([]byte(`{"id":"c","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":3}}}`))
	if want := (openai.Tokens{Prompt: 9, Completion: 12, Cached: 4, Reasoning: 3}); err != nil || !ok || got != want {
		t.Errorf("PeekUsage = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	chunk := []byte(`{"id":"c","choices":[{"index":0,"delta":{"content":"usage"},"finish_reason":null}],"usage":null}`)
	if _, ok, err := openai.PeekUsage(chunk); ok || err != nil {
		t.Errorf("PeekUsage(content chunk) = %v, %v; want no usage", ok, err)
	}
	if n := testing.AllocsPerRun(100, func() { openai.PeekUsage(chunk) }); n > 0 {
		t.Errorf("PeekUsage of a content chunk allocates %v times, want 0", n)
	}
}
