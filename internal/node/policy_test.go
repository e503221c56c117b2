package node

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/auth"
)

// TestPoliciesSteerRouting: principals with different policies call the
// same profiles. A geographic profile is served only in the destinations
// whose foundation model the caller may use; a global profile is authorized
// as Bedrock does (profile and model in the source region, and the
// region-less model ARN with aws:RequestedRegion "unspecified"), so a policy
// that allows the model only in some regions cannot use it; a principal
// with no allow gets 403 naming the missing permission.
func TestPoliciesSteerRouting(t *testing.T) {
	keys := map[string]string{}
	for _, p := range []string{"alice", "bob", "carol", "dana"} {
		keys[p], _ = auth.NewKey()
	}
	extra := fmt.Sprintf(`  - {id: alice, api_keys: [%q], policies: [eu-west-only]}
  - {id: bob, api_keys: [%q], policies: [global-anywhere]}
  - {id: carol, api_keys: [%q], policies: [nothing-useful]}
  - {id: dana, api_keys: [%q], policies: [global-in-eu]}
policies:
  eu-west-only:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource: ["arn:aws:bedrock:*:111122223333:inference-profile/eu.*", "arn:aws:bedrock:eu-west-1::foundation-model/*"]
  global-anywhere:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: "bedrock:Invoke*"
        Resource: "arn:aws:bedrock:*:111122223333:inference-profile/global.*"
      - Effect: Allow
        Action: "bedrock:Invoke*"
        Resource: "arn:aws:bedrock:*::foundation-model/*"
        Condition: { StringLike: { "bedrock:InferenceProfileArn": "arn:aws:bedrock:*:111122223333:inference-profile/global.*" } }
  global-in-eu:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource: ["arn:aws:bedrock:*:111122223333:inference-profile/global.*", "arn:aws:bedrock:eu-*::foundation-model/*"]
  nothing-useful:
    Version: "2012-10-17"
    Statement:
      - { Effect: Allow, Action: "bedrock:ListInferenceProfiles", Resource: "*" }
`, auth.HashKey(keys["alice"]), auth.HashKey(keys["bob"]), auth.HashKey(keys["carol"]), auth.HashKey(keys["dana"]))
	c := startCluster(t, threeRegions, extra)
	tests := []struct {
		principal, source, profile string
		stream                     bool
		wantRegions                []string
	}{
		{"alice", "eu-central-1", "eu.demo.chat-small", false, []string{"eu-west-1"}},
		{"alice", "eu-west-1", "eu.demo.chat-small", true, []string{"eu-west-1"}},
		{"bob", "eu-west-1", "global.demo.chat-small", false, []string{"us-east-1", "eu-west-1", "eu-central-1"}},
		{"bob", "us-east-1", "global.demo.chat-small", true, []string{"us-east-1", "eu-west-1", "eu-central-1"}},
	}
	for _, tc := range tests {
		for i := 0; i < 3; i++ {
			status, h, body := c.post(tc.source, chatBody(tc.profile, tc.stream), keys[tc.principal])
			if got := h.Get("X-Meridian-Inference-Region"); status != 200 || !slices.Contains(tc.wantRegions, got) {
				t.Fatalf("%s from %s on %s (stream=%v): status %d region %q body %s, want 200 in %v", tc.principal, tc.source, tc.profile, tc.stream, status, got, body, tc.wantRegions)
			}
		}
	}
	// bob may not use the eu. profile at all.
	status, _, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", false), keys["bob"])
	if status != 403 || !strings.Contains(string(body), "inference-profile/eu.demo.chat-small") {
		t.Errorf("bob on eu.: %d %s, want 403 naming the profile ARN", status, body)
	}
	// dana may use the model only in eu-* regions: the region-less check
	// of a global profile fails, as in Bedrock.
	status, _, body = c.post("eu-west-1", chatBody("global.demo.chat-small", false), keys["dana"])
	if status != 403 || !strings.Contains(string(body), "arn:aws:bedrock:::foundation-model/demo.chat-small") {
		t.Errorf("dana on global.: %d %s, want 403 naming the region-less foundation-model ARN", status, body)
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
// outside the EU keeps every request in the EU. Geographic EU profiles are
// served there; a global profile is refused, as Bedrock refuses it: its
// region-less check has aws:RequestedRegion "unspecified", which the
// guardrail denies (it never runs in the US, even with the EU down).
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
	for i := 0; i < 5; i++ {
		status, h, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", false), key)
		if got := h.Get("X-Meridian-Inference-Region"); status != 200 || !strings.HasPrefix(got, "eu-") {
			t.Fatalf("eu. under an EU guardrail: status %d region %q body %s", status, got, body)
		}
	}
	for _, src := range []string{"eu-west-1", "us-east-1"} {
		status, h, body := c.post(src, chatBody("global.demo.chat-small", false), key)
		if status != 403 || h.Get("X-Meridian-Inference-Region") != "" {
			t.Errorf("global from %s under an EU guardrail: status %d region %q body %s, want 403", src, status, h.Get("X-Meridian-Inference-Region"), body)
		}
	}
	c.mocks["eu-west-1"].SetDown(true)
	c.mocks["eu-central-1"].SetDown(true)
	status, h, body := c.post("eu-west-1", chatBody("global.demo.chat-small", false), key)
	if status == 200 || h.Get("X-Meridian-Inference-Region") != "" {
		t.Errorf("global with EU down under an EU guardrail: status %d region %q body %s; it must not run in the US", status, h.Get("X-Meridian-Inference-Region"), body)
	}
}
