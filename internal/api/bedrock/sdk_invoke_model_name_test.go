package bedrock_test

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// TestInvokeAnswerNamesCalledModel: an Anthropic body on InvokeModel
// served by a deployment of another dialect (an OpenAI chat deployment;
// Amazon Nova through Converse) is answered with the model id the caller
// called (eu.poa), as /v1/messages answers, not the topology's model (poa):
// the answer and message_start alike, local and forwarded.
func TestInvokeAnswerNamesCalledModel(t *testing.T) {
	c := dialectCluster(t, `models:
  - {id: poa}
  - {id: poafar}
  - {id: pnova}
deployments:
  - {model: poa, region: eu-west-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: poafar, region: eu-central-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: pnova, region: eu-west-1, backend: {type: mock, api: bedrock, model: "amazon.nova-lite-v1:0", ttft: 1ms, tokens_per_second: 5000}}
`)
	rt := c.runtimeClient("eu-west-1")
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`)
	for _, model := range []string{"eu.poa", "eu.poafar", "eu.pnova"} {
		t.Run(model, func(t *testing.T) {
			out, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")})
			if err != nil {
				t.Fatal(err)
			}
			var m struct{ Model string }
			if err := json.Unmarshal(out.Body, &m); err != nil || m.Model != model {
				t.Errorf("InvokeModel answer model %q (%v), want %q", m.Model, err, model)
			}
			st, err := rt.InvokeModelWithResponseStream(t.Context(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")})
			if err != nil {
				t.Fatal(err)
			}
			es := st.GetStream()
			defer es.Close()
			starts := 0
			for ev := range es.Events() {
				ch, ok := ev.(*types.ResponseStreamMemberChunk)
				if !ok {
					continue
				}
				var e struct {
					Type    string
					Message struct{ Model string }
				}
				if err := json.Unmarshal(ch.Value.Bytes, &e); err != nil {
					t.Fatalf("chunk %q: %v", ch.Value.Bytes, err)
				}
				if e.Type == "message_start" {
					starts++
					if e.Message.Model != model {
						t.Errorf("message_start model %q, want %q", e.Message.Model, model)
					}
				}
			}
			if err := es.Err(); err != nil || starts != 1 {
				t.Fatalf("stream: %v, %d message_start events", err, starts)
			}
		})
	}
}
