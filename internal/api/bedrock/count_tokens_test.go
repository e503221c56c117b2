package bedrock_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	awshttp "github.com/aws/smithy-go/transport/http"

	"github.com/meridian-gateway/meridian/internal/audit"
)

// countPolicies gives "restricted" (deniedAKID) the invoke actions on
// eu.demo.chat-small but not bedrock:CountTokens, and "counter" (access key
// counterAKID) bedrock:CountTokens alone on the EU profiles and models.
const countPolicies = `  - {id: restricted, access_keys: [{id: ` + deniedAKID + `, secret_env: ` + deniedSecretEnv + `}], policies: [invoke-only]}
policies:
  all:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:*", Resource: "*" }]
  invoke-only:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: [bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream]
        Resource: ["arn:aws:bedrock:*:111122223333:inference-profile/*", "arn:aws:bedrock:eu-*::foundation-model/*"]
`

// TestCountTokensWithOfficialClient: CountTokens, called with the official
// aws-sdk-go-v2 client in both of its input forms (a Converse request and
// an InvokeModel body), for a profile served in the source region (local)
// and one whose only deployment is in another region of the geography
// (forwarded for inference): it answers the gateway's estimate from the
// source region, grows with the prompt, needs bedrock:CountTokens (an
// invoke-only caller gets AccessDeniedException naming it), refuses an
// unknown model and a body of neither form, and is audited once a call.
func TestCountTokensWithOfficialClient(t *testing.T) {
	c := wholeCluster(t)
	pc := bootCluster(t, []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}}, "models:\n  - {id: demo.chat-small}\ndeployments:\n  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}\n", countPolicies, "")
	ctx := t.Context()
	rt := c.runtimeClient("eu-west-1")

	converse := func(text string) rttypes.CountTokensInput {
		return &rttypes.CountTokensInputMemberConverse{Value: rttypes.ConverseTokensRequest{Messages: userMessage(text),
			System: []rttypes.SystemContentBlock{&rttypes.SystemContentBlockMemberText{Value: "be brief"}}}}
	}
	invoke := func(text string) rttypes.CountTokensInput {
		body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":[{"type":"text","text":"` + text + `"}]}]}`
		return &rttypes.CountTokensInputMemberInvokeModel{Value: rttypes.InvokeModelTokensRequest{Body: []byte(body)}}
	}
	count := func(t *testing.T, rt *bedrockruntime.Client, model string, in rttypes.CountTokensInput) (int32, string, error) {
		t.Helper()
		out, err := rt.CountTokens(ctx, &bedrockruntime.CountTokensInput{ModelId: aws.String(model), Input: in})
		if err != nil {
			return 0, "", err
		}
		raw, _ := middleware.GetRawResponse(out.ResultMetadata).(*awshttp.Response)
		src := ""
		if raw != nil {
			src = raw.Header.Get("X-Meridian-Source-Region")
		}
		return aws.ToInt32(out.InputTokens), src, nil
	}

	calls := 0
	for _, sv := range served {
		for _, form := range []struct {
			name string
			in   func(string) rttypes.CountTokensInput
		}{{"converse", converse}, {"invokeModel", invoke}} {
			t.Run(sv.name+"/"+form.name, func(t *testing.T) {
				short, src, err := count(t, rt, sv.model, form.in("hi"))
				calls++
				if err != nil {
					t.Fatalf("CountTokens: %v", err)
				}
				long, _, err := count(t, rt, sv.model, form.in(strings.Repeat("many words here ", 100)))
				calls++
				if err != nil {
					t.Fatalf("CountTokens (long): %v", err)
				}
				if short <= 0 || long < short+300 {
					t.Errorf("inputTokens = %d for a short prompt, %d for 1,600 bytes more: want > 0 and about 400 more", short, long)
				}
				if src != "eu-west-1" {
					t.Errorf("x-meridian-source-region = %q, want eu-west-1", src)
				}
			})
		}
	}

	t.Run("refusals", func(t *testing.T) {
		_, _, err := count(t, rt, "eu.demo.nope", converse("hi"))
		calls++
		var nf *rttypes.ResourceNotFoundException
		var ve *rttypes.ValidationException
		if !errors.As(err, &nf) && !errors.As(err, &ve) {
			t.Errorf("unknown model: %v, want ResourceNotFoundException or ValidationException", err)
		}
		_, _, err = count(t, rt, "eu.demo.chat-small", &rttypes.CountTokensInputMemberInvokeModel{Value: rttypes.InvokeModelTokensRequest{Body: []byte(`not json`)}})
		calls++
		if !errors.As(err, &ve) {
			t.Errorf("an InvokeModel body that is not JSON: %v, want ValidationException", err)
		}
	})

	n := 0
	err := audit.Query(c.auditDir, audit.Filter{Side: audit.SideSource}, func(e *audit.Event) error {
		if e.EventName == "CountTokens" {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != calls {
		t.Errorf("%d CountTokens audit events at the source, want one for each of the %d calls", n, calls)
	}
	dst := 0
	audit.Query(c.auditDir, audit.Filter{Side: audit.SideDestination}, func(e *audit.Event) error {
		if e.EventName == "CountTokens" {
			dst++
		}
		return nil
	})
	if dst != 0 {
		t.Errorf("%d CountTokens audit events at a destination, want none (counting never leaves the source)", dst)
	}

	t.Run("needs bedrock:CountTokens", func(t *testing.T) {
		restricted := pc.clientAs("eu-west-1", deniedAKID, deniedSecret)
		if _, err := restricted.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.chat-small"), Messages: userMessage("hi")}); err != nil {
			t.Fatalf("the invoke-only caller's Converse: %v", err)
		}
		_, _, err := count(t, restricted, "eu.demo.chat-small", converse("hi"))
		var ade *rttypes.AccessDeniedException
		if !errors.As(err, &ade) || !strings.Contains(ade.ErrorMessage(), "bedrock:CountTokens") {
			t.Errorf("the invoke-only caller's CountTokens: %v, want AccessDeniedException naming bedrock:CountTokens", err)
		}
		if n, _, err := count(t, pc.runtimeClient("eu-west-1"), "eu.demo.chat-small", converse("hi")); err != nil || n <= 0 {
			t.Errorf("CountTokens with bedrock:* = %d, %v", n, err)
		}
	})
}
