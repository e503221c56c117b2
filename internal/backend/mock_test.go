package backend

import (
	"errors"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
)

func TestMockServesAndThrottles(t *testing.T) {
	t.Parallel()
	m, err := NewMock(MockConfig{Model: "chat-small", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	resp, err := m.Complete(t.Context(), req())
	if err != nil {
		t.Fatalf("Complete = %v", err)
	}
	if resp.Message.Text() == "" || resp.Usage.OutputTokens == 0 {
		t.Errorf("response %+v has no text or usage", resp)
	}
	m.Server().SetThrottled(5 * time.Second)
	_, err = m.Complete(t.Context(), req())
	var e *inference.Error
	if !errors.As(err, &e) || e.Kind != inference.KindThrottled || e.RetryAfter != 5*time.Second {
		t.Fatalf("throttled Complete = %v, want KindThrottled with 5s Retry-After", err)
	}
}

// TestMockBedrockFamily: a simulated Bedrock model named like another
// provider's takes no Anthropic body, so an Anthropic request to it is
// translated to Converse (the answer comes back in Converse), as for the
// real model; any other name takes Anthropic bodies as they are.
func TestMockBedrockFamily(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		model string
		want  inference.Dialect
	}{
		{"amazon.nova-lite-v1:0", inference.DialectConverse},
		{"eu.meta.llama3-2-1b-instruct-v1:0", inference.DialectConverse},
		{"demo.chat", inference.DialectAnthropic},
		{"anthropic.claude-3-haiku-20240307-v1:0", inference.DialectAnthropic},
		// The model id of an ARN is after its last "/" (this one was
		// taken as Anthropic's, and the simulator refused the body as
		// Mistral's: "required key [prompt] not found").
		{"arn:aws:bedrock:us-east-1::foundation-model/mistral.mistral-large-2402-v1:0", inference.DialectConverse},
		{"zai.glm-4.7", inference.DialectConverse},
		{"openai.gpt-oss-20b-1:0", inference.DialectConverse},
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3", inference.DialectAnthropic},
	} {
		m, err := NewMock(MockConfig{Model: tc.model, API: "bedrock"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		req, err := inference.PeekInvoke(tc.model, []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`), false)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := m.Complete(t.Context(), req)
		if err != nil {
			t.Fatalf("%s: %v", tc.model, err)
		}
		if resp.Dialect != tc.want {
			t.Errorf("%s: answer in %s, want %s", tc.model, resp.Dialect, tc.want)
		}
	}
}
