package converse_test

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/converse"
)

func TestPeekUsage(t *testing.T) {
	got, ok, err := converse.PeekUsage([]byte(`{"usage":{"inputTokens":5,"outputTokens":2,"totalTokens":7,"cacheReadInputTokens":3,"cacheWriteInputTokens":1},"metrics":{"latencyMs":50}}`))
	if want := (converse.Tokens{Input: 5, Output: 2, CacheRead: 3, CacheWrite: 1}); err != nil || !ok || got != want {
		t.Errorf("PeekUsage = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	delta := []byte(`{"contentBlockIndex":0,"delta":{"text":"usage"}}`)
	if _, ok, _ := converse.PeekUsage(delta); ok {
		t.Error("PeekUsage(delta) found usage")
	}
	if n := testing.AllocsPerRun(100, func() { converse.PeekUsage(delta) }); n > 0 {
		t.Errorf("PeekUsage of a delta allocates %v times, want 0", n)
	}
}
