package anthropic_test

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
)

func TestBodyShapes(t *testing.T) {
	t.Parallel()
	v1 := `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"stream":true,"x":{"model":1}}`
	got, err := anthropic.ToBedrockBody([]byte(v1))
	want := `{"max_tokens":10,"messages":[{"role":"user","content":"hi"}],"x":{"model":1},"anthropic_version":"bedrock-2023-05-31"}`
	if err != nil || string(got) != want {
		t.Errorf("ToBedrockBody(%s) = %s, %v; want %s", v1, got, err, want)
	}
	back, err := anthropic.ToMessagesBody(got, "claude-sonnet-4-5", true)
	want = `{"max_tokens":10,"messages":[{"role":"user","content":"hi"}],"x":{"model":1},"model":"claude-sonnet-4-5","stream":true}`
	if err != nil || string(back) != want {
		t.Errorf("ToMessagesBody = %s, %v; want %s", back, err, want)
	}
}
