package interregion

import (
	"bytes"
	"errors"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// FuzzRequestOf: whatever a peer sends as a forwarded body (after its
// envelope verified), the destination's reading of it never panics, keeps a
// client body byte for byte, and refuses with a 400 of bounded size.
func FuzzRequestOf(f *testing.F) {
	f.Add(ContentTypeClientBody+"; dialect=openai-chat", "ChatCompletions", []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	f.Add(ContentTypeClientBody+"; dialect=bedrock-converse", "", []byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`))
	f.Add(ContentTypeClientBody, "InvokeModelWithResponseStream", []byte(`{"prompt":"hi","max_gen_len":5}`))
	f.Add("application/json", "Converse", []byte(`{"model":"m","messages":[{"role":"user","content":[{"text":"hi"}]}]}`))
	f.Fuzz(func(t *testing.T, contentType, op string, body []byte) {
		req, err := requestOf(contentType, op, "eu.m", "m", body)
		if err != nil {
			var e *inference.Error
			if !errors.As(err, &e) || e.Kind != inference.KindInvalidRequest || len(e.Message) > 2048 {
				t.Fatalf("error %v", err)
			}
			return
		}
		if req.Body != nil && !bytes.Equal(req.Body, body) {
			t.Fatal("the client body was changed")
		}
	})
}
