package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fieldPaths lists the dotted paths of every member of a JSON object, e.g.
// "additionalEventData.inferenceRegion".
func fieldPaths(prefix string, v any, out map[string]bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, sub := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		out[p] = true
		fieldPaths(p, sub, out)
	}
}

// TestCloudTrailMatchesBedrockSample: the exported record uses AWS's field
// names for everything SIEM rules key on, and every field it writes is one
// Bedrock's sample has, except the documented Meridian additions.
func TestCloudTrailMatchesBedrockSample(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/cloudtrail/bedrock-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	var sample any
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	fieldPaths("", sample, want)

	e := testEvent(1)
	e.EventName, e.SourceRegion, e.InferenceRegion = "InvokeModel", "us-east-1", "us-west-2"
	e.RequestParameters = &RequestParameters{ModelID: "us.anthropic.claude-3-haiku-20240307-v1:0"}
	e.UserIdentity.AccessKeyID = "AKIAMERIDIANEXAMPLE"
	e.RequestMetadata = map[string]string{"team": "claims"}
	e.TraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	e.Hash = strings.Repeat("ab", 32)
	r, ok := CloudTrailRecordOf(e, CloudTrailAccount{Account: "111122223333"})
	if !ok {
		t.Fatal("no record for a source event")
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	fieldPaths("", got, have)

	// The fields of the issue, by AWS's names.
	for _, f := range []string{"eventVersion", "userIdentity", "userIdentity.type", "userIdentity.principalId", "userIdentity.arn",
		"userIdentity.accountId", "userIdentity.accessKeyId", "eventTime", "eventSource", "eventName", "awsRegion",
		"sourceIPAddress", "userAgent", "requestParameters", "requestParameters.modelId", "responseElements",
		"additionalEventData", "additionalEventData.inferenceRegion", "requestID", "eventID", "readOnly", "eventType", "recipientAccountId"} {
		if !want[f] {
			t.Errorf("test bug: %s is not in AWS's sample", f)
		}
		if !have[f] {
			t.Errorf("the export lacks %s", f)
		}
	}
	// Meridian's additions: documented in docs/bedrock.md.
	extra := []string{"userIdentity.userName", "requestParameters.requestMetadata", "requestParameters.requestMetadata.team",
		"additionalEventData.usage", "additionalEventData.usage.inputTokens", "additionalEventData.usage.outputTokens",
		"additionalEventData.meridianRouteReason", "additionalEventData.meridianTraceId", "errorCode", "errorMessage"}
	for f := range have {
		if !want[f] && !slices.Contains(extra, f) {
			t.Errorf("the export writes %s, which Bedrock's sample does not have", f)
		}
	}
	m := got.(map[string]any)
	for k, v := range map[string]any{"eventSource": "bedrock.amazonaws.com", "eventType": "AwsApiCall", "awsRegion": "us-east-1",
		"recipientAccountId": "111122223333", "eventTime": "2026-11-25T09:00:01Z", "requestID": e.EventID,
		"eventID": "abababab-abab-abab-abab-abababababab", "responseElements": nil} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if got := m["additionalEventData"].(map[string]any)["inferenceRegion"]; got != "us-west-2" {
		t.Errorf("additionalEventData.inferenceRegion = %v", got)
	}
	if got := m["additionalEventData"].(map[string]any)["meridianTraceId"]; got != e.TraceID {
		t.Errorf("additionalEventData.meridianTraceId = %v, want the event's traceId", got)
	}
	if got := m["requestParameters"].(map[string]any)["modelId"]; got != "us.anthropic.claude-3-haiku-20240307-v1:0" {
		t.Errorf("requestParameters.modelId = %v, want what the caller sent", got)
	}
}

func TestCloudTrailRecordOf(t *testing.T) {
	t.Parallel()
	dst := testEvent(2)
	dst.Side = SideDestination
	if _, ok := CloudTrailRecordOf(dst, CloudTrailAccount{}); ok {
		t.Error("a destination-side event exported: Bedrock records the call once, in the source region")
	}
	gap := &Event{EventName: GapEventName, Gap: &Gap{}}
	if _, ok := CloudTrailRecordOf(gap, CloudTrailAccount{}); ok {
		t.Error("a gap marker exported as an API call")
	}
	local := testEvent(5)
	local.SourceRegion, local.InferenceRegion = "eu-west-1", "eu-west-1"
	if r, _ := CloudTrailRecordOf(local, CloudTrailAccount{}); r.AdditionalEventData != nil && r.AdditionalEventData.InferenceRegion != "" {
		t.Errorf("a call served in its source region has inferenceRegion %q; Bedrock omits it", r.AdditionalEventData.InferenceRegion)
	}
	denied := testEvent(4)
	denied.StatusCode, denied.ErrorCode, denied.Decision = 403, "permission_denied", Decision{Reason: "not authorized"}
	r, _ := CloudTrailRecordOf(denied, CloudTrailAccount{})
	if r.ErrorCode != "AccessDeniedException" || r.ErrorMessage != "not authorized" {
		t.Errorf("denied: errorCode %q, errorMessage %q", r.ErrorCode, r.ErrorMessage)
	}
}

// TestExportCloudTrail: a verified trail is exported as a CloudTrail log
// file; a tampered one is refused unless the caller accepts it unverified.
func TestExportCloudTrail(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w := openTest(t, root, newFakeClock(), nil)
	appendN(t, w, 0, 3)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := ExportCloudTrail(root, Filter{}, &out, ExportOptions{Account: CloudTrailAccount{Account: "111122223333"}, Keys: testKeys(t, root)})
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Records []map[string]any }
	if err := json.Unmarshal(out.Bytes(), &file); err != nil {
		t.Fatalf("export is not a CloudTrail log file: %v\n%s", err, out.String())
	}
	if n != 3 || len(file.Records) != 3 {
		t.Fatalf("exported %d (%d records), want 3", n, len(file.Records))
	}

	// Tamper with a line: refused, then exported with Unverified.
	tamper(t, root)
	out.Reset()
	if _, err := ExportCloudTrail(root, Filter{}, &out, ExportOptions{Keys: testKeys(t, root)}); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("export of a tampered trail = %v, want refusal", err)
	}
	if out.Len() != 0 {
		t.Error("a refused export wrote output")
	}
	if _, err := ExportCloudTrail(root, Filter{}, &out, ExportOptions{Unverified: true}); err != nil {
		t.Fatalf("export with Unverified = %v", err)
	}
}

func testKeys(t *testing.T, root string) []ed25519.PublicKey {
	t.Helper()
	k, err := ReadPublicKey(filepath.Join(root, DefaultKeyName+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	return []ed25519.PublicKey{k}
}

// tamper edits one byte of the first event line it finds under root.
func tamper(t *testing.T, root string) {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(root, "*", "audit-*.jsonl"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no log under %s: %v", root, err)
	}
	ls := readLines(t, logs[0])
	ls[0] = strings.Replace(ls[0], `"curl/8.5.0"`, `"curl/8.5.1"`, 1)
	writeLines(t, logs[0], ls)
}
