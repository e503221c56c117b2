package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestProfilesListPerSource: `profiles list` prints one row per source
// region, with the destinations a call from that region may reach.
func TestProfilesListPerSource(t *testing.T) {
	const cfg = "../../internal/profile/testdata/persource.yaml"
	out, stderr, err := runCLI(t, "profiles", "list", "--config", cfg, "--output", "json")
	if err != nil {
		t.Fatalf("profiles list = %v\n%s", err, stderr)
	}
	var rows []profileRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, r := range rows {
		if strings.HasPrefix(r.ID, "us.") || strings.HasPrefix(r.ID, "us-gov.") {
			got[r.ID[:strings.IndexByte(r.ID, '.')]+" "+r.Source] = r.Destinations
		}
	}
	for k, want := range map[string][]string{
		"us us-east-2":         {"us-east-1", "us-east-2", "us-west-2"},
		"us us-west-2":         {"us-east-1", "us-west-2"},
		"us ca-central-1":      {"ca-central-1", "us-east-1", "us-east-2", "us-west-2"},
		"us-gov us-gov-east-1": {"us-gov-west-1"},
	} {
		if !slices.Equal(got[k], want) {
			t.Errorf("%s: destinations %v, want %v", k, got[k], want)
		}
	}
	out, _, err = runCLI(t, "profiles", "list", "--config", cfg, "--region", "us-west-2")
	if err != nil || !strings.Contains(out, "us-west-2") || !strings.Contains(out, "SOURCE REGION") {
		t.Errorf("profiles list --region us-west-2 = %v\n%s", err, out)
	}
}
