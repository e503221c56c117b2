package bedrock_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TestTranslatedInvokeStreamMetrics: an Anthropic body on
// InvokeModelWithResponseStream, sent with the official Bedrock Runtime
// client to a deployment that translates it (an OpenAI chat deployment;
// Amazon Nova, a Bedrock model that is not Claude, through Converse),
// ends as a Claude stream does on Bedrock: the last chunk, message_stop,
// holds amazon-bedrock-invocationMetrics, whose token counts are the
// stream's usage and those the non-streamed answer's
// X-Amzn-Bedrock-*-Token-Count headers carry. Local and forwarded.
func TestTranslatedInvokeStreamMetrics(t *testing.T) {
	c := dialectCluster(t, `models:
  - {id: poa}
  - {id: poafar}
  - {id: pnova}
  - {id: pnovafar}
deployments:
  - {model: poa, region: eu-west-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: poafar, region: eu-central-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: pnova, region: eu-west-1, backend: {type: mock, api: bedrock, model: "amazon.nova-lite-v1:0", ttft: 1ms, tokens_per_second: 5000}}
  - {model: pnovafar, region: eu-central-1, backend: {type: mock, api: bedrock, model: "amazon.nova-lite-v1:0", ttft: 1ms, tokens_per_second: 5000}}
`)
	rt := c.runtimeClient("eu-west-1")
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"Tell me about Paris."}]}`)
	for _, model := range []string{"eu.poa", "eu.poafar", "eu.pnova", "eu.pnovafar"} {
		t.Run(model, func(t *testing.T) {
			var hdr smithyhttp.Response
			out, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")})
			if err != nil {
				t.Fatalf("InvokeModel: %v", err)
			}
			if r, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
				hdr = *r
			}
			wantIn, _ := strconv.Atoi(hdr.Header.Get("X-Amzn-Bedrock-Input-Token-Count"))
			if wantIn <= 0 {
				t.Fatalf("InvokeModel input token header %q", hdr.Header.Get("X-Amzn-Bedrock-Input-Token-Count"))
			}
			st, err := rt.InvokeModelWithResponseStream(t.Context(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")})
			if err != nil {
				t.Fatalf("InvokeModelWithResponseStream: %v", err)
			}
			es := st.GetStream()
			defer es.Close()
			var chunks []map[string]json.RawMessage
			for ev := range es.Events() {
				ch, ok := ev.(*types.ResponseStreamMemberChunk)
				if !ok {
					continue
				}
				var m map[string]json.RawMessage
				if err := json.Unmarshal(ch.Value.Bytes, &m); err != nil {
					t.Fatalf("chunk %q: %v", ch.Value.Bytes, err)
				}
				chunks = append(chunks, m)
			}
			if err := es.Err(); err != nil {
				t.Fatal(err)
			}
			if len(chunks) < 2 {
				t.Fatalf("%d chunks", len(chunks))
			}
			last := chunks[len(chunks)-1]
			var metrics struct {
				InputTokenCount, OutputTokenCount   *int
				InvocationLatency, FirstByteLatency *int64
			}
			if string(last["type"]) != `"message_stop"` || json.Unmarshal(last["amazon-bedrock-invocationMetrics"], &metrics) != nil ||
				metrics.InputTokenCount == nil || metrics.OutputTokenCount == nil || metrics.InvocationLatency == nil || metrics.FirstByteLatency == nil {
				t.Fatalf("last chunk %s, want message_stop with the four invocation metrics", mustMarshal(last))
			}
			var delta struct {
				Usage struct {
					OutputTokens int `json:"output_tokens"`
				} `json:"usage"`
			}
			json.Unmarshal(mustMarshal(chunks[len(chunks)-2]), &delta)
			if *metrics.InputTokenCount != wantIn || *metrics.OutputTokenCount != delta.Usage.OutputTokens || *metrics.OutputTokenCount <= 0 {
				t.Errorf("metrics in %d out %d, want in %d (InvokeModel's header) and out %d (message_delta)", *metrics.InputTokenCount, *metrics.OutputTokenCount, wantIn, delta.Usage.OutputTokens)
			}
			if *metrics.FirstByteLatency > *metrics.InvocationLatency || *metrics.FirstByteLatency < 0 {
				t.Errorf("first byte %d ms after an invocation of %d ms", *metrics.FirstByteLatency, *metrics.InvocationLatency)
			}
		})
	}
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
