package bedrock_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbedrock "github.com/aws/aws-sdk-go-v2/service/bedrock"
	cptypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/profile"
)

func TestInferenceProfilesWithOfficialClient(t *testing.T) {
	overTransports(t, testInferenceProfilesWithOfficialClient)
}

func testInferenceProfilesWithOfficialClient(t *testing.T) {
	c := startCluster(t, euRegions, "")
	ctx := t.Context()
	cp := c.controlClient("eu-west-1")

	t.Run("list system profiles with their destinations", func(t *testing.T) {
		out, err := cp.ListInferenceProfiles(ctx, &awsbedrock.ListInferenceProfilesInput{TypeEquals: cptypes.InferenceProfileTypeSystemDefined})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range out.InferenceProfileSummaries {
			ids = append(ids, aws.ToString(s.InferenceProfileId))
			if s.Type != cptypes.InferenceProfileTypeSystemDefined || s.Status != cptypes.InferenceProfileStatusActive {
				t.Errorf("%s: type %s status %s", aws.ToString(s.InferenceProfileId), s.Type, s.Status)
			}
			if aws.ToString(s.InferenceProfileId) == "eu.demo.chat-small" {
				var arns []string
				for _, m := range s.Models {
					arns = append(arns, aws.ToString(m.ModelArn))
				}
				want := []string{"arn:aws:bedrock:eu-central-1::foundation-model/demo.chat-small", "arn:aws:bedrock:eu-west-1::foundation-model/demo.chat-small"}
				if !slices.Equal(arns, want) {
					t.Errorf("eu.demo.chat-small models = %v, want %v", arns, want)
				}
				if aws.ToString(s.InferenceProfileArn) != profile.ProfileARN("aws", "eu-west-1", "111122223333", "eu.demo.chat-small") {
					t.Errorf("ARN = %s", aws.ToString(s.InferenceProfileArn))
				}
			}
		}
		if !slices.Contains(ids, "eu.demo.chat-small") || slices.Contains(ids, "us.demo.chat-small") {
			t.Errorf("system profiles from eu-west-1 = %v, want eu.* and global.* only", ids)
		}
	})

	t.Run("paginate one at a time", func(t *testing.T) {
		all, err := cp.ListInferenceProfiles(ctx, &awsbedrock.ListInferenceProfilesInput{})
		if err != nil {
			t.Fatal(err)
		}
		p := awsbedrock.NewListInferenceProfilesPaginator(cp, &awsbedrock.ListInferenceProfilesInput{MaxResults: aws.Int32(1)})
		n := 0
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n += len(page.InferenceProfileSummaries)
			if n > 50 {
				t.Fatal("paginator does not end")
			}
		}
		if n != len(all.InferenceProfileSummaries) || n < 3 {
			t.Errorf("paginated %d profiles, listed %d at once", n, len(all.InferenceProfileSummaries))
		}
	})

	var appARN string
	t.Run("create, get, converse, idempotency", func(t *testing.T) {
		in := &awsbedrock.CreateInferenceProfileInput{InferenceProfileName: aws.String("team-a-chat"), Description: aws.String("Team A chat"),
			ModelSource: &cptypes.InferenceProfileModelSourceMemberCopyFrom{Value: profile.ProfileARN("aws", "eu-west-1", "111122223333", "eu.demo.chat-small")},
			Tags:        []cptypes.Tag{{Key: aws.String("cost-center"), Value: aws.String("a-42")}}, ClientRequestToken: aws.String("token-1")}
		out, err := cp.CreateInferenceProfile(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		appARN = aws.ToString(out.InferenceProfileArn)
		if !strings.HasPrefix(appARN, "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/") || out.Status != cptypes.InferenceProfileStatusActive {
			t.Fatalf("CreateInferenceProfile = %s %s", appARN, out.Status)
		}
		again, err := cp.CreateInferenceProfile(ctx, in)
		if err != nil || aws.ToString(again.InferenceProfileArn) != appARN {
			t.Errorf("repeated create with the same token = %v, %v; want %s", aws.ToString(again.InferenceProfileArn), err, appARN)
		}
		in.ClientRequestToken = aws.String("token-2")
		_, err = cp.CreateInferenceProfile(ctx, in)
		var conflict *cptypes.ConflictException
		if !errors.As(err, &conflict) {
			t.Errorf("create with a taken name = %v, want *types.ConflictException", err)
		}
		id := appARN[strings.LastIndex(appARN, "/")+1:]
		for _, ident := range []string{appARN, id} {
			got, err := cp.GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(ident)})
			if err != nil {
				t.Fatalf("GetInferenceProfile(%s): %v", ident, err)
			}
			if aws.ToString(got.InferenceProfileName) != "team-a-chat" || got.Type != cptypes.InferenceProfileTypeApplication ||
				len(got.Models) != 2 || got.CreatedAt == nil || aws.ToString(got.Description) != "Team A chat" {
				t.Errorf("GetInferenceProfile(%s) = name %s type %s models %d created %v", ident, aws.ToString(got.InferenceProfileName), got.Type, len(got.Models), got.CreatedAt)
			}
		}
		out2, err := c.runtimeClient("eu-west-1").Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(appARN), Messages: userMessage("hi")})
		if err != nil {
			t.Fatalf("Converse through the application profile: %v", err)
		}
		if r := rawHeader(out2.ResultMetadata, gateway.HeaderInferenceRegion); !strings.HasPrefix(r, "eu-") {
			t.Errorf("application profile served in %q", r)
		}
		if p := rawHeader(out2.ResultMetadata, gateway.HeaderInferenceProfile); p != id {
			t.Errorf("%s = %q, want %s", gateway.HeaderInferenceProfile, p, id)
		}
		list, err := cp.ListInferenceProfiles(ctx, &awsbedrock.ListInferenceProfilesInput{TypeEquals: cptypes.InferenceProfileTypeApplication})
		if err != nil || len(list.InferenceProfileSummaries) != 1 || aws.ToString(list.InferenceProfileSummaries[0].InferenceProfileArn) != appARN {
			t.Errorf("list APPLICATION = %+v, %v", list, err)
		}
	})

	t.Run("created profiles survive a restart", func(t *testing.T) {
		if appARN == "" {
			t.Skip("create failed")
		}
		c.restart("eu-west-1")
		cp := c.controlClient("eu-west-1")
		if _, err := cp.GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(appARN)}); err != nil {
			t.Fatalf("GetInferenceProfile after restart: %v", err)
		}
		if _, err := c.runtimeClient("eu-west-1").Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(appARN), Messages: userMessage("hi")}); err != nil {
			t.Fatalf("Converse after restart: %v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		cp := c.controlClient("eu-west-1")
		var nf *cptypes.ResourceNotFoundException
		if _, err := cp.GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String("nope")}); !errors.As(err, &nf) {
			t.Errorf("Get(nope) = %v, want *types.ResourceNotFoundException", err)
		}
		var ve *cptypes.ValidationException
		if _, err := cp.DeleteInferenceProfile(ctx, &awsbedrock.DeleteInferenceProfileInput{InferenceProfileIdentifier: aws.String("eu.demo.chat-small")}); !errors.As(err, &ve) {
			t.Errorf("Delete(system profile) = %v, want *types.ValidationException", err)
		}
		_, err := cp.CreateInferenceProfile(ctx, &awsbedrock.CreateInferenceProfileInput{InferenceProfileName: aws.String("x"),
			ModelSource: &cptypes.InferenceProfileModelSourceMemberCopyFrom{Value: "arn:aws:bedrock:eu-west-1::foundation-model/not.deployed"}})
		if !errors.As(err, &nf) {
			t.Errorf("Create(copy of an unknown model) = %v, want *types.ResourceNotFoundException", err)
		}
		if _, err := cp.ListInferenceProfiles(ctx, &awsbedrock.ListInferenceProfilesInput{TypeEquals: "BOGUS"}); !errors.As(err, &ve) {
			t.Errorf("List(type=BOGUS) = %v, want *types.ValidationException", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if appARN == "" {
			t.Skip("create failed")
		}
		cp := c.controlClient("eu-west-1")
		if _, err := cp.DeleteInferenceProfile(ctx, &awsbedrock.DeleteInferenceProfileInput{InferenceProfileIdentifier: aws.String(appARN)}); err != nil {
			t.Fatal(err)
		}
		var nf *cptypes.ResourceNotFoundException
		if _, err := cp.GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(appARN)}); !errors.As(err, &nf) {
			t.Errorf("Get after delete = %v, want *types.ResourceNotFoundException", err)
		}
		var rnf *rttypes.ResourceNotFoundException
		if _, err := c.runtimeClient("eu-west-1").Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(appARN), Messages: userMessage("hi")}); !errors.As(err, &rnf) {
			t.Errorf("Converse after delete = %v, want *types.ResourceNotFoundException", err)
		}
		c.restart("eu-west-1")
		if _, err := c.controlClient("eu-west-1").GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(appARN)}); !errors.As(err, &nf) {
			t.Errorf("Get after delete and restart = %v, want *types.ResourceNotFoundException", err)
		}
	})
}
