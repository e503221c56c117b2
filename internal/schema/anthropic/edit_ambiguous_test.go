package anthropic_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// TestToBedrockBodyAmbiguous: a /v1/messages body naming a member the edit
// reads, removes or sets (model, stream, anthropic_version, anthropic_beta)
// twice in any spelling, or once with an escape or in another case, is
// refused naming it rather than edited in one copy (a "Model" or "Stream"
// would have reached the upstream beside the edit).
func TestToBedrockBodyAmbiguous(t *testing.T) {
	t.Parallel()
	const rest = `"max_tokens":10,"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct{ body, member string }{
		{`{"model":"a",` + rest + `,"model":"b"}`, "model"},
		{`{"model":"a",` + rest + `,"Model":"b"}`, "model"},
		{`{"mod\u0065l":"a",` + rest + `}`, "model"},
		{`{"model":"a",` + rest + `,"stream":false,"Stream":true}`, "stream"},
		{`{"model":"a",` + rest + `,"STREAM":true}`, "stream"},
		{`{"model":"a",` + rest + `,"Anthropic_Version":"x"}`, "anthropic_version"},
		{`{"model":"a",` + rest + `,"anthropic_bet\u0061":["b"]}`, "anthropic_beta"},
	} {
		_, err := anthropic.ToBedrockBody([]byte(tc.body))
		var ae *jsonx.AmbiguousError
		if !errors.As(err, &ae) || ae.Member != tc.member {
			t.Errorf("ToBedrockBody(%s) = %v; want an AmbiguousError naming %s", tc.body, err, tc.member)
		}
	}
}

// FuzzToBedrockBody: whatever ToBedrockBody returns for a JSON object
// names neither model nor stream in any spelling, and anthropic_version
// once, exactly, as Bedrock reads it; the members it did not edit are
// unchanged.
func FuzzToBedrockBody(f *testing.F) {
	for _, s := range []string{
		`{"model":"a","max_tokens":10,"messages":[],"stream":true}`,
		`{"model":"a","Model":"b"}`,
		`{"mod\u0065l":"a","x":{"model":1}}`,
		`{"anthropic_version":"v","ANTHROPIC_VERSION":"w"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := anthropic.ToBedrockBody(body)
		if err != nil || !json.Valid(body) || len(bytes.TrimSpace(body)) == 0 || bytes.TrimSpace(body)[0] != '{' {
			return
		}
		if name, _ := jsonx.Ambiguous(out, "anthropic_version"); name != "" {
			t.Fatalf("ToBedrockBody(%s) = %s: anthropic_version ambiguous", body, out)
		}
		var in, got map[string]json.RawMessage
		if json.Unmarshal(body, &in) != nil {
			return
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("ToBedrockBody(%s) = %s, not an object: %v", body, out, err)
		}
		for k := range got {
			if bytes.EqualFold([]byte(k), []byte("model")) || bytes.EqualFold([]byte(k), []byte("stream")) {
				t.Fatalf("ToBedrockBody(%s) = %s still names %q", body, out, k)
			}
		}
		if _, ok := got["anthropic_version"]; !ok {
			t.Fatalf("ToBedrockBody(%s) = %s without anthropic_version", body, out)
		}
		for k, v := range in {
			if k == "model" || k == "stream" || k == "anthropic_version" {
				continue
			}
			if ok, _ := jsonx.Equivalent(v, got[k]); !ok {
				t.Fatalf("ToBedrockBody(%s) = %s changed %q", body, out, k)
			}
		}
	})
}
