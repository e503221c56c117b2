package policy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The policies below are AWS's, copied from its documentation with the
// placeholders filled in (REGION us-east-1, ACCOUNT 111122223333, MODEL NAME
// anthropic.claude-sonnet-4-5-20250929-v1:0).

const sonnet = "anthropic.claude-sonnet-4-5-20250929-v1:0"

// awsGlobalIdentityPolicy is the three-statement identity policy of
// https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html
// ("IAM policy requirements for global cross-Region inference").
const awsGlobalIdentityPolicy = `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "GrantGlobalCrisInferenceProfileRegionAccess",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": [
                "arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0"
            ],
            "Condition": {
                "StringEquals": {
                    "aws:RequestedRegion": "us-east-1"
                }
            }
        },
        {
            "Sid": "GrantGlobalCrisInferenceProfileInRegionModelAccess",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": [
                "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
            ],
            "Condition": {
                "StringEquals": {
                    "aws:RequestedRegion": "us-east-1",
                    "bedrock:InferenceProfileArn": "arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0"
                }
            }
        },
        {
            "Sid": "GrantGlobalCrisInferenceProfileGlobalModelAccess",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": [
                "arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
            ],
            "Condition": {
                "StringEquals": {
                    "aws:RequestedRegion": "unspecified",
                    "bedrock:InferenceProfileArn": "arn:aws:bedrock:us-east-1:111122223333:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0"
                }
            }
        }
    ]
}`

// awsDisableGlobalSCP is the service control policy that disables global
// cross-Region inference, from the same page ("Disable global cross-Region
// inference").
const awsDisableGlobalSCP = `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": "bedrock:*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "aws:RequestedRegion": "unspecified"
                },
                "ArnLike": {
                    "bedrock:InferenceProfileArn": "arn:aws:bedrock:*:*:inference-profile/global.*"
                }
            }
        }
    ]
}`

// restrictToUSSCP keeps an account in us-east-1 except for calls made
// through a us.* profile, after the region-restriction SCP pattern of
// https://aws.amazon.com/blogs/machine-learning/securing-amazon-bedrock-cross-region-inference-geographic-and-global/
// (deny outside the approved Region unless bedrock:InferenceProfileArn is
// a us.* profile).
const restrictToUSSCP = `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyOutsideUSEast1ExceptUSProfiles",
            "Effect": "Deny",
            "Action": "bedrock:*",
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {
                    "aws:RequestedRegion": ["us-east-1"]
                },
                "ArnNotLike": {
                    "bedrock:InferenceProfileArn": "arn:aws:bedrock:*:*:inference-profile/us.*"
                }
            }
        }
    ]
}`

// scp returns an SCP as a guardrail: with FullAWSAccess next to it, as AWS
// Organizations attaches it by default, so that the SCP only takes away.
func scp(t *testing.T, name, doc string) *Policy {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	v["Statement"] = append(v["Statement"].([]any), map[string]any{"Sid": "FullAWSAccess", "Effect": "Allow", "Action": "*", "Resource": "*"})
	p, err := FromValue(name, v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func globalInvocation(source string, regions ...string) Invocation {
	inv := Invocation{Action: ActionInvokeModel, SourceRegion: source,
		ProfileARN:     "arn:aws:bedrock:" + source + ":111122223333:inference-profile/global." + sonnet,
		Global:         true,
		SourceModelARN: FoundationModelARN("aws", source, sonnet), RegionlessModelARN: RegionlessFoundationModelARN("aws", sonnet)}
	for _, r := range regions {
		inv.Destinations = append(inv.Destinations, Destination{Region: r, ModelARN: FoundationModelARN("aws", r, sonnet)})
	}
	return inv
}

func geoInvocation(prefix, source string, regions ...string) Invocation {
	inv := Invocation{Action: ActionInvokeModel, SourceRegion: source,
		ProfileARN: "arn:aws:bedrock:" + source + ":111122223333:inference-profile/" + prefix + "." + sonnet}
	for _, r := range regions {
		inv.Destinations = append(inv.Destinations, Destination{Region: r, ModelARN: FoundationModelARN("aws", r, sonnet)})
	}
	return inv
}

// TestGlobalAuthorizationAsAWSDocuments pins Bedrock's rule for global
// profiles (profile ARN and model ARN in the source region, region-less
// model ARN with aws:RequestedRegion "unspecified") against AWS's own
// policies.
func TestGlobalAuthorizationAsAWSDocuments(t *testing.T) {
	t.Parallel()
	allowAll := MustParse("invoke-all", invokeAll)
	tests := []struct {
		name       string
		identity   []*Policy
		guardrails []*Policy
		inv        Invocation
		allowed    []string
		denied     string // resource of the denial, when nothing is allowed
	}{
		{name: "documented global identity policy serves every global destination",
			identity: []*Policy{MustParse("global", awsGlobalIdentityPolicy)},
			inv:      globalInvocation("us-east-1", "us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"),
			allowed:  []string{"us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"}},
		{name: "documented global identity policy without the region-less statement is refused",
			identity: []*Policy{MustParse("global", strings.Replace(awsGlobalIdentityPolicy, `"arn:aws:bedrock:::foundation-model/`, `"arn:aws:bedrock:us-east-1::foundation-model/x`, 1))},
			inv:      globalInvocation("us-east-1", "us-east-1", "us-west-2"),
			denied:   "arn:aws:bedrock:::foundation-model/" + sonnet},
		{name: "documented global identity policy does not serve another source region",
			identity: []*Policy{MustParse("global", awsGlobalIdentityPolicy)},
			inv:      globalInvocation("us-west-2", "us-east-1", "us-west-2"),
			denied:   "arn:aws:bedrock:us-west-2:111122223333:inference-profile/global." + sonnet},
		{name: "disable-global SCP refuses global",
			identity:   []*Policy{allowAll},
			guardrails: []*Policy{scp(t, "disable-global", awsDisableGlobalSCP)},
			inv:        globalInvocation("us-east-1", "us-east-1", "eu-west-1"),
			denied:     "arn:aws:bedrock:::foundation-model/" + sonnet},
		{name: "disable-global SCP leaves geographic profiles alone",
			identity:   []*Policy{allowAll},
			guardrails: []*Policy{scp(t, "disable-global", awsDisableGlobalSCP)},
			inv:        geoInvocation("us", "us-east-1", "us-east-1", "us-east-2", "us-west-2"),
			allowed:    []string{"us-east-1", "us-east-2", "us-west-2"}},
		{name: "restrict-to-us SCP serves us.* everywhere in the US",
			identity:   []*Policy{allowAll},
			guardrails: []*Policy{scp(t, "us-only", restrictToUSSCP)},
			inv:        geoInvocation("us", "us-east-1", "us-east-1", "us-east-2", "us-west-2"),
			allowed:    []string{"us-east-1", "us-east-2", "us-west-2"}},
		{name: "restrict-to-us SCP refuses global at the region-less check",
			identity:   []*Policy{allowAll},
			guardrails: []*Policy{scp(t, "us-only", restrictToUSSCP)},
			inv:        globalInvocation("us-east-1", "us-east-1", "eu-west-1"),
			denied:     "arn:aws:bedrock:::foundation-model/" + sonnet},
		{name: "restrict-to-us SCP refuses eu.*",
			identity:   []*Policy{allowAll},
			guardrails: []*Policy{scp(t, "us-only", restrictToUSSCP)},
			inv:        geoInvocation("eu", "eu-west-1", "eu-west-1", "eu-central-1"),
			denied:     "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu." + sonnet},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := NewSet(tc.identity, tc.guardrails)
			res := s.AuthorizeInvoke(&tc.inv, NewContext(4), nil)
			if d := cmp.Diff(tc.allowed, allowedRegions(res)); d != "" {
				t.Errorf("allowed (-want +got):\n%s", d)
			}
			if tc.denied != "" {
				for _, r := range res {
					if r.Denial.Resource != tc.denied {
						t.Errorf("%s denial names %q, want %q", r.Region, r.Denial.Resource, tc.denied)
					}
				}
			}
			// The explanation agrees with the verdict and shows the
			// region-less check for a global profile.
			reps := s.ExplainInvoke(&tc.inv, NewContext(4))
			for i, rep := range reps {
				if rep.Decision != res[i].Result.Decision {
					t.Errorf("ExplainInvoke %s = %v, AuthorizeInvoke = %v", rep.Region, rep.Decision, res[i].Result.Decision)
				}
			}
		})
	}
}

// TestSimulateShowsRegionlessCheck: `policy simulate` prints the region-less
// check with aws:RequestedRegion "unspecified".
func TestSimulateShowsRegionlessCheck(t *testing.T) {
	t.Parallel()
	rep := SimulateInvoke(InvokeSimulation{Policies: []*Policy{MustParse("global", awsGlobalIdentityPolicy)},
		Invocation: globalInvocation("us-east-1", "us-east-1", "eu-west-1")})
	if d := cmp.Diff([]string{"us-east-1", "eu-west-1"}, rep.AllowedRegions); d != "" {
		t.Fatalf("allowed (-want +got):\n%s", d)
	}
	checks := rep.Destinations[1].Checks
	if len(checks) != 3 {
		t.Fatalf("checks = %+v, want profile, source model, region-less model", checks)
	}
	last := checks[2]
	if last.Resource != "arn:aws:bedrock:::foundation-model/"+sonnet || last.Context[KeyRequestedRegion] != "unspecified" ||
		last.Context[KeyInferenceProfileARN] == "" {
		t.Errorf("region-less check = %+v", last)
	}
	if _, ok := checks[0].Context[KeyInferenceProfileARN]; ok {
		t.Error("the profile check sets bedrock:InferenceProfileArn")
	}
	if txt := rep.Text(); !strings.Contains(txt, "arn:aws:bedrock:::foundation-model/"+sonnet) || !strings.Contains(txt, "unspecified") {
		t.Errorf("text does not show the region-less check:\n%s", txt)
	}
}

// TestSimulateAllDestinations: under authorization: all-destinations one
// denied destination fails the call, and the report names it.
func TestSimulateAllDestinations(t *testing.T) {
	t.Parallel()
	only := MustParse("us-east-1-only", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":["arn:aws:bedrock:*:111122223333:inference-profile/us.*","arn:aws:bedrock:us-east-1::foundation-model/*"]}]}`)
	inv := geoInvocation("us", "us-east-1", "us-east-1", "us-east-2")
	filter := SimulateInvoke(InvokeSimulation{Policies: []*Policy{only}, Invocation: inv})
	if d := cmp.Diff([]string{"us-east-1"}, filter.AllowedRegions); d != "" || filter.FailedBy != "" {
		t.Errorf("filter: allowed %v failedBy %q", filter.AllowedRegions, filter.FailedBy)
	}
	all := SimulateInvoke(InvokeSimulation{Policies: []*Policy{only}, Invocation: inv, AllDestinations: true})
	if len(all.AllowedRegions) != 0 || all.FailedBy != "us-east-2" || !strings.Contains(all.Text(), "us-east-2 is denied") {
		t.Errorf("all-destinations: allowed %v failedBy %q\n%s", all.AllowedRegions, all.FailedBy, all.Text())
	}
}
