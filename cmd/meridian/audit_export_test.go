package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/audit"
)

// TestAuditExportCloudTrail: `audit export --format cloudtrail` writes
// Bedrock-shaped records of a verified trail, and `audit query --metadata`
// finds events by their requestMetadata.
func TestAuditExportCloudTrail(t *testing.T) {
	root, keys := t.TempDir(), t.TempDir()
	priv, pub, err := audit.GenerateKey(filepath.Join(keys, "k"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := audit.Open(audit.Config{Dir: root, KeyFile: priv}, "us-east-1", audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*audit.Event{
		{EventID: "req-1", EventName: "Converse", SourceRegion: "us-east-1", InferenceRegion: "us-west-2", StatusCode: 200,
			RequestParameters: &audit.RequestParameters{ModelID: "us.m"}, RequestMetadata: map[string]string{"team": "claims"}},
		{EventID: "req-1", EventName: "Converse", Side: audit.SideDestination, SourceRegion: "us-east-1", InferenceRegion: "us-west-2", StatusCode: 200},
		{EventID: "req-2", EventName: "Converse", SourceRegion: "us-east-1", StatusCode: 403, ErrorCode: "permission_denied"},
	} {
		if err := w.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	out, stderr, err := runCLI(t, "audit", "export", root, "--format", "cloudtrail", "--account", "111122223333", "--public-key", pub)
	if err != nil {
		t.Fatalf("audit export = %v\n%s", err, stderr)
	}
	var file struct{ Records []map[string]any }
	if err := json.Unmarshal([]byte(out), &file); err != nil {
		t.Fatalf("not a CloudTrail log file: %v\n%s", err, out)
	}
	if len(file.Records) != 2 {
		t.Fatalf("%d records, want 2 (the destination side is not an API call)\n%s", len(file.Records), out)
	}
	r := file.Records[0]
	if r["awsRegion"] != "us-east-1" || r["additionalEventData"].(map[string]any)["inferenceRegion"] != "us-west-2" ||
		r["requestParameters"].(map[string]any)["modelId"] != "us.m" || r["recipientAccountId"] != "111122223333" {
		t.Errorf("record = %v", r)
	}
	if file.Records[1]["errorCode"] != "AccessDeniedException" {
		t.Errorf("denied record errorCode = %v", file.Records[1]["errorCode"])
	}

	if _, _, err := runCLI(t, "audit", "export", root, "--format", "csv", "--account", "111122223333"); err == nil {
		t.Error("--format csv accepted")
	}
	if _, _, err := runCLI(t, "audit", "export", root, "--format", "cloudtrail", "--public-key", pub); err == nil {
		t.Error("export without an account accepted")
	}

	out, _, err = runCLI(t, "audit", "query", root, "--metadata", "team=claims", "--output", "jsonl")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"requestMetadata":{"team":"claims"}`) {
		t.Errorf("audit query --metadata team=claims = %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "audit", "query", root, "--metadata", "nokey"); err == nil {
		t.Error("--metadata without '=' accepted")
	}
}
