package node

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/auth"
)

// TestDenyOnPrincipalArn: a guardrail denying by aws:PrincipalArn
// (the IAM-user form arn:aws:iam::<account>:user/<username>) refuses the
// contractor's live Bedrock call with 403 AccessDeniedException, and the
// other principal's call, allowed by the same policies, is served. Before
// Meridian set aws:PrincipalArn the Deny denied nothing.
func TestDenyOnPrincipalArn(t *testing.T) {
	ctrKey, _ := auth.NewKey()
	staffKey, _ := auth.NewKey()
	extra := fmt.Sprintf(`  - {id: p-ctr, username: contractor-bob, api_keys: [%q], policies: [allow-all]}
  - {id: p-staff, username: alice, api_keys: [%q], policies: [allow-all]}
policies:
  allow-all:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:*", Resource: "*" }]
guardrails:
  - name: deny-contractors
    policy:
      Version: "2012-10-17"
      Statement:
        - { Sid: AllowAll, Effect: Allow, Action: "*", Resource: "*" }
        - { Sid: DenyContractorArn, Effect: Deny, Action: "*", Resource: "*", Condition: { ArnLike: { "aws:PrincipalArn": "arn:aws:iam::*:user/contractor-*" } } }
        - { Sid: DenyOtherAccounts, Effect: Deny, Action: "*", Resource: "*", Condition: { StringNotEquals: { "aws:PrincipalAccount": "111122223333", "aws:PrincipalType": "User" } } }
`, auth.HashKey(ctrKey), auth.HashKey(staffKey))
	c := startCluster(t, threeRegions[1:2], extra)
	converse := func(key string) (int, http.Header, string) {
		req, _ := http.NewRequest("POST", c.url("eu-west-1")+"/model/eu.demo.chat-small/converse",
			strings.NewReader(`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":8}}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	status, h, body := converse(ctrKey)
	if status != 403 || h.Get("X-Amzn-Errortype") != "AccessDeniedException" || !strings.Contains(body, `"message":`) || !strings.Contains(body, "bedrock:InvokeModel") {
		t.Errorf("contractor: %d %q %s, want 403 AccessDeniedException naming bedrock:InvokeModel", status, h.Get("X-Amzn-Errortype"), body)
	}
	if status, _, body := converse(staffKey); status != 200 {
		t.Errorf("staff: %d %s, want 200", status, body)
	}
	status, _, chat := c.post("eu-west-1", chatBody("eu.demo.chat-small", false), ctrKey)
	if status != 403 {
		t.Errorf("contractor chat completion: %d %s, want 403", status, chat)
	}
}
