package openai

import (
	"bytes"
	"errors"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// FuzzDecodeChat: peeking at any body never panics; a body it accepts has a
// model, is kept byte for byte, and has a non-negative max_tokens and a
// positive token estimate; a body it refuses gets a 400 naming a field,
// with a bounded message.
func FuzzDecodeChat(f *testing.F) {
	for _, s := range []string{
		`{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"Hello"}]}`,
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}`,
		`{"model":"m","max_tokens":9223372036854775807,"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"m","max_completion_tokens":-1,"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"m","max_tokens":1e30,"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"m","stop":["a","b"],"temperature":0.5,"top_p":1,"seed":7,"n":1,"tools":[],"messages":[{"role":"developer","content":null}]}`,
		`{"model":"m","messages":[{"role":"tool","content":"x"}]}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, _, err := decodeChat(body)
		if err == nil {
			if req.Model == "" || !bytes.Equal(req.Body, body) || req.MaxTokens < 0 || req.EstimatedInputTokens() < 1 {
				t.Fatalf("accepted an invalid request: %+v", req)
			}
			return
		}
		var e *inference.Error
		if !errors.As(err, &e) || e.Kind != inference.KindInvalidRequest {
			t.Fatalf("error %v is not a 400", err)
		}
		if len(e.Message) > 1024 {
			t.Fatalf("message of %d bytes echoes the body", len(e.Message))
		}
	})
}
