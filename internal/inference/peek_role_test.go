package inference

import (
	"errors"
	"strings"
	"testing"
)

// TestPeekMessageRoles: a Converse body may hold messages of role system
// (toolAddition and toolRemoval blocks, bedrockruntime's
// ConversationRoleSystem), which the peek lets through, body untouched, for
// a deployment that takes Converse to carry and a translation to refuse by
// name; any other role is refused naming the message. An Anthropic
// Messages body has no system role (its system prompt is a member), so
// there the role stays refused. The canonical form has no system message
// that changes tools: it refuses the role by name.
func TestPeekMessageRoles(t *testing.T) {
	t.Parallel()
	const tools = `"toolConfig":{"tools":[{"toolSpec":{"name":"get","inputSchema":{"json":{"type":"object"}}}}]}`
	tests := []struct {
		name   string
		d      Dialect
		body   string
		refuse string // the refused field, "" when accepted
	}{
		{"converse system toolAddition", DialectConverse, `{` + tools + `,"messages":[{"role":"user","content":[{"text":"hi"}]},` +
			`{"role":"system","content":[{"toolAddition":{"tool":{"name":"get"}}}]},{"role":"user","content":[{"text":"go"}]}]}`, ""},
		{"converse system toolRemoval", DialectConverse, `{"messages":[{"role":"user","content":[{"text":"hi"}]},` +
			`{"role":"system","content":[{"toolRemoval":{"tool":{"name":"get"}}}]},{"role":"user","content":[{"text":"go"}]}]}`, ""},
		{"converse user and assistant", DialectConverse, `{"messages":[{"role":"user","content":[{"text":"hi"}]},{"role":"assistant","content":[{"text":"yo"}]}]}`, ""},
		{"converse unknown role", DialectConverse, `{"messages":[{"role":"tool","content":[{"text":"hi"}]}]}`, "messages[0].role"},
		{"converse system without content", DialectConverse, `{"messages":[{"role":"user","content":[{"text":"hi"}]},{"role":"system","content":[]}]}`, "messages[1].content"},
		{"anthropic system role", DialectAnthropic, `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"system","content":"x"}]}`, "messages[0].role"},
	}
	for _, tc := range tests {
		for _, stream := range []bool{false, true} {
			req, err := Peek(tc.d, "m", []byte(tc.body), stream)
			if tc.refuse != "" {
				var e *Error
				if !errors.As(err, &e) || e.Kind != KindInvalidRequest || e.Param != tc.refuse {
					t.Errorf("%s (stream %v): error %v, want a 400 naming %s", tc.name, stream, err, tc.refuse)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s (stream %v): %v", tc.name, stream, err)
				continue
			}
			if string(req.Body) != tc.body {
				t.Errorf("%s: body changed", tc.name)
			}
			if strings.Contains(tc.body, `"system"`) && !strings.Contains(tc.body, "toolConfig") {
				_, err := req.Canonical(DialectConverse)
				var e *Error
				if !errors.As(err, &e) || e.Param != "messages[1].role" {
					t.Errorf("%s: canonical form: %v, want a refusal naming messages[1].role", tc.name, err)
				}
			}
		}
	}
}
