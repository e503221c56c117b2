package bedrock_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbedrock "github.com/aws/aws-sdk-go-v2/service/bedrock"
	cptypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/meridian-gateway/meridian/internal/profile"
)

// eventually polls cond on a ticker until it holds; the deadline is only a
// hang guard.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: never happened", what)
		case <-tick.C:
		}
	}
}

// TestProfilesReachOtherRegions: a profile created through one region's
// node is resolved by the other regions' nodes, and its deletion too.
func TestProfilesReachOtherRegions(t *testing.T) { overTransports(t, testProfilesReachOtherRegions) }

func testProfilesReachOtherRegions(t *testing.T) {
	c := startCluster(t, euRegions, "")
	ctx := t.Context()
	out, err := c.controlClient("eu-west-1").CreateInferenceProfile(ctx, &awsbedrock.CreateInferenceProfileInput{InferenceProfileName: aws.String("shared"),
		ModelSource: &cptypes.InferenceProfileModelSourceMemberCopyFrom{Value: profile.ProfileARN("aws", "eu-west-1", "111122223333", "eu.demo.chat-small")}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.InferenceProfileArn)
	id := arn[len(arn)-12:]
	central := c.controlClient("eu-central-1")
	eventually(t, "profile visible in eu-central-1", func() bool {
		_, err := central.GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(id)})
		return err == nil
	})
	if _, err := c.runtimeClient("eu-central-1").Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(id), Messages: userMessage("hi")}); err != nil {
		t.Fatalf("Converse(%s) in eu-central-1: %v", id, err)
	}
	if _, err := c.controlClient("eu-west-1").DeleteInferenceProfile(ctx, &awsbedrock.DeleteInferenceProfileInput{InferenceProfileIdentifier: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deletion visible in eu-central-1", func() bool {
		_, err := central.GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(id)})
		return err != nil
	})
}
