package backend

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestOpenAISendsServiceTier: an OpenAI deployment is asked for the tier
// the gateway admitted a request in (priority, flex) when the caller asked
// by the X-Amzn-Bedrock-Service-Tier header alone, passed through or
// translated, as a bedrock deployment is, when the deployment declares the
// tier (service_tiers: OpenAI offers flex and priority for some models
// only); an undeclared tier is not sent (the request is served in the
// default tier), a body's own service_tier is kept as sent, and the
// default tier changes nothing.
func TestOpenAISendsServiceTier(t *testing.T) {
	o := NewOpenAI(OpenAIConfig{BaseURL: "http://127.0.0.1:1/v1", Model: "gpt", ServiceTiers: []string{"priority", "flex"}})
	defer o.Close()
	flexOnly := NewOpenAI(OpenAIConfig{BaseURL: "http://127.0.0.1:1/v1", Model: "gpt", ServiceTiers: []string{"flex"}})
	defer flexOnly.Close()
	undeclared := NewOpenAI(OpenAIConfig{BaseURL: "http://127.0.0.1:1/v1", Model: "gpt"})
	defer undeclared.Close()
	chat := func(extra string) []byte {
		return []byte(`{"model":"eu.x",` + extra + `"messages":[{"role":"user","content":"hi"}]}`)
	}
	for _, tc := range []struct {
		name    string
		o       *OpenAI
		dialect inference.Dialect
		body    []byte
		tier    inference.ServiceTier
		want    string // the service_tier member's raw value upstream, "" none
	}{
		{"pass-through, header priority", o, inference.DialectOpenAIChat, chat(""), inference.TierPriority, `"priority"`},
		{"pass-through, header flex", o, inference.DialectOpenAIChat, chat(""), inference.TierFlex, `"flex"`},
		{"pass-through, default tier", o, inference.DialectOpenAIChat, chat(""), inference.TierDefault, ""},
		{"pass-through, no tier", o, inference.DialectOpenAIChat, chat(""), "", ""},
		{"pass-through, body's own kept", o, inference.DialectOpenAIChat, chat(`"service_tier":"auto",`), inference.TierPriority, `"auto"`},
		{"pass-through, null is none", o, inference.DialectOpenAIChat, chat(`"service_tier":null,`), inference.TierFlex, `"flex"`},
		{"translated Anthropic body", o, inference.DialectAnthropic, []byte(`{"model":"eu.x","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`), inference.TierPriority, `"priority"`},
		{"undeclared, header priority", undeclared, inference.DialectOpenAIChat, chat(""), inference.TierPriority, ""},
		{"undeclared, translated", undeclared, inference.DialectAnthropic, []byte(`{"model":"eu.x","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`), inference.TierFlex, ""},
		{"flex only, header priority", flexOnly, inference.DialectOpenAIChat, chat(""), inference.TierPriority, ""},
		{"flex only, header flex", flexOnly, inference.DialectOpenAIChat, chat(""), inference.TierFlex, `"flex"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, stream := range []bool{false, true} {
				req := &inference.Request{Dialect: tc.dialect, Body: tc.body, ServiceTier: tc.tier}
				out, err := tc.o.body(req, stream)
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

// TestTranslatedTierUndeclared: a translation that carries the caller's
// priority or flex into the deployment's API (OpenAI service_tier,
// Converse serviceTier) asks for the default tier instead when the
// deployment does not declare it, as the gateway serves and reports it;
// a declared tier, another value or no member is kept.
func TestTranslatedTierUndeclared(t *testing.T) {
	t.Parallel()
	both := []string{"priority", "flex"}
	for _, tc := range []struct {
		name, member, body string
		tier               inference.ServiceTier
		declared           []string
		want               string
	}{
		{"openai, undeclared priority", "service_tier", `{"model":"m","service_tier":"priority"}`, inference.TierPriority, nil, `{"model":"m","service_tier":"default"}`},
		{"openai, declared priority", "service_tier", `{"model":"m","service_tier":"priority"}`, inference.TierPriority, both, `{"model":"m","service_tier":"priority"}`},
		{"openai, auto kept", "service_tier", `{"model":"m","service_tier":"auto"}`, inference.TierDefault, nil, `{"model":"m","service_tier":"auto"}`},
		{"openai, none", "service_tier", `{"model":"m"}`, inference.TierFlex, nil, `{"model":"m"}`},
		{"converse, undeclared flex", "serviceTier", `{"messages":[],"serviceTier":{"type":"flex"}}`, inference.TierFlex, []string{"priority"}, `{"messages":[],"serviceTier":{"type":"default"}}`},
		{"converse, declared flex", "serviceTier", `{"messages":[],"serviceTier":{"type":"flex"}}`, inference.TierFlex, both, `{"messages":[],"serviceTier":{"type":"flex"}}`},
		{"converse, reserved kept", "serviceTier", `{"serviceTier":{"type":"reserved"}}`, inference.TierDefault, nil, `{"serviceTier":{"type":"reserved"}}`},
	} {
		got := translatedTier([]byte(tc.body), tc.member, &inference.Request{ServiceTier: tc.tier}, tc.declared)
		if !jsonEqual(t, got, []byte(tc.want)) {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// jsonEqual reports whether a and b decode to the same value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}
