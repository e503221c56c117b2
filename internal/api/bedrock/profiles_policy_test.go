package bedrock_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsbedrock "github.com/aws/aws-sdk-go-v2/service/bedrock"
	cptypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"

	"github.com/meridian-gateway/meridian/internal/audit"
)

// restrictedPolicies gives the principal "restricted" (access key
// deniedAKID) the list action, both invoke actions on eu.demo.chat-small
// alone (the profile and, through it only, the model in each EU region),
// and bedrock:GetInferenceProfile on global.demo.chat-small alone; the
// tester gets every action.
const restrictedPolicies = `  - {id: restricted, access_keys: [{id: ` + deniedAKID + `, secret_env: ` + deniedSecretEnv + `}], policies: [eu-chat]}
policies:
  eu-chat:
    Version: "2012-10-17"
    Statement:
      - { Effect: Allow, Action: "bedrock:ListInferenceProfiles", Resource: "*" }
      - Effect: Allow
        Action: [bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream]
        Resource: "arn:aws:bedrock:*:111122223333:inference-profile/eu.demo.chat-small"
      - Effect: Allow
        Action: [bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream]
        Resource: "arn:aws:bedrock:eu-*::foundation-model/demo.chat-small"
        Condition: { StringLike: { "bedrock:InferenceProfileArn": "arn:aws:bedrock:*:111122223333:inference-profile/eu.demo.chat-small" } }
      - { Effect: Allow, Action: "bedrock:GetInferenceProfile", Resource: "arn:aws:bedrock:*:111122223333:inference-profile/global.demo.chat-small" }
  all:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:*", Resource: "*" }]
`

// TestInferenceProfilesFollowPolicies: ListInferenceProfiles, asked with
// the official client (one call, and its paginator one profile a page),
// shows an unrestricted key every profile callable from the region, and
// a restricted key only the profiles it may invoke (eu.demo.chat-small)
// or read (global.demo.chat-small, by bedrock:GetInferenceProfile); a
// GetInferenceProfile still needs bedrock:GetInferenceProfile on the
// profile, so that the restricted key reads global.demo.chat-small, and
// gets AccessDeniedException for a profile it may only invoke, one it may
// not see and one that does not exist alike. Every list and get is
// audited once.
func TestInferenceProfilesFollowPolicies(t *testing.T) {
	c := startCluster(t, euRegions, restrictedPolicies)
	ctx := t.Context()
	restricted := awsbedrock.New(awsbedrock.Options{Region: "eu-west-1", BaseEndpoint: aws.String(c.url("eu-west-1")), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(deniedAKID, deniedSecret, ""), HTTPClient: c.httpClient()})
	list := func(t *testing.T, cp *awsbedrock.Client) []string {
		t.Helper()
		out, err := cp.ListInferenceProfiles(ctx, &awsbedrock.ListInferenceProfilesInput{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range out.InferenceProfileSummaries {
			ids = append(ids, aws.ToString(s.InferenceProfileId))
		}
		var paged []string
		p := awsbedrock.NewListInferenceProfilesPaginator(cp, &awsbedrock.ListInferenceProfilesInput{MaxResults: aws.Int32(1)})
		for p.HasMorePages() && len(paged) <= len(ids) {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range page.InferenceProfileSummaries {
				paged = append(paged, aws.ToString(s.InferenceProfileId))
			}
		}
		if !slices.Equal(paged, ids) {
			t.Errorf("paginator, one a page: %v, want the list's %v", paged, ids)
		}
		return ids
	}

	all := list(t, c.controlClient("eu-west-1"))
	for _, id := range []string{"eu.demo.chat-small", "eu.demo.throttled", "global.demo.chat-small", "global.demo.throttled"} {
		if !slices.Contains(all, id) {
			t.Errorf("unrestricted list %v lacks %s", all, id)
		}
	}
	if got, want := list(t, restricted), []string{"eu.demo.chat-small", "global.demo.chat-small"}; !slices.Equal(got, want) {
		t.Errorf("restricted list = %v, want %v (what it may invoke or read)", got, want)
	}

	for _, id := range all {
		if _, err := c.controlClient("eu-west-1").GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(id)}); err != nil {
			t.Errorf("unrestricted Get(%s): %v", id, err)
		}
	}
	if _, err := restricted.GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String("global.demo.chat-small")}); err != nil {
		t.Errorf("restricted Get(global.demo.chat-small), allowed by bedrock:GetInferenceProfile: %v", err)
	}
	for _, id := range []string{"eu.demo.chat-small", "eu.demo.throttled", "eu.demo.nope"} {
		_, err := restricted.GetInferenceProfile(ctx, &awsbedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(id)})
		var ade *cptypes.AccessDeniedException
		if !errors.As(err, &ade) {
			t.Errorf("restricted Get(%s) = %v, want *types.AccessDeniedException", id, err)
			continue
		}
		// The message names the id as given, whether it exists or not:
		// the ARN an existing profile resolves to would tell them apart.
		if want := "not authorized to perform bedrock:GetInferenceProfile on " + id; !strings.Contains(ade.ErrorMessage(), want) || strings.Contains(ade.ErrorMessage(), "arn:") {
			t.Errorf("restricted Get(%s): message %q, want it to name the id as given (%q) and no ARN", id, ade.ErrorMessage(), want)
		}
	}

	// 2 lists (one call, then the paginator's pages) for each key, a get
	// of each profile for the unrestricted one and 4 gets for the
	// restricted one: each one event, refused or answered.
	names := map[string]int{}
	byPrincipal := map[string]int{}
	err := audit.Query(c.auditDir, audit.Filter{Side: audit.SideSource}, func(e *audit.Event) error {
		names[e.EventName]++
		byPrincipal[e.UserIdentity.PrincipalID]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantLists := 1 + len(all) + 1 + 2
	if names["ListInferenceProfiles"] != wantLists || names["GetInferenceProfile"] != len(all)+4 {
		t.Errorf("audit events %v, want %d ListInferenceProfiles and %d GetInferenceProfile", names, wantLists, len(all)+4)
	}
	if byPrincipal["restricted"] != 1+2+4 {
		t.Errorf("events by principal %v, want %d of restricted", byPrincipal, 1+2+4)
	}
}

// denyReadPolicies give the principal "restricted" the list action and
// both invoke actions on eu.demo.chat-small and global.demo.chat-small,
// with an explicit Deny of bedrock:GetInferenceProfile on
// eu.demo.chat-small.
const denyReadPolicies = `  - {id: restricted, access_keys: [{id: ` + deniedAKID + `, secret_env: ` + deniedSecretEnv + `}], policies: [deny-read]}
policies:
  deny-read:
    Version: "2012-10-17"
    Statement:
      - { Effect: Allow, Action: "bedrock:ListInferenceProfiles", Resource: "*" }
      - Effect: Allow
        Action: [bedrock:InvokeModel, bedrock:InvokeModelWithResponseStream]
        Resource: ["arn:aws:bedrock:*:111122223333:inference-profile/eu.demo.chat-small", "arn:aws:bedrock:*:111122223333:inference-profile/global.demo.chat-small", "arn:aws:bedrock:*::foundation-model/demo.chat-small"]
      - { Effect: Deny, Action: "bedrock:GetInferenceProfile", Resource: "arn:aws:bedrock:*:111122223333:inference-profile/eu.demo.chat-small" }
  all:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:*", Resource: "*" }]
`

// TestInferenceProfilesExplicitDenyHides: an explicit Deny of
// bedrock:GetInferenceProfile on a profile hides it from
// ListInferenceProfiles (asked with the official client, in one call and
// one profile a page) even for a principal that may invoke it; a profile
// it may invoke without such a Deny stays listed.
func TestInferenceProfilesExplicitDenyHides(t *testing.T) {
	c := startCluster(t, euRegions, denyReadPolicies)
	ctx := t.Context()
	restricted := awsbedrock.New(awsbedrock.Options{Region: "eu-west-1", BaseEndpoint: aws.String(c.url("eu-west-1")), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(deniedAKID, deniedSecret, ""), HTTPClient: c.httpClient()})
	out, err := restricted.ListInferenceProfiles(ctx, &awsbedrock.ListInferenceProfilesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range out.InferenceProfileSummaries {
		ids = append(ids, aws.ToString(s.InferenceProfileId))
	}
	var paged []string
	p := awsbedrock.NewListInferenceProfilesPaginator(restricted, &awsbedrock.ListInferenceProfilesInput{MaxResults: aws.Int32(1)})
	for p.HasMorePages() && len(paged) <= len(ids) {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.InferenceProfileSummaries {
			paged = append(paged, aws.ToString(s.InferenceProfileId))
		}
	}
	if want := []string{"global.demo.chat-small"}; !slices.Equal(ids, want) || !slices.Equal(paged, want) {
		t.Errorf("list = %v, paged %v; want %v (eu.demo.chat-small is denied bedrock:GetInferenceProfile)", ids, paged, want)
	}
}
