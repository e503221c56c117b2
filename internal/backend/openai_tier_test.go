package backend

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestOpenAISendsServiceTier: an OpenAI deployment is asked for the tier
// the gateway admitted a request in (priority, flex) when the caller asked
// by the X-Amzn-Bedrock-Service-Tier header alone, passed through or
// translated, as a bedrock deployment is; a body's own service_tier is
// kept as sent, and the default tier changes nothing.
func TestOpenAISendsServiceTier(t *testing.T) {
	o := NewOpenAI(OpenAIConfig{BaseURL: "http://127.0.0.1:1/v1", Model: "gpt"})
	defer o.Close()
	chat := func(extra string) []byte {
		return []byte(`{"model":"eu.x",` + extra + `"messages":[{"role":"user","content":"hi"}]}`)
	}
	for _, tc := range []struct {
		name    string
		dialect inference.Dialect
		body    []byte
		tier    inference.ServiceTier
		want    string // the service_tier member's raw value upstream, "" none
	}{
		{"pass-through, header priority", inference.DialectOpenAIChat, chat(""), inference.TierPriority, `"priority"`},
		{"pass-through, header flex", inference.DialectOpenAIChat, chat(""), inference.TierFlex, `"flex"`},
		{"pass-through, default tier", inference.DialectOpenAIChat, chat(""), inference.TierDefault, ""},
		{"pass-through, no tier", inference.DialectOpenAIChat, chat(""), "", ""},
		{"pass-through, body's own kept", inference.DialectOpenAIChat, chat(`"service_tier":"auto",`), inference.TierPriority, `"auto"`},
		{"pass-through, null is none", inference.DialectOpenAIChat, chat(`"service_tier":null,`), inference.TierFlex, `"flex"`},
		{"translated Anthropic body", inference.DialectAnthropic, []byte(`{"model":"eu.x","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`), inference.TierPriority, `"priority"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, stream := range []bool{false, true} {
				req := &inference.Request{Dialect: tc.dialect, Body: tc.body, ServiceTier: tc.tier}
				out, err := o.body(req, stream)
				if err != nil {
					t.Fatalf("stream=%v: %v", stream, err)
				}
				if got := string(inference.Field(out, "service_tier")); got != tc.want {
					t.Errorf("stream=%v: service_tier %q, want %q (body %s)", stream, got, tc.want, out)
				}
			}
		})
	}
}
