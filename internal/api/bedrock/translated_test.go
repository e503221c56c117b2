package bedrock_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/api/bedrock"
	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/gateway/gatewaytest"
	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// TestTranslatedMembersReachTheModelOrAreRefused: through the real Bedrock
// front end and gateway, a Converse or InvokeModel (Anthropic) body served
// by an OpenAI deployment (the simulated model) either reaches the model
// with each member in its Chat Completions form, or is refused with a
// ValidationException whose message starts with the member's path, before
// any call to the model, in a bounded body.
func TestTranslatedMembersReachTheModelOrAreRefused(t *testing.T) {
	t.Parallel()
	got := make(chan []byte, 1)
	model := mockllm.New(mockllm.Config{Received: func(_ string, body []byte) {
		select {
		case got <- body:
		default:
		}
	}})
	up := httptest.NewServer(model.Handler())
	t.Cleanup(up.Close)
	b := backend.NewOpenAI(backend.OpenAIConfig{BaseURL: up.URL + "/v1", Model: "up"})
	t.Cleanup(func() { b.Close() })
	const key = "sk-test-bedrock-translated"
	mux := http.NewServeMux()
	bedrock.New(gatewaytest.OneRegion(t, key, b), bedrock.Options{DataDir: t.TempDir()}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	const (
		user    = `"messages":[{"role":"user","content":[{"text":"hi"}]}]`
		invoke  = `"anthropic_version":"bedrock-2023-05-31","max_tokens":16`
		cvTools = `"messages":[{"role":"user","content":[{"text":"hi"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"f","input":{}}}]},{"role":"user","content":[{"toolResult":`
	)
	tests := []struct {
		name, op, body string
		field          string   // the refused member, or "" when served
		want           []string // substrings of the body the model receives
	}{
		{name: "Converse members carried", op: "converse",
			body: `{` + user + `,"requestMetadata":{"team":"a"},"inferenceConfig":{"maxTokens":20,"stopSequences":["END"]},"outputConfig":{"textFormat":{"type":"json_schema","structure":{"jsonSchema":{"schema":"{\"type\":\"object\"}","name":"p","description":"A person"}}}}}`,
			want: []string{`"metadata":{"team":"a"}`, `"stop":["END"]`, `"max_completion_tokens":20`, `"name":"p"`, `"description":"A person"`}},
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
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/model/eu.m/"+tc.op, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.field == "" {
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %.300s", resp.StatusCode, out)
				}
				sent := string(<-got)
				for _, w := range tc.want {
					if !strings.Contains(sent, w) {
						t.Errorf("model received %s, lacking %s", sent, w)
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
			if len(out) > 1024 {
				t.Errorf("error body of %d bytes echoes the request: %.200s", len(out), out)
			}
			select {
			case sent := <-got:
				t.Errorf("refused request reached the model: %.200s", sent)
			default:
			}
		})
	}
}
