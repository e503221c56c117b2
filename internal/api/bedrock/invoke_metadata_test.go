package bedrock

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestInvokeRequestMetadata: InvokeModel's X-Amzn-Bedrock-Request-Metadata
// header (a JSON object, for filtering invocation logs) travels on the
// request, as Converse's requestMetadata does, for the audit trail and the
// model (internal/node/requestmetadata_test.go follows it there); one that
// is not an object of strings within Bedrock's limits is refused with a 400
// naming the header.
func TestInvokeRequestMetadata(t *testing.T) {
	t.Parallel()
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`)
	decode := func(header string) (map[string]string, error) {
		r := httptest.NewRequest(http.MethodPost, "/model/eu.m/invoke", nil)
		r.Header.Set("Content-Type", "application/json")
		if header != "" {
			r.Header.Set("X-Amzn-Bedrock-Request-Metadata", header)
		}
		req, err := decodeInvoke(r)("eu.m", body, false)
		return req.Metadata, err
	}
	got, err := decode(`{"team":"claims","ticket":"CLM-42"}`)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"team": "claims", "ticket": "CLM-42"}, got); d != "" {
		t.Errorf("metadata (-want +got):\n%s", d)
	}
	for _, bad := range []string{`not json`, `["a"]`, `{"k":1}`, `{"k;":"v"}`, `{"k":"` + strings.Repeat("v", 257) + `"}`, strings.Repeat("x", 64<<10)} {
		_, err := decode(bad)
		if err == nil || !strings.Contains(err.Error(), "X-Amzn-Bedrock-Request-Metadata") || len(err.Error()) > 1024 {
			t.Errorf("header %.40s: %.200v, want a bounded 400 naming the header", bad, err)
		}
	}
}

// FuzzInvokeMetadata: whatever the header holds, invokeMetadata returns
// metadata within Bedrock's limits or a bounded 400 naming the header.
func FuzzInvokeMetadata(f *testing.F) {
	for _, s := range []string{`{"team":"claims"}`, `{}`, `null`, `[]`, `{"k":1}`, `{"k;":"v"}`, `{"a":"b","a":"c"}`, `"x"`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		h.Set("X-Amzn-Bedrock-Request-Metadata", v)
		m, err := invokeMetadata(h)
		if err != nil {
			if !strings.Contains(err.Error(), "X-Amzn-Bedrock-Request-Metadata") || len(err.Error()) > 1024 {
				t.Fatalf("error %.200q does not name the header or is unbounded", err)
			}
			return
		}
		if h.Get("X-Amzn-Bedrock-Request-Metadata") != "" && m == nil || inference.ValidateMetadata(m) != nil {
			t.Fatalf("accepted metadata %v", m)
		}
	})
}
