package bedrock

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConverseRequestMetadata: Converse requestMetadata within Bedrock's
// limits travels on the request (for the audit trail); outside them it is
// refused with 400 naming the field.
func TestConverseRequestMetadata(t *testing.T) {
	t.Parallel()
	msgs := `"messages":[{"role":"user","content":[{"text":"hi"}]}]`
	req, err := peekConverse("us.m", []byte(`{`+msgs+`,"requestMetadata":{"team":"claims","ticket":"CLM-42"}}`), false)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"team": "claims", "ticket": "CLM-42"}, req.Metadata); d != "" {
		t.Errorf("metadata (-want +got):\n%s", d)
	}
	for _, bad := range []string{`{"k;":"v"}`, `{"k":"` + strings.Repeat("v", 257) + `"}`, `{"":"v"}`} {
		_, err := peekConverse("us.m", []byte(`{`+msgs+`,"requestMetadata":`+bad+`}`), false)
		if err == nil || !strings.Contains(err.Error(), "requestMetadata") {
			t.Errorf("requestMetadata %.40s: %v, want a 400 naming requestMetadata", bad, err)
		}
	}
}
