package bedrock_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// TestInvokeFamilyAmbiguousBoundRefused: with the official Bedrock Runtime
// client, another family's InvokeModel body that names its output bound
// twice (which the peek would reserve on one copy and Bedrock serve on
// another) is refused with a ValidationException naming it, streamed or
// not, locally and forwarded (the gateway checks it at the source and
// again at the destination, internal/gateway/ambiguous.go), and by
// CountTokens; the same body with the bound once is served.
func TestInvokeFamilyAmbiguousBoundRefused(t *testing.T) {
	c := dialectCluster(t, `models:
  - {id: pllama}
  - {id: pllamafar}
deployments:
  - {model: pllama, region: eu-west-1, backend: {type: mock, api: bedrock, model: "meta.llama3-8b-instruct-v1:0", ttft: 1ms, tokens_per_second: 5000}}
  - {model: pllamafar, region: eu-central-1, backend: {type: mock, api: bedrock, model: "meta.llama3-8b-instruct-v1:0", ttft: 1ms, tokens_per_second: 5000}}
`)
	rt := c.runtimeClient("eu-west-1")
	tests := []struct {
		name, body, want string // want: the member the refusal names, "" when served
	}{
		{"once", `{"prompt":"Hello","max_gen_len":3}`, ""},
		{"twice", `{"prompt":"Hello","max_gen_len":3,"max_gen_len":100000}`, "max_gen_len is named more than once"},
		{"another case", `{"prompt":"Hello","max_gen_len":100000,"MAX_GEN_LEN":3}`, "max_gen_len is named more than once"},
		{"escaped", `{"prompt":"Hello","max\u005fgen_len":100000}`, "max_gen_len is named with an escape"},
	}
	for _, model := range []string{"eu.pllama", "eu.pllamafar"} {
		for _, tc := range tests {
			check := func(t *testing.T, err error) {
				if tc.want == "" {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				var ve *types.ValidationException
				if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), tc.want) {
					t.Fatalf("got %v; want a ValidationException saying %q", err, tc.want)
				}
			}
			t.Run(model+"/"+tc.name+"/InvokeModel", func(t *testing.T) {
				_, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: []byte(tc.body), ContentType: aws.String("application/json")})
				check(t, err)
			})
			t.Run(model+"/"+tc.name+"/InvokeModelWithResponseStream", func(t *testing.T) {
				out, err := rt.InvokeModelWithResponseStream(t.Context(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(model), Body: []byte(tc.body), ContentType: aws.String("application/json")})
				if err == nil {
					es := out.GetStream()
					for range es.Events() {
					}
					err = es.Err()
					es.Close()
				}
				check(t, err)
			})
			// CountTokens refuses what InvokeModel would
			// (gateway.CheckAmbiguous).
			t.Run(model+"/"+tc.name+"/CountTokens", func(t *testing.T) {
				_, err := rt.CountTokens(t.Context(), &bedrockruntime.CountTokensInput{ModelId: aws.String(model),
					Input: &types.CountTokensInputMemberInvokeModel{Value: types.InvokeModelTokensRequest{Body: []byte(tc.body)}}})
				check(t, err)
			})
		}
	}
	// An Anthropic body's members are checked on CountTokens too.
	for _, tc := range []struct{ name, body, want string }{
		{"anthropic once", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`, ""},
		{"anthropic max_tokens twice", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"max_tokens":100000,"messages":[{"role":"user","content":"hi"}]}`, "max_tokens is named more than once"},
	} {
		t.Run(tc.name+"/CountTokens", func(t *testing.T) {
			_, err := rt.CountTokens(t.Context(), &bedrockruntime.CountTokensInput{ModelId: aws.String("eu.pllama"),
				Input: &types.CountTokensInputMemberInvokeModel{Value: types.InvokeModelTokensRequest{Body: []byte(tc.body)}}})
			var ve *types.ValidationException
			if tc.want == "" && err != nil || tc.want != "" && (!errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), tc.want)) {
				t.Fatalf("got %v; want %q (nothing: counted)", err, tc.want)
			}
		})
	}
}
