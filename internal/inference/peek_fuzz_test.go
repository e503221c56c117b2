package inference

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzPeek: peeking at any body in any dialect never panics; a body it
// accepts is kept byte for byte with a non-negative max tokens and a
// positive estimate; a body it refuses gets a 400 with a bounded message.
func FuzzPeek(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,"}}]}],"tools":[{"type":"function"}],"n":2,"logprobs":true}`,
		`{"messages":[{"role":"user","content":[{"text":"hi"},{"image":{"format":"png","source":{"bytes":""}}},{"cachePoint":{"type":"default"}}]}],"toolConfig":{"tools":[]},"inferenceConfig":{"maxTokens":5}}`,
		`{"anthropic_version":"2023-06-01","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{}},{"type":"text","text":"x","cache_control":{"type":"ephemeral"}}]}],"thinking":{"type":"enabled"}}`,
		`{"messages":[{"role":"user","content":[{"text":"hi"}]},{"role":"system","content":[{"toolAddition":{"tool":{"name":"get"}}}]}]}`,
		`{"prompt":"hi","max_gen_len":5}`, `{"inputText":"hi","textGenerationConfig":{"maxTokenCount":-1}}`,
		`[]`, `null`, `{`, ``, `{"model":1}`,
	} {
		for d := DialectOpenAIChat; d <= DialectInvoke; d++ {
			f.Add(uint8(d), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, d uint8, body []byte) {
		dialect := Dialect(d%4 + 1)
		req, err := Peek(dialect, "m", body, false)
		if req == nil {
			t.Fatal("nil request")
		}
		if err == nil {
			if !bytes.Equal(req.Body, body) || req.MaxTokens < 0 || req.EstimatedInputTokens() < 1 {
				t.Fatalf("accepted %s as %+v", body, req)
			}
			for _, ft := range req.Features.List() {
				if req.FeatureField(ft) == "" {
					t.Fatalf("feature %s without a field", ft)
				}
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindInvalidRequest {
			t.Fatalf("error %v is not a 400", err)
		}
		if len(e.Message) > 1024 || len(e.Param) > 512 {
			t.Fatalf("message of %d bytes echoes the body", len(e.Message))
		}
	})
}

// FuzzAppendSetField: setting a top-level field of a JSON object keeps it
// valid JSON with the field set, and every other member as it was.
func FuzzAppendSetField(f *testing.F) {
	for _, s := range []string{`{}`, `{"model":"a"}`, ` { "a" : [1,{"model":2}], "model" : "x" } `, `{"b":"\"model\":"}`, `[1]`, `"s"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out := AppendSetString(nil, body, "model", "up\"stream")
		var in, got map[string]json.RawMessage
		if json.Unmarshal(body, &in) != nil || in == nil {
			return
		}
		if err := json.Unmarshal(out, &got); err != nil {
			// Duplicate keys: encoding/json keeps the last, the scanner
			// edits the first. Either way the output must be valid JSON.
			if !json.Valid(out) {
				t.Fatalf("AppendSetString(%s) = %s, invalid JSON", body, out)
			}
			return
		}
		var model string
		if v := Field(out, "model"); json.Unmarshal(v, &model) != nil || model != "up\"stream" {
			t.Fatalf("AppendSetString(%s) = %s: model not set", body, out)
		}
		for k, v := range in {
			if k != "model" && !bytes.Equal(bytes.TrimSpace(got[k]), bytes.TrimSpace(v)) && countKey(body, k) == 1 {
				t.Fatalf("AppendSetString(%s) changed member %q", body, k)
			}
		}
	})
}

func countKey(body []byte, k string) int {
	q, _ := json.Marshal(k)
	return bytes.Count(body, q)
}
