package node

import (
	"fmt"
	"maps"
	"testing"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestPolicyChangeDecidesTheNextRequest: the gateway reuses a principal's
// allowing decisions (its policies read no per-request key), and a reload
// that changes the policy decides the very next request: denied at once,
// allowed again once the policy is restored.
func TestPolicyChangeDecidesTheNextRequest(t *testing.T) {
	key, _ := auth.NewKey()
	extra := fmt.Sprintf(`  - {id: erin, api_keys: [%q], policies: [invoke]}
policies:
  invoke:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource: ["arn:aws:bedrock:*:111122223333:inference-profile/eu.*", "arn:aws:bedrock:eu-*::foundation-model/*"]
`, auth.HashKey(key))
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}}, extra)
	n := c.nodes["eu-west-1"]
	allowed := n.Config()
	denied := *allowed
	denied.Policies = maps.Clone(allowed.Policies)
	denied.Policies["invoke"] = topology.PolicyDocument{JSON: []byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"bedrock:ListInferenceProfiles","Resource":"*"}]}`)}
	steps := []struct {
		name   string
		cfg    *topology.Config // reloaded before the requests; nil: none
		status int
	}{
		{"allowed", nil, 200},
		{"allowed again (reused)", nil, 200},
		{"policy changed", &denied, 403},
		{"policy restored", allowed, 200},
	}
	for _, st := range steps {
		if st.cfg != nil {
			if err := n.Reload(st.cfg); err != nil {
				t.Fatalf("%s: Reload = %v", st.name, err)
			}
		}
		for _, stream := range []bool{false, true} {
			if status, _, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", stream), key); status != st.status {
				t.Errorf("%s (stream=%v): status %d (%s), want %d", st.name, stream, status, body, st.status)
			}
		}
	}
}
