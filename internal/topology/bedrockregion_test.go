package topology

import "testing"

// TestAWSFamilyAndPrefix: the family of an AWS Region id, and the
// cross-Region prefix of a Bedrock model id, as the Bedrock residency
// check reads them (bedrockregion.go).
func TestAWSFamilyAndPrefix(t *testing.T) {
	families := []struct{ id, want string }{
		{"eu-central-1", "eu"}, {"us-east-1", "us"}, {"us-gov-west-1", "us-gov"}, {"ap-southeast-5", "ap"},
		{"il-central-1", "il"}, {"cn-north-1", "cn"}, {"cn-northwest-1", "cn"}, {"eusc-de-east-1", "eusc-de"}, {"us-gov-east-1", "us-gov"}, {"mx-central-1", "mx"}, {"ca-west-1", "ca"}, {"us-isob-east-1", "us-isob"},
		{"eu-ireland", ""}, {"fra", ""}, {"", ""}, {"EU-CENTRAL-1", ""}, {"eu-central-1a", ""}, {"vpce-0123-abcd", ""}, {"eusc-east-1", ""}, {"eusc-de-1", ""},
	}
	for _, tc := range families {
		if got := awsFamily(tc.id); got != tc.want {
			t.Errorf("awsFamily(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
	prefixes := []struct{ model, want string }{
		{"anthropic.claude-3-haiku-20240307-v1:0", ""}, {"us.anthropic.claude-3-haiku-20240307-v1:0", "us"},
		{"us-gov.anthropic.claude-3-haiku-20240307-v1:0", "us-gov"}, {"global.anthropic.claude-sonnet-4-5-20250929-v1:0", "global"},
		{"apac.amazon.nova-lite-v1:0", "apac"}, {"jp.x", "jp"}, {"au.x", "au"}, {"ca.x", "ca"}, {"eu.x", "eu"},
		{"amazon.nova-lite-v1:0", ""}, {"global", ""}, {"de.x", ""},
	}
	for _, tc := range prefixes {
		if got := crossRegionPrefix(tc.model); got != tc.want {
			t.Errorf("crossRegionPrefix(%q) = %q, want %q", tc.model, got, tc.want)
		}
	}
}
