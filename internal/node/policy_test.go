package node

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/auth"
)

// TestPoliciesSteerRouting: two principals with different policies call the
// same global profile and are served only where their policies allow; a
// third, with no allow, gets 403 naming the missing permission.
func TestPoliciesSteerRouting(t *testing.T) {
	keys := map[string]string{}
	for _, p := range []string{"alice", "bob", "carol"} {
		keys[p], _ = auth.NewKey()
	}
	extra := fmt.Sprintf(`  - {id: alice, api_keys: [%q], policies: [global-in-eu]}
  - {id: bob, api_keys: [%q], policies: [global-in-us]}
  - {id: carol, api_keys: [%q], policies: [nothing-useful]}
policies:
  global-in-eu:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource: ["arn:aws:bedrock:*:111122223333:inference-profile/global.*", "arn:aws:bedrock:eu-*::foundation-model/*"]
  global-in-us:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: "bedrock:Invoke*"
        Resource: "arn:aws:bedrock:*:111122223333:inference-profile/*"
      - Effect: Allow
        Action: "bedrock:Invoke*"
        Resource: "arn:aws:bedrock:us-*::foundation-model/*"
        Condition: { StringLike: { "bedrock:InferenceProfileArn": "arn:aws:bedrock:*:111122223333:inference-profile/global.*" } }
  nothing-useful:
    Version: "2012-10-17"
    Statement:
      - { Effect: Allow, Action: "bedrock:ListInferenceProfiles", Resource: "*" }
`, auth.HashKey(keys["alice"]), auth.HashKey(keys["bob"]), auth.HashKey(keys["carol"]))
	c := startCluster(t, threeRegions, extra)
	tests := []struct {
		principal, source string
		stream            bool
		wantRegions       []string
	}{
		{"alice", "us-east-1", false, []string{"eu-west-1", "eu-central-1"}},
		{"alice", "eu-west-1", true, []string{"eu-west-1", "eu-central-1"}},
		{"bob", "eu-west-1", false, []string{"us-east-1"}},
		{"bob", "eu-central-1", true, []string{"us-east-1"}},
	}
	for _, tc := range tests {
		for i := 0; i < 3; i++ {
			status, h, body := c.post(tc.source, chatBody("global.demo.chat-small", tc.stream), keys[tc.principal])
			if got := h.Get("X-Meridian-Inference-Region"); status != 200 || !slices.Contains(tc.wantRegions, got) {
				t.Fatalf("%s from %s (stream=%v): status %d region %q body %s, want 200 in %v", tc.principal, tc.source, tc.stream, status, got, body, tc.wantRegions)
			}
		}
	}
	// bob may not use the eu. profile's foundation models at all.
	status, _, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", false), keys["bob"])
	if status != 403 || !strings.Contains(string(body), "foundation-model/demo.chat-small") {
		t.Errorf("bob on eu.: %d %s, want 403 naming a foundation-model ARN", status, body)
	}
	status, _, body = c.post("eu-west-1", chatBody("global.demo.chat-small", false), keys["carol"])
	var e struct {
		Error struct{ Message, Type string }
	}
	json.Unmarshal(body, &e)
	if status != 403 || e.Error.Type != "permission_denied" || !strings.Contains(e.Error.Message, "bedrock:InvokeModel") ||
		!strings.Contains(e.Error.Message, "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/global.demo.chat-small") {
		t.Errorf("carol: status %d body %s, want 403 naming bedrock:InvokeModel on the profile ARN", status, body)
	}
	if strings.Contains(e.Error.Message, "us-east-1") || strings.Contains(e.Error.Message, "eu-central-1") {
		t.Errorf("denial %q hints at resources beyond the request", e.Error.Message)
	}
}

// TestGuardrailKeepsGlobalInEU: a guardrail denying aws:RequestedRegion
// outside the EU blocks us- destinations of a global profile yet lets EU
// destinations serve.
func TestGuardrailKeepsGlobalInEU(t *testing.T) {
	key, _ := auth.NewKey()
	extra := fmt.Sprintf(`  - {id: dave, api_keys: [%q], policies: [allow-all]}
policies:
  allow-all:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:*", Resource: "*" }]
guardrails:
  - name: eu-only
    policy:
      Version: "2012-10-17"
      Statement:
        - { Sid: AllowAll, Effect: Allow, Action: "*", Resource: "*" }
        - Sid: DenyOutsideEU
          Effect: Deny
          Action: "bedrock:Invoke*"
          Resource: "*"
          Condition: { StringNotLike: { "aws:RequestedRegion": "eu-*" } }
`, auth.HashKey(key))
	c := startCluster(t, threeRegions, extra)
	// Make the EU side busy so that, without the guardrail, us-east-1 would
	// be tried: the guardrail must keep every request in the EU.
	for i := 0; i < 5; i++ {
		status, h, body := c.post("eu-west-1", chatBody("global.demo.chat-small", false), key)
		if got := h.Get("X-Meridian-Inference-Region"); status != 200 || !strings.HasPrefix(got, "eu-") {
			t.Fatalf("global under an EU guardrail: status %d region %q body %s", status, got, body)
		}
	}
	c.mocks["eu-west-1"].SetDown(true)
	c.mocks["eu-central-1"].SetDown(true)
	status, h, body := c.post("eu-west-1", chatBody("global.demo.chat-small", false), key)
	if status == 200 || h.Get("X-Meridian-Inference-Region") != "" {
		t.Errorf("global with EU down under an EU guardrail: status %d region %q body %s; it must not run in the US", status, h.Get("X-Meridian-Inference-Region"), body)
	}
	// From a US source, the profile check itself is outside the EU: denied.
	status, _, body = c.post("us-east-1", chatBody("global.demo.chat-small", false), key)
	if status != 403 {
		t.Errorf("global from us-east-1 under an EU guardrail: %d %s, want 403", status, body)
	}
}
