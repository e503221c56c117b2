package bedrock_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbedrock "github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/meridian-gateway/meridian/internal/audit"
)

// TestPerSourceProfiles: with per-source destination sets, GetInferenceProfile
// lists, as Bedrock does, the destinations of the region asked; a source
// outside the set cannot call the profile, and a call is served only in its
// source's set.
func TestPerSourceProfiles(t *testing.T) {
	regions := []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}, {"eu-north-1", "eu"}}
	c := startCluster(t, regions, `profiles:
  system:
    eu.demo.chat-small:
      sources:
        eu-west-1: [eu-west-1]
        eu-central-1: [eu-central-1, eu-west-1]
`)
	ctx := t.Context()
	for region, want := range map[string][]string{
		"eu-west-1":    {"arn:aws:bedrock:eu-west-1::foundation-model/demo.chat-small"},
		"eu-central-1": {"arn:aws:bedrock:eu-central-1::foundation-model/demo.chat-small", "arn:aws:bedrock:eu-west-1::foundation-model/demo.chat-small"},
	} {
		out, err := c.controlClient(region).GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String("eu.demo.chat-small")})
		if err != nil {
			t.Fatalf("GetInferenceProfile from %s: %v", region, err)
		}
		var got []string
		for _, m := range out.Models {
			got = append(got, aws.ToString(m.ModelArn))
		}
		if !slices.Equal(got, want) {
			t.Errorf("models from %s = %v, want %v", region, got, want)
		}
	}

	msg := &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.chat-small"), Messages: []rttypes.Message{{Role: rttypes.ConversationRoleUser,
		Content: []rttypes.ContentBlock{&rttypes.ContentBlockMemberText{Value: "hello"}}}}}
	for i := 0; i < 3; i++ {
		out, err := c.runtimeClient("eu-west-1").Converse(ctx, msg)
		if err != nil {
			t.Fatalf("Converse from eu-west-1: %v", err)
		}
		if got := rawHeader(out.ResultMetadata, "X-Meridian-Inference-Region"); got != "eu-west-1" {
			t.Errorf("served in %q, want eu-west-1 (the only destination of eu-west-1)", got)
		}
	}
	_, err := c.runtimeClient("eu-north-1").Converse(ctx, msg)
	if err == nil || !strings.Contains(err.Error(), "eu-central-1, eu-west-1") {
		t.Errorf("Converse from eu-north-1 = %v, want a refusal naming the sources", err)
	}
}

// TestConverseRequestMetadataAudited: Converse requestMetadata sent with
// the official client is in the request's audit event and found by
// `audit query --metadata`.
func TestConverseRequestMetadataAudited(t *testing.T) {
	c := startCluster(t, euRegions, "")
	ctx := t.Context()
	out, err := c.runtimeClient("eu-west-1").Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.chat-small"),
		Messages:        []rttypes.Message{{Role: rttypes.ConversationRoleUser, Content: []rttypes.ContentBlock{&rttypes.ContentBlockMemberText{Value: "hello"}}}},
		RequestMetadata: map[string]string{"team": "claims", "ticket": "CLM-42"}})
	if err != nil {
		t.Fatal(err)
	}
	id := rawHeader(out.ResultMetadata, "X-Amzn-Requestid")
	var found []*audit.Event
	err = audit.Query(c.auditDir, audit.Filter{Metadata: map[string]string{"team": "claims"}, Side: audit.SideSource}, func(e *audit.Event) error {
		found = append(found, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].EventID != id || found[0].RequestMetadata["ticket"] != "CLM-42" {
		t.Fatalf("events with team=claims = %+v, want the one of request %s", found, id)
	}
}
