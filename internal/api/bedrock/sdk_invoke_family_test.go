package bedrock_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// TestInvokeFamilyBodiesOnSimulatedBedrock: the official Bedrock Runtime
// client sends each family's own InvokeModel body (Amazon Titan Text,
// Mistral, Amazon Nova) to a simulated Bedrock deployment of a model of
// that family, locally and forwarded over the link: the body passes
// through, the answer comes back in the family's documented shape with
// its token limit honoured, and a stream's chunks in the family's stream
// shape, the last with amazon-bedrock-invocationMetrics.
func TestInvokeFamilyBodiesOnSimulatedBedrock(t *testing.T) {
	var models, deps strings.Builder
	families := []struct {
		id, model, body string
		// text returns the answer's text from a non-streamed body or a
		// stream chunk; done reports a chunk that ends the answer.
		text func(m map[string]any) string
	}{
		{"ptitan", "amazon.titan-text-express-v1", `{"inputText":"Hello","textGenerationConfig":{"maxTokenCount":3}}`, func(m map[string]any) string {
			if r, ok := m["results"].([]any); ok && len(r) == 1 {
				return fmt.Sprint(r[0].(map[string]any)["outputText"])
			}
			return fmt.Sprint(m["outputText"])
		}},
		{"pmistral", "mistral.mistral-large-2402-v1:0", `{"prompt":"<s>[INST] Hello [/INST]","max_tokens":3}`, func(m map[string]any) string {
			if o, ok := m["outputs"].([]any); ok && len(o) == 1 {
				return fmt.Sprint(o[0].(map[string]any)["text"])
			}
			return ""
		}},
		{"pnova", "amazon.nova-lite-v1:0", `{"schemaVersion":"messages-v1","messages":[{"role":"user","content":[{"text":"Hello"}]}],"inferenceConfig":{"maxTokens":3}}`, func(m map[string]any) string {
			if o, ok := m["output"].(map[string]any); ok {
				return fmt.Sprint(o["message"].(map[string]any)["content"].([]any)[0].(map[string]any)["text"])
			}
			if d, ok := m["contentBlockDelta"].(map[string]any); ok {
				return fmt.Sprint(d["delta"].(map[string]any)["text"])
			}
			return ""
		}},
	}
	for _, far := range []struct{ suffix, region string }{{"", "eu-west-1"}, {"far", "eu-central-1"}} {
		for _, f := range families {
			fmt.Fprintf(&models, "  - {id: %s%s}\n", f.id, far.suffix)
			fmt.Fprintf(&deps, "  - {model: %s%s, region: %s, backend: {type: mock, api: bedrock, model: %q, ttft: 1ms, tokens_per_second: 5000}}\n", f.id, far.suffix, far.region, f.model)
		}
	}
	c := dialectCluster(t, "models:\n"+models.String()+"deployments:\n"+deps.String())
	rt := c.runtimeClient("eu-west-1")
	for _, far := range []string{"", "far"} {
		for _, f := range families {
			model := "eu." + f.id + far
			t.Run(model+"/InvokeModel", func(t *testing.T) {
				out, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: []byte(f.body), ContentType: aws.String("application/json")})
				if err != nil {
					t.Fatalf("InvokeModel: %v", err)
				}
				var m map[string]any
				if err := json.Unmarshal(out.Body, &m); err != nil || f.text(m) == "" || len(strings.Fields(f.text(m))) > 3 {
					t.Fatalf("answer %s (%v), want the family's shape with at most 3 tokens", out.Body, err)
				}
			})
			t.Run(model+"/InvokeModelWithResponseStream", func(t *testing.T) {
				out, err := rt.InvokeModelWithResponseStream(t.Context(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(model), Body: []byte(f.body), ContentType: aws.String("application/json")})
				if err != nil {
					t.Fatalf("InvokeModelWithResponseStream: %v", err)
				}
				es := out.GetStream()
				defer es.Close()
				var text strings.Builder
				var last map[string]any
				for ev := range es.Events() {
					if ch, ok := ev.(*types.ResponseStreamMemberChunk); ok {
						last = nil
						if err := json.Unmarshal(ch.Value.Bytes, &last); err != nil {
							t.Fatalf("chunk %q: %v", ch.Value.Bytes, err)
						}
						text.WriteString(f.text(last))
					}
				}
				if err := es.Err(); err != nil {
					t.Fatal(err)
				}
				if strings.TrimSpace(text.String()) == "" || last["amazon-bedrock-invocationMetrics"] == nil {
					t.Fatalf("streamed text %q, last chunk %v: want text and the invocation metrics last", text.String(), last)
				}
			})
		}
	}
}
