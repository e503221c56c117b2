package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestExportCloudTrailUnsealedTail: events after the newest digest, which
// `audit verify` reports UNVERIFIED without --allow-unsealed, refuse the
// export the same way unless AllowUnsealed accepts them.
func TestExportCloudTrailUnsealedTail(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w := openTest(t, root, newFakeClock(), nil)
	appendN(t, w, 0, 3)
	// w stays open: its events are on disk, and no digest covers them yet.
	defer w.Close()
	acct := CloudTrailAccount{Account: "111122223333"}
	var out bytes.Buffer
	_, err := ExportCloudTrail(root, Filter{}, &out, ExportOptions{Account: acct, Keys: testKeys(t, root)})
	if err == nil || !strings.Contains(err.Error(), "UNVERIFIED") || !strings.Contains(err.Error(), "--allow-unsealed") {
		t.Fatalf("export of an unsealed tail = %v, want a refusal naming --allow-unsealed", err)
	}
	if out.Len() != 0 {
		t.Error("a refused export wrote output")
	}
	n, err := ExportCloudTrail(root, Filter{}, &out, ExportOptions{Account: acct, Keys: testKeys(t, root), AllowUnsealed: true})
	if err != nil || n != 3 {
		t.Fatalf("export with AllowUnsealed = %d, %v; want 3 records", n, err)
	}
}

// TestCloudTrailLeavesOutMeridianOperations: calls of Meridian's own
// endpoints are no Bedrock API call and are not exported as
// bedrock.amazonaws.com records.
func TestCloudTrailLeavesOutMeridianOperations(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"GetMetrics", "GetRegions", "StreamLive", "GetRequest", "OperateRegion", "Redirect", "UnknownOperation"} {
		e := testEvent(1)
		e.EventName = name
		if r, ok := CloudTrailRecordOf(e, CloudTrailAccount{Account: "111122223333"}); ok {
			b, _ := json.Marshal(r)
			t.Errorf("%s exported as a Bedrock call: %s", name, b)
		}
	}
	e := testEvent(1)
	e.EventName = "Converse"
	if _, ok := CloudTrailRecordOf(e, CloudTrailAccount{Account: "111122223333"}); !ok {
		t.Error("a Converse call not exported")
	}
}
