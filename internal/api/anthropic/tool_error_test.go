package anthropic

import (
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/api/apitest"
	"github.com/meridian-gateway/meridian/internal/backend/backendtest"
	"github.com/meridian-gateway/meridian/internal/gateway/gatewaytest"
)

// TestFailedToolResultReachesOpenAIModel: through the real front end and
// gateway, a tool_result with is_error: true served by an OpenAI
// deployment reaches the model as a tool message whose content starts
// with the line "Error:" (Chat Completions tool messages have no error
// flag; docs/api.md), streamed and not; is_error: false sends the
// content as it is.
func TestFailedToolResultReachesOpenAIModel(t *testing.T) {
	t.Parallel()
	const key = "sk-test-anthropic-tool-error"
	url, got := backendtest.Model(t)
	srv := apitest.Serve(t, New(gatewaytest.OneRegion(t, key, backendtest.OpenAI(t, url)), Options{}))
	const conv = `"tools":[{"name":"f","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"go"},{"role":"assistant","content":[{"type":"tool_use","id":"tu_1","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu_1","content":"disk full",%s}]}]`
	for _, tc := range []struct {
		name, flag, want string
	}{
		{"is_error true", `"is_error":true`, `{"role":"tool","content":"Error:\ndisk full","tool_call_id":"tu_1"}`},
		{"is_error false", `"is_error":false`, `{"role":"tool","content":"disk full","tool_call_id":"tu_1"}`},
	} {
		for _, stream := range []string{"false", "true"} {
			t.Run(tc.name+"/stream="+stream, func(t *testing.T) {
				body := `{"model":"eu.m","max_tokens":64,"stream":` + stream + `,` + strings.Replace(conv, "%s", tc.flag, 1) + `}`
				resp, out := apitest.Post(t, srv.URL+"/v1/messages", body, "x-api-key", key)
				apitest.Forwarded(t, resp, out, got, []string{tc.want})
			})
		}
	}
}
