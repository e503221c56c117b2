package policy

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSetKeysDocumented: the table of docs/policies.md "The request
// context" lists exactly the keys of SetKeys, the one list the load check
// uses.
func TestSetKeysDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## The request context\n")
	if !ok {
		t.Fatal("docs/policies.md has no section \"The request context\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var documented []string
	cell := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.SplitN(line, "|", 3)[1]
		for _, m := range cell.FindAllStringSubmatch(first, -1) {
			documented = append(documented, m[1])
		}
	}
	want := SetKeys()
	slices.Sort(want)
	slices.Sort(documented)
	if !slices.Equal(want, documented) {
		t.Errorf("docs/policies.md documents\n%q\nSetKeys is\n%q", documented, want)
	}
}

// TestCheckSetKey: keys Meridian sets pass in any case, tag keys need a
// tag name, and an unknown key of an owned namespace is refused with the
// nearest key when it is a typo of one.
func TestCheckSetKey(t *testing.T) {
	for _, tc := range []struct {
		key, want string // want: "" to pass, else a substring of the error
	}{
		{"aws:PrincipalArn", ""},
		{"AWS:principalarn", ""},
		{"aws:PrincipalTag/team", ""},
		{"aws:ResourceTag/a/b", ""},
		{"meridian:SourceRegion", ""},
		{"s3:prefix", ""}, // another namespace: Policy.CheckKeys, not Parse
		{"x:n", ""},
		{"aws:PrincipalTag/", "never set"},
		{"aws:SourceIpp", "Did you mean aws:SourceIp?"},
		{"aws:PrincipalOrgID", "never set"},
		{"bedrock:InferenceProfileArm", "Did you mean bedrock:InferenceProfileArn?"},
		{"Bedrock:GuardrailIdentifier", "never set"},
		{"meridian:Region", "never set"},
		{"aws:PrincipalTags/team", "Did you mean aws:PrincipalTag/team?"},
	} {
		err := checkSetKey(tc.key)
		if tc.want == "" {
			if err != nil {
				t.Errorf("checkSetKey(%q) = %v, want nil", tc.key, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkSetKey(%q) = %v, want an error containing %q", tc.key, err, tc.want)
		}
	}
}
