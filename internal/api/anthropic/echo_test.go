package anthropic

import (
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/api/apitest"
	"github.com/meridian-gateway/meridian/internal/backend/backendtest"
	"github.com/meridian-gateway/meridian/internal/gateway/gatewaytest"
)

// TestEchoedAnswerReachesTheModel: through the real front end and gateway,
// a conversation whose assistant turn is an earlier answer as the Anthropic
// SDKs send it back (text with citations, a tool_use with a direct caller)
// is served by an OpenAI deployment, the answer's text reaching the model;
// citations on a user turn are refused naming them.
func TestEchoedAnswerReachesTheModel(t *testing.T) {
	t.Parallel()
	const key = "sk-test-anthropic-echo"
	url, got := backendtest.Model(t)
	srv := apitest.Serve(t, New(gatewaytest.OneRegion(t, key, backendtest.OpenAI(t, url)), Options{}))

	const cite = `{"type":"char_location","cited_text":"blue","document_index":0,"document_title":"Sky","start_char_index":11,"end_char_index":15,"file_id":null}`
	tests := []struct {
		name, body, field string
		want              []string
	}{
		{name: "cited answer",
			body: `{"model":"eu.m","max_tokens":64,"messages":[{"role":"user","content":"colour?"},{"role":"assistant","content":[{"type":"text","text":"The sky is blue.","citations":[` + cite + `]}]},{"role":"user","content":"why?"}]}`,
			want: []string{`{"role":"assistant","content":"The sky is blue."}`}},
		{name: "direct tool caller",
			body: `{"model":"eu.m","max_tokens":64,"tools":[{"name":"f","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"go"},{"role":"assistant","content":[{"type":"tool_use","id":"tu_1","name":"f","input":{},"caller":{"type":"direct"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu_1","content":"done"}]}]}`,
			want: []string{`"tool_call_id":"tu_1"`}},
		{name: "citations on a user turn",
			body:  `{"model":"eu.m","max_tokens":64,"messages":[{"role":"user","content":[{"type":"text","text":"x","citations":[` + cite + `]}]}]}`,
			field: "messages[0].content[0].citations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := apitest.Post(t, srv.URL+"/v1/messages", tc.body, "x-api-key", key)
			if tc.field != "" {
				if resp.StatusCode != 400 || !strings.Contains(string(out), tc.field) {
					t.Fatalf("status %d %.300s, want a 400 naming %s", resp.StatusCode, out, tc.field)
				}
				return
			}
			apitest.Forwarded(t, resp, out, got, tc.want)
		})
	}
}
