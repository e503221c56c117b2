package bedrock_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/api/apitest"
	"github.com/meridian-gateway/meridian/internal/api/bedrock"
	"github.com/meridian-gateway/meridian/internal/backend/backendtest"
	"github.com/meridian-gateway/meridian/internal/gateway/gatewaytest"
)

// TestTranslatedMembersReachTheModelOrAreRefused: through the real Bedrock
// front end and gateway, a Converse or InvokeModel (Anthropic) body served
// by an OpenAI deployment (the simulated model) either reaches the model
// with each member in its Chat Completions form, or is refused with a
// ValidationException whose message starts with the member's path, before
// any call to the model, in a bounded body.
func TestTranslatedMembersReachTheModelOrAreRefused(t *testing.T) {
	t.Parallel()
	url, got := backendtest.Model(t)
	const key = "sk-test-bedrock-translated"
	srv := apitest.Serve(t, bedrock.New(gatewaytest.OneRegion(t, key, backendtest.OpenAI(t, url)), bedrock.Options{DataDir: t.TempDir()}))

	const (
		user    = `"messages":[{"role":"user","content":[{"text":"hi"}]}]`
		invoke  = `"anthropic_version":"bedrock-2023-05-31","max_tokens":16`
		cvTools = `"messages":[{"role":"user","content":[{"text":"hi"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"f","input":{}}}]},{"role":"user","content":[{"toolResult":`
	)
	tests := []struct {
		name, op, body string
		field          string   // the refused member, or "" when served
		want           []string // substrings of the body the model receives
		absent         []string // substrings it must not receive
	}{
		// requestMetadata is audited, not sent: Chat Completions takes
		// metadata only with store: true (docs/api.md).
		{name: "Converse members carried", op: "converse",
			body:   `{` + user + `,"requestMetadata":{"team":"a"},"inferenceConfig":{"maxTokens":20,"stopSequences":["END"]},"outputConfig":{"textFormat":{"type":"json_schema","structure":{"jsonSchema":{"schema":"{\"type\":\"object\"}","name":"p","description":"A person"}}}}}`,
			want:   []string{`"stop":["END"]`, `"max_completion_tokens":20`, `"name":"p"`, `"description":"A person"`},
			absent: []string{`"metadata"`, `"store"`}},
		{name: "Converse toolResult type", op: "converse",
			body: `{` + cvTools + `{"toolUseId":"t","type":"tool_search_result","content":[{"text":"r"}]}}]}]}`, field: "messages[2].content[0].toolResult.type"},
		{name: "Converse guardrailConfig", op: "converse", body: `{` + user + `,"guardrailConfig":{"guardrailIdentifier":"g","guardrailVersion":"1"}}`, field: "guardrailConfig"},
		{name: "InvokeModel members carried", op: "invoke",
			body: `{` + invoke + `,"stop_sequences":["END"],"metadata":{"user_id":"u-1"},"messages":[{"role":"user","content":"hi"}]}`,
			want: []string{`"stop":["END"]`, `"user":"u-1"`, `"max_completion_tokens":16`}},
		{name: "InvokeModel stray member", op: "invoke",
			body: `{` + invoke + `,"messages":[{"role":"user","content":[{"type":"text","text":"hi","signature":"c2ln"}]}]}`, field: "messages[0].content[0].signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := apitest.Post(t, srv.URL+"/model/eu.m/"+tc.op, tc.body, "Authorization", "Bearer "+key)
			if tc.field == "" {
				sent := make(chan []byte, 1)
				apitest.Forwarded(t, resp, out, tee(got, sent), tc.want)
				if len(tc.absent) > 0 {
					b := <-sent
					for _, a := range tc.absent {
						if strings.Contains(string(b), a) {
							t.Errorf("upstream received %s, with %s", b, a)
						}
					}
				}
				return
			}
			var e struct{ Message string }
			if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "ValidationException" || json.Unmarshal(out, &e) != nil {
				t.Fatalf("status %d type %q %.300s, want a 400 ValidationException", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), out)
			}
			if !strings.HasPrefix(e.Message, tc.field+": ") {
				t.Errorf("message %.200q does not start with %s", e.Message, tc.field)
			}
			apitest.Withheld(t, out, got)
		})
	}
}

// tee returns a channel that yields got's next body and copies it to
// copyTo.
func tee(got <-chan []byte, copyTo chan<- []byte) <-chan []byte {
	out := make(chan []byte, 1)
	go func() {
		b := <-got
		copyTo <- b
		out <- b
	}()
	return out
}
