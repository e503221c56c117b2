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

func TestBedrockChunk(t *testing.T) {
	t.Parallel()
	ev := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`)
	payload, err := anthropic.WrapBedrockChunk(ev)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"bytes":"eyJ0eXBlIjoiY29udGVudF9ibG9ja19kZWx0YSIsImluZGV4IjowLCJkZWx0YSI6eyJ0eXBlIjoidGV4dF9kZWx0YSIsInRleHQiOiJIaSJ9fQ=="}`; string(payload) != want {
		t.Errorf("WrapBedrockChunk = %s, want %s", payload, want)
	}
	got, err := anthropic.UnwrapBedrockChunk(payload)
	if err != nil || string(got) != string(ev) {
		t.Errorf("UnwrapBedrockChunk = %s, %v; want %s", got, err, ev)
	}
}
