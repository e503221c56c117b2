package bedrock

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// FuzzDecodeCountTokens: a CountTokens body from anyone never panics and
// yields a request (with the model) or a ValidationException-kind error.
func FuzzDecodeCountTokens(f *testing.F) {
	for _, s := range []string{
		`{"input":{"converse":{"messages":[{"role":"user","content":[{"text":"hi"}]}]}}}`,
		`{"input":{"invokeModel":{"body":"eyJtZXNzYWdlcyI6W119"}}}`,
		`{"input":{}}`, `{}`, `null`, `[]`, `{"input":{"converse":1}}`,
		`{"input":{"converse":{},"invokeModel":{"body":""}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeCountTokens("eu.demo.chat-small", body)
		if req == nil {
			t.Fatalf("nil request for %q", body)
		}
		if err != nil {
			if e, ok := err.(*inference.Error); !ok || e.Kind != inference.KindInvalidRequest {
				t.Fatalf("error %v (%T) for %q, want an invalid-request error", err, err, body)
			}
			return
		}
		_ = req.EstimatedInputTokens()
	})
}
