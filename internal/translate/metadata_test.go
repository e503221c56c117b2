package translate_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestRequestMetadataPerTarget pins where request metadata goes in each
// translation: OpenAI metadata becomes Converse requestMetadata (the same
// meaning: labels for invocation logs); Converse requestMetadata is not
// sent to OpenAI (Chat Completions takes metadata only with store: true,
// which would keep the conversation at the provider; Meridian's audit
// events keep it); towards Anthropic, whose metadata holds only a user id,
// it is refused with the member named.
func TestRequestMetadataPerTarget(t *testing.T) {
	t.Parallel()
	const (
		openaiBody   = `{"model":"m","messages":[{"role":"user","content":"hi"}],"metadata":{"team":"claims"}}`
		converseBody = `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"requestMetadata":{"team":"claims"}}`
	)
	tests := []struct {
		name         string
		from, to     translate.Dialect
		body         string
		want         string // member of the translated body, "" for none
		wantRefusal  string
		mustNotCarry string
	}{
		{"OpenAI to Converse", translate.OpenAI, translate.Converse, openaiBody, `"requestMetadata":{"team":"claims"}`, "", ""},
		{"Converse to OpenAI", translate.Converse, translate.OpenAI, converseBody, "", "", `"metadata"`},
		{"Converse to Anthropic", translate.Converse, translate.Anthropic, converseBody, "", "requestMetadata", ""},
		{"OpenAI to Anthropic", translate.OpenAI, translate.Anthropic, openaiBody, "", "metadata", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := translate.Request(tc.from, tc.to, []byte(tc.body), "m", false, translate.Options{})
			if tc.wantRefusal != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantRefusal) {
					t.Fatalf("translated to %s (%v), want a refusal naming %s", out, err, tc.wantRefusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(out) || (tc.want != "" && !strings.Contains(string(out), tc.want)) ||
				(tc.mustNotCarry != "" && strings.Contains(string(out), tc.mustNotCarry)) {
				t.Errorf("translated body %s; want %q, not %q", out, tc.want, tc.mustNotCarry)
			}
		})
	}
}
