package bedrock_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/meridian-gateway/meridian/internal/node"
)

// TestBedrockBackendChainFamily: a bedrock deployment chained to another
// Meridian node names that node's model (eu.demo.chat-small), whose
// provider token ("demo") no family knows, so by default it is family
// other and an Anthropic body asking for thinking is refused by the
// translation to Converse; with backend.family: claude the body passes
// through to the other node's InvokeModel and is answered, as before
// Meridian knew families.
func TestBedrockBackendChainFamily(t *testing.T) {
	for _, tc := range []struct {
		family string
		ok     bool
	}{{"", false}, {"family: claude, ", true}} {
		t.Run(fmt.Sprintf("family=%q", tc.family), func(t *testing.T) {
			b := startChainTarget(t)
			a := startNode(t, `account: "111122223333"
audit: {disabled: true}
server: {data_dir: `+fmt.Sprintf("%q", t.TempDir())+`}
link: {insecure_dev_link: true}
geographies: {eu: {name: EU, aws_regions: [eu-central-1]}}
regions: [{id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "%[1]s", link: "%[2]s"}]
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, capabilities: [chat, tools, reasoning], backend: {type: bedrock, aws_region: eu-central-1, model: eu.demo.chat-small, `+tc.family+`endpoint: "http://`+b.ClientAddr()+`", residency_checked: true}}
principals: [{id: app, access_keys: [{id: AKIDAPP, secret_env: APP_SECRET}]}]
`, "eu-west-1", func(k string) string {
				if k == "APP_SECRET" {
					return "app-secret"
				}
				return ""
			})
			c := &cluster{t: t, nodes: map[string]*node.Node{"eu-west-1": a}}
			rt := c.clientAs("eu-west-1", "AKIDAPP", "app-secret")
			body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"hi"}]}`
			_, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String("eu.demo.chat-small"), Body: []byte(body), ContentType: aws.String("application/json")})
			if (err == nil) != tc.ok {
				t.Fatalf("InvokeModel with thinking = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
